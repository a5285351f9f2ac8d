"""Preflight of a window: each pending request checked (domain.preflight) before money is spent,
against the Models API's facts, asked once per model and invocation (ModelCatalogue)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.models import ModelFacts, ModelsUnavailable
from batchdrop.domain.preflight import SKIPPED, check_bedrock_request, check_request
from batchdrop.observability import logger
from batchdrop.ports.batches import ModelsApi
from batchdrop.usecases.submit.values import PendingRequest


@dataclass
class ModelCatalogue:
    """What the Models API said during one invocation. Once it could not be reached it is not
    asked again: ``unavailable`` holds why, and the catalogue checks are skipped."""

    api: ModelsApi
    unavailable: str | None = None
    _facts: dict[str, ModelFacts | None] = field(default_factory=dict)
    _all: list[ModelFacts] | None = None

    def facts(self, model_id: str) -> ModelFacts | None:
        """The model's facts; None when it does not exist. Raises ModelsUnavailable.

        A 404 for one model counts as "no such model" only when the catalogue itself can be
        listed: an endpoint without a Models API (a proxy, an older emulator) answers 404 too,
        and must not turn every model into an unknown one."""
        if self.unavailable is not None:
            raise ModelsUnavailable(self.unavailable)
        if model_id not in self._facts:
            try:
                facts = self.api.model(model_id)
                if facts is None and self._all is None:
                    self._all = self.api.models()
            except ModelsUnavailable as exc:
                self.unavailable = str(exc) or type(exc).__name__
                raise
            self._facts[model_id] = facts
        return self._facts[model_id]

    def all(self) -> list[ModelFacts]:
        """Every model (for replacements); empty when the list cannot be had."""
        if self._all is None:
            try:
                self._all = self.api.models()
            except ModelsUnavailable:
                self._all = []
        return self._all


def preflight(
    pending: list[PendingRequest], catalogue: ModelCatalogue | None
) -> tuple[list[PendingRequest], list[tuple[ManifestEntry, str]], str | None]:
    """Refuse, before anything is sent, each pending request the API would refuse (the version
    rules, and its model's facts from ``catalogue``); mark those sent to a deprecated model
    with its retirement date. Returns the requests kept, those refused (with why), and
    "skipped" when the Models API could not be reached.

    Without the Models API the version rules are still checked and the window is submitted:
    a request the catalogue would have refused then ends ``errored`` with the API's reason
    (only succeeded requests are billed), whereas holding the window back would stop all
    work for as long as the Models API is out, even where the batches API is fine."""
    kept: list[PendingRequest] = []
    refused: list[tuple[ManifestEntry, str]] = []
    for request in pending:
        if request.backend == "anthropic":
            verdict = check_request(request.request["params"], catalogue)
        else:
            # A Bedrock model id is no Claude API model: no Models API check, nor the Claude
            # API's version rules (domain.preflight.check_bedrock_request says why).
            verdict = check_bedrock_request(request.request["params"])
        if verdict.refused:
            refused.append((request.entry, "; ".join(verdict.refused)))
        elif verdict.retires_at:
            entry = replace(request.entry, model_retires_at=verdict.retires_at)
            kept.append(replace(request, entry=entry))
        else:
            kept.append(request)
    if catalogue is not None and catalogue.unavailable is not None:
        logger.warning(
            "preflight skipped the model checks: the Models API could not be reached",
            extra={"reason": catalogue.unavailable},
        )
        return kept, refused, SKIPPED
    return kept, refused, None
