"""preflight: each request checked against its model's facts before money is spent (fakes, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from batchdrop.domain.models import ModelFacts, ModelsUnavailable
from batchdrop.domain.preflight import RequestNeeds, check_request
from batchdrop.usecases.submit.preflight import ModelCatalogue
from tests.unit.test_models import api_model


class FakeModelsApi:
    """The Models API port with a fixed catalogue; counts the calls; fails on cue."""

    def __init__(self, *models: dict[str, Any], down: bool = False) -> None:
        self.catalogue = {m["id"]: ModelFacts.from_api(m) for m in models}
        self.down = down
        self.retrieved: list[str] = []
        self.listed = 0

    def model(self, model_id: str) -> ModelFacts | None:
        self.retrieved.append(model_id)
        if self.down:
            raise ModelsUnavailable("connection refused")
        return self.catalogue.get(model_id)

    def models(self) -> list[ModelFacts]:
        self.listed += 1
        if self.down:
            raise ModelsUnavailable("connection refused")
        return list(self.catalogue.values())


NO = {"supported": False}
YES = {"supported": True}
TEXT_ONLY = {
    "batch": YES,
    "citations": NO,
    "image_input": NO,
    "pdf_input": NO,
    "structured_outputs": NO,
    "effort": {"supported": False, "low": NO, "medium": NO, "high": NO, "max": NO},
    "thinking": {
        "supported": False,
        "types": {"adaptive": NO, "enabled": NO, "disabled": YES, "between_tools": NO},
    },
}
API = FakeModelsApi(
    api_model(
        "claude-sonnet-4-5",
        lifecycle="retired",
        display_name="Claude Sonnet 4.5",
        retires_at="2026-11-30T00:00:00Z",
    ),
    api_model(
        "claude-sonnet-4-6",
        lifecycle="deprecated",
        retires_at="2027-03-01T00:00:00Z",
        created_at="2026-02-01T00:00:00Z",
    ),
    api_model(
        "claude-sonnet-5-5",
        display_name="Claude Sonnet 5.5",
        created_at="2026-09-01T00:00:00Z",
        max_tokens=64_000,
    ),
    api_model("claude-haiku-5-5", line="haiku", created_at="2026-10-07T00:00:00Z"),
    api_model("claude-plain", line=None, capabilities=TEXT_ONLY, max_tokens=4096),
    api_model("claude-online", line=None, capabilities={**TEXT_ONLY, "batch": NO}),
)


def _params(model: str = "claude-sonnet-5-5", content: Any = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": content}], **extra}


PDF = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
SCHEMA = {"format": {"type": "json_schema", "schema": {"type": "object", "additionalProperties": False}}}


def test_a_request_its_model_can_serve_passes() -> None:
    verdict = check_request(
        _params(content=[PDF, IMAGE], output_config={**SCHEMA, "effort": "high"}), ModelCatalogue(API)
    )
    assert verdict.refused == () and verdict.retires_at is None


def test_a_retired_model_is_refused_naming_it_and_its_replacement() -> None:
    (reason,) = check_request(_params("claude-sonnet-4-5"), ModelCatalogue(API)).refused
    assert reason == (
        "model claude-sonnet-4-5 (Claude Sonnet 4.5) was retired on 2026-11-30: requests naming it fail, so "
        'nothing was sent; set "model" in the profile (or the document\'s x-amz-meta-batchdrop-model) to '
        "claude-sonnet-5-5 (Claude Sonnet 5.5), the newest of its line"
    )


def test_an_unknown_model_is_refused_offering_the_current_ones() -> None:
    (reason,) = check_request(_params("claude-sonet-5-5"), ModelCatalogue(API)).refused
    assert reason.startswith("model 'claude-sonet-5-5' does not exist (the Models API does not know it)")
    assert reason.endswith(
        "to a current model: claude-haiku-5-5, claude-sonnet-5-5, claude-online, claude-plain"
    )


def test_a_deprecated_model_is_submitted_with_its_retirement_date() -> None:
    verdict = check_request(_params("claude-sonnet-4-6"), ModelCatalogue(API))
    assert verdict.refused == () and verdict.retires_at == "2027-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (_params("claude-plain", [PDF]), "claude-plain cannot read PDFs"),
        (_params("claude-plain", [IMAGE]), "claude-plain cannot read images"),
        (_params("claude-plain", output_config=SCHEMA), "claude-plain does not support structured outputs"),
        (
            _params("claude-plain", output_config={"effort": "low"}),
            "effort 'low' is not available on claude-plain; it takes no effort setting: leave effort out",
        ),
        (
            _params(output_config={"effort": "xhigh"}),
            "effort 'xhigh' is not available on claude-sonnet-5-5; it offers low, medium, high, max",
        ),
        (
            _params("claude-plain", thinking={"type": "adaptive"}),
            "thinking type 'adaptive' is not accepted by claude-plain; it accepts disabled",
        ),
        (
            {**_params(), "max_tokens": 100_000},
            "max_tokens 100,000 is more than claude-sonnet-5-5 allows (64,000); set max_tokens to 64,000 or less",
        ),
        (_params("claude-online"), "model claude-online does not take Message Batches requests"),
        (
            _params(
                "claude-plain",
                [
                    {
                        **PDF,
                        "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                        "citations": {"enabled": True},
                    }
                ],
            ),
            "claude-plain does not support citations",
        ),
    ],
)
def test_what_the_model_cannot_do_is_refused_with_a_clear_reason(params: dict[str, Any], reason: str) -> None:
    refused = check_request(params, ModelCatalogue(API)).refused
    assert any(reason in r for r in refused), refused


def test_manual_thinking_is_refused_once_by_the_rule_on_new_models_and_by_the_facts_elsewhere() -> None:
    enabled = {"type": "enabled", "budget_tokens": 2048}
    (by_rule,) = check_request(_params(thinking=enabled), ModelCatalogue(API)).refused
    assert by_rule.startswith('"thinking.type.enabled" is not supported for claude-sonnet-5-5')
    # claude-plain is no 4.7+ id, so only its facts can tell it takes no manual thinking
    (by_facts,) = check_request(_params("claude-plain", thinking=enabled), ModelCatalogue(API)).refused
    assert by_facts == "thinking type 'enabled' is not accepted by claude-plain; it accepts disabled"


def test_each_model_is_fetched_once_and_the_list_only_for_a_replacement() -> None:
    api = FakeModelsApi(
        *[api_model(m.id, line=m.line, lifecycle=m.lifecycle) for m in API.catalogue.values()]
    )
    catalogue = ModelCatalogue(api)
    for _ in range(3):
        check_request(_params(), catalogue)
        check_request(_params("claude-haiku-5-5"), catalogue)
    assert api.retrieved == ["claude-sonnet-5-5", "claude-haiku-5-5"] and api.listed == 0
    check_request(_params("claude-sonnet-4-5"), catalogue)
    check_request(_params("claude-sonnet-4-5"), catalogue)
    assert api.listed == 1


def test_when_the_models_api_is_down_the_version_rules_still_apply_and_it_is_asked_once() -> None:
    # Given a Models API that cannot be reached (after the SDK's retries)
    api = FakeModelsApi(down=True)
    catalogue = ModelCatalogue(api)
    # When requests are checked, then those within the rules pass and the rest are refused anyway
    assert check_request(_params("claude-sonnet-4-5"), catalogue).refused == ()
    assert check_request(_params(temperature=0), catalogue).refused[0].startswith("temperature: Extra inputs")
    # and the API is not asked again within the invocation; the reason is kept
    assert api.retrieved == ["claude-sonnet-4-5"]
    assert catalogue.unavailable == "connection refused"


def test_a_404_counts_as_no_such_model_only_when_the_catalogue_can_be_listed() -> None:
    # Given an endpoint without a Models API: every model 404s and so does the list
    class NoModelsApi(FakeModelsApi):
        def models(self) -> list[ModelFacts]:
            self.listed += 1
            raise ModelsUnavailable("the Models API could not list the models: 404")

    catalogue = ModelCatalogue(NoModelsApi())
    # When a request is checked, then it is not refused for an unknown model: preflight is skipped
    assert check_request(_params("claude-haiku-5-5"), catalogue).refused == ()
    assert catalogue.unavailable is not None and "404" in catalogue.unavailable


def test_without_a_catalogue_only_the_version_rules_apply() -> None:
    assert check_request(_params("no-such-model"), None).refused == ()
    assert (
        check_request(_params(top_k=5), None).refused[0].startswith("top_k: Extra inputs are not permitted")
    )


def test_the_needs_are_read_from_the_params() -> None:
    needs = RequestNeeds.of(
        _params(
            content=[PDF, IMAGE], output_config={**SCHEMA, "effort": "max"}, thinking={"type": "adaptive"}
        )
    )
    assert needs == RequestNeeds(
        model="claude-sonnet-5-5",
        max_tokens=1024,
        pdf=True,
        image=True,
        citations=False,
        structured_output=True,
        effort="max",
        thinking="adaptive",
    )
