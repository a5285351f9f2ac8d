"""request_lists: .jsonl files of ready-made requests, line by line."""

from __future__ import annotations

import json

import pytest

from batchdrop.domain import estimate
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey, parse_inbox_key
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import ProfileCatalog
from batchdrop.domain.request_lists import ListedError, ListedRequest, parse_request_list
from batchdrop.settings import DefaultProfileSettings

DEFAULTS = DefaultProfileSettings(
    model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise.", system_prompt=""
)
CATALOG = ProfileCatalog.from_files(
    DEFAULTS,
    {
        "profiles/extract.json": b'{"model": "claude-sonnet-4-6", "output_format": "json", "system_prompt": "S."}'
    },
)


def _doc(key: str = "inbox/default/batch/questions.jsonl") -> InboxKey:
    doc = parse_inbox_key(key)
    assert doc is not None
    return doc


def _parse(*lines: object) -> list[ListedRequest | ListedError]:
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines).encode()
    return list(parse_request_list(_doc(), body, CATALOG))


def test_shorthand_line_uses_the_folder_profile() -> None:
    (request,) = _parse({"id": "q1", "prompt": "What is 2+2?"})
    assert isinstance(request, ListedRequest)
    assert request.params == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}],
    }
    assert request.result_key == "results/default/batch/questions.jsonl/q1.md"
    assert request.error_key == "results/default/batch/questions.jsonl/q1.error.json"


def test_shorthand_line_may_name_profile_model_tokens_and_system() -> None:
    (request,) = _parse(
        {
            "id": "q2",
            "prompt": "Extract.",
            "profile": "extract",
            "model": "claude-opus-4-5",
            "max_tokens": 99,
            "system": "Be terse.",
        }
    )
    assert isinstance(request, ListedRequest)
    assert request.params["model"] == "claude-opus-4-5"
    assert request.params["max_tokens"] == 99
    assert request.params["system"].startswith("Be terse.")
    assert request.result_key == "results/extract/batch/questions.jsonl/q2.json"


def test_full_params_line_is_sent_as_given_with_profile_gaps_filled() -> None:
    params = {"messages": [{"role": "user", "content": "Hi"}], "output_config": {"effort": "low"}}
    (request,) = _parse({"id": "raw-1", "params": params})
    assert isinstance(request, ListedRequest)
    assert request.params == {"model": "claude-haiku-4-5", "max_tokens": 1024, **params}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            {"id": "t", "params": {"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3}},
            "line 1 (t): temperature: Extra inputs are not permitted (temperature: removed in Claude API "
            "version 2026-10-21",
        ),
        ({"id": "p", "prompt": "Hi", "top_p": 0.9}, "line 1 (p): top_p: removed in Claude API version"),
        (
            {
                "id": "d",
                "params": {
                    "messages": [
                        {"role": "user", "content": "Read this."},
                        {
                            "role": "assistant",
                            "content": [
                                {
                                    "type": "document",
                                    "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                                }
                            ],
                        },
                    ]
                },
            },
            "messages.1.content.0: document blocks are not permitted in assistant messages",
        ),
        (
            {
                "id": "c",
                "params": {
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": "x", "citations": [{"type": "char_location"}]}
                            ],
                        }
                    ]
                },
            },
            "messages.0.content.0.citations: citations are not permitted on text blocks in user messages",
        ),
        (
            {
                "id": "s",
                "params": {
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {
                                    "type": "search_result",
                                    "source": "s",
                                    "title": "t",
                                    "content": [
                                        {
                                            "type": "text",
                                            "text": "x",
                                            "citations": [{"type": "char_location"}],
                                        }
                                    ],
                                }
                            ],
                        }
                    ]
                },
            },
            "messages.0.content.0.content.0.citations: citations are not permitted",
        ),
        (
            {
                "id": "k",
                "params": {
                    "model": "claude-opus-4-7",
                    "thinking": {"type": "enabled", "budget_tokens": 2048},
                    "messages": [{"role": "user", "content": "x"}],
                },
            },
            '"thinking.type.enabled" is not supported for claude-opus-4-7',
        ),
        (
            {"id": "f", "params": {"speed": "fast", "messages": [{"role": "user", "content": "x"}]}},
            "speed: not supported in Message Batches requests",
        ),
    ],
)
def test_a_line_the_api_version_would_refuse_gets_its_own_error(line: dict, reason: str) -> None:
    # Given a line that API version 2026-10-21 refuses, when the list is read,
    # then that line is an error with the API's reason (instead of an errored result hours later)
    (parsed,) = _parse(line)
    assert isinstance(parsed, ListedError)
    assert reason in parsed.reason


def test_a_bad_line_yields_an_error_for_that_line_only() -> None:
    lines = _parse(
        {"id": "ok", "prompt": "Fine."},
        "{not json",
        ["a", "list"],
        {"prompt": "no id"},
        {"id": "bad id!", "prompt": "x"},
        {"id": "ok", "prompt": "duplicate"},
        {"id": "np", "profile": "nope", "prompt": "x"},
        {"id": "nop"},
        {"id": "st", "params": {"messages": [{"role": "user", "content": "x"}], "stream": True}},
        {"id": "em", "params": {"messages": []}},
        {"id": "xx", "prompt": "x", "colour": "red"},
        {"id": "mt", "prompt": "x", "max_tokens": 0},
        "",
        {"id": "last", "prompt": "Also fine."},
    )
    assert [(type(x).__name__, x.item) for x in lines] == [
        ("ListedRequest", "ok"),
        ("ListedError", "line-2"),
        ("ListedError", "line-3"),
        ("ListedError", "line-4"),
        ("ListedError", "line-5"),
        ("ListedError", "line-6"),
        ("ListedError", "np"),
        ("ListedError", "nop"),
        ("ListedError", "st"),
        ("ListedError", "em"),
        ("ListedError", "xx"),
        ("ListedError", "mt"),
        ("ListedRequest", "last"),
    ]
    reasons = {x.item: x.reason for x in lines if isinstance(x, ListedError)}
    assert reasons["line-2"].startswith("line 2 is not valid JSON")
    assert reasons["line-3"] == "line 3 must be a JSON object"
    assert "repeats the id 'ok'" in reasons["line-6"]
    assert reasons["np"] == "line 7 (np): no profile named 'nope'; profiles are: default, extract"
    assert 'non-empty "prompt"' in reasons["nop"]
    assert '"stream" is not allowed' in reasons["st"]
    assert 'non-empty "messages"' in reasons["em"]
    assert "unknown field(s) ['colour']" in reasons["xx"]
    assert '"max_tokens" must be a whole number' in reasons["mt"]
    errors = [x for x in lines if isinstance(x, ListedError)]
    assert errors[0].error_key == "results/default/batch/questions.jsonl/line-2.error.json"


@pytest.mark.parametrize(
    ("body", "message"), [(b"", "has no lines"), (b"\n \n", "has no lines"), (b"\xff\xfe", "not UTF-8")]
)
def test_an_unreadable_list_is_rejected_as_a_whole(body: bytes, message: str) -> None:
    with pytest.raises(DocumentRejected, match=message):
        list(parse_request_list(_doc(), body, CATALOG))


def _messages(content: object, role: str = "user") -> dict[str, object]:
    return {"messages": [{"role": role, "content": content}]}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {**_messages("hi"), "max_tokens": "lots"},
            '"params.max_tokens" must be a whole number from 1 to 128,000, not "lots"',
        ),
        (
            {**_messages("hi"), "max_tokens": 0},
            '"params.max_tokens" must be a whole number from 1 to 128,000, not 0',
        ),
        ({**_messages("hi"), "max_tokens": 128_001}, "not 128001"),
        ({**_messages("hi"), "max_tokens": True}, "not true"),
        ({**_messages("hi"), "max_tokens": 10.5}, "not 10.5"),
        ({**_messages("hi"), "model": 5}, '"params.model" must be a model name, not 5'),
        ({**_messages("hi"), "model": " "}, '"params.model" must be a model name, not " "'),
        (_messages(5), '"params.messages[0]".content must be a string or a list of content blocks, not 5'),
        (_messages(None), "content must be a string or a list of content blocks, not null"),
        (
            _messages(["hi"]),
            '"params.messages[0]".content[0] must be a content block (an object with a "type"), not "hi"',
        ),
        (_messages([{"text": "no type"}]), "content[0] must be a content block"),
        (
            _messages("hi", role="system"),
            '"params.messages[0]".role must be "user" or "assistant", not "system"',
        ),
        ({"messages": ["hi"]}, '"params.messages[0]" must be an object with "role" and "content", not "hi"'),
        ({"messages": "hi"}, 'needs a non-empty "messages" list'),
        ({"messages": {"role": "user"}}, 'needs a non-empty "messages" list'),
        (
            {**_messages("hi"), "system": ["x"]},
            '"params.system" must be a string or a list of {"type": "text"',
        ),
        ({**_messages("hi"), "system": [{"type": "image"}]}, '"params.system" must be a string'),
        ({**_messages("hi"), "system": 3}, "not 3"),
    ],
)
def test_a_malformed_params_line_is_that_lines_error(params: dict[str, object], reason: str) -> None:
    # Given a malformed line between two good ones
    first, bad, last = _parse(
        {"id": "a", "prompt": "x"}, {"id": "bad", "params": params}, {"id": "z", "prompt": "y"}
    )
    # Then the bad line is its own error with a clear reason, and the lines around it go on
    assert isinstance(first, ListedRequest) and isinstance(last, ListedRequest)
    assert isinstance(bad, ListedError)
    assert bad.reason.startswith("line 2 (bad): ")
    assert reason in bad.reason
    assert bad.error_key == "results/default/batch/questions.jsonl/bad.error.json"


def test_well_formed_params_of_every_shape_are_accepted_and_estimated() -> None:
    # Given full params that use every shape the checks allow
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 128_000,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "More?"},
        ],
    }
    (request,) = _parse({"id": "ok", "params": params})
    assert isinstance(request, ListedRequest)
    assert request.params == params
    # Then the estimate of what was accepted is a number and its cost is known
    assert estimate.input_tokens(request.params) > estimate.REQUEST_OVERHEAD_TOKENS
    assert estimate.request_cost(PriceTable.bundled(), request.params, 10) is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"id": "n", "prompt": ' + "1" * 5000 + "}", "line 1 cannot be read: Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "line 1 cannot be read: it is nested too deeply"),
    ],
)
def test_json_that_python_refuses_to_parse_is_that_lines_error(raw: str, reason: str) -> None:
    bad, last = _parse(raw, {"id": "z", "prompt": "y"})
    assert isinstance(bad, ListedError) and reason in bad.reason
    assert isinstance(last, ListedRequest)


# ---------------------------------------------------------------- a line's model under a Bedrock profile

BEDROCK_MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
OTHER_BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ON_BEDROCK = ProfileCatalog.from_files(
    DEFAULTS, {"profiles/onbedrock.yaml": f"backend: bedrock\nbedrock_model: {BEDROCK_MODEL}\n".encode()}
)
HI = [{"role": "user", "content": "Hi"}]


def _parse_on_bedrock(*lines: dict[str, object]) -> list[ListedRequest | ListedError]:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    return list(parse_request_list(_doc("inbox/onbedrock/batch/questions.jsonl"), body, ON_BEDROCK))


@pytest.mark.parametrize(
    ("line", "field", "named"),
    [
        ({"id": "p", "params": {"model": OTHER_BEDROCK_MODEL, "messages": HI}}, '"params.model"', OTHER_BEDROCK_MODEL),
        # The Claude API's name of a model is not the Bedrock id either: still another model.
        ({"id": "p", "params": {"model": "claude-haiku-4-5", "messages": HI}}, '"params.model"', "claude-haiku-4-5"),
        ({"id": "p", "prompt": "Hi", "model": OTHER_BEDROCK_MODEL}, '"model"', OTHER_BEDROCK_MODEL),
    ],
)  # fmt: skip
def test_a_line_naming_another_model_than_the_bedrock_profiles_is_that_lines_error(
    line: dict[str, object], field: str, named: str
) -> None:
    # Given a Bedrock profile (its job runs bedrock_model; a Bedrock record names no model) and a
    # line of its list naming another model, beside a line naming none
    parsed = _parse_on_bedrock(line, {"id": "fine", "prompt": "Hello."})

    # Then that line gets an error naming both models, and is sent to neither
    rejected, accepted = parsed
    assert isinstance(rejected, ListedError) and isinstance(accepted, ListedRequest)
    assert rejected.reason == (
        f"line 1 (p): {field} is \"{named}\", but profile 'onbedrock' runs on Amazon Bedrock with "
        f'bedrock_model "{BEDROCK_MODEL}", and a Bedrock job runs that model only: leave the model '
        f'out of the line, or name "{BEDROCK_MODEL}"'
    )
    assert rejected.error_key == "results/onbedrock/batch/questions.jsonl/p.error.json"
    # And the other line goes to the profile's model
    assert accepted.params["model"] == BEDROCK_MODEL


@pytest.mark.parametrize(
    "line",
    [
        {"id": "p", "params": {"model": BEDROCK_MODEL, "messages": HI}},
        {"id": "p", "params": {"messages": HI}},
        {"id": "p", "prompt": "Hi", "model": BEDROCK_MODEL},
        {"id": "p", "prompt": "Hi"},
    ],
)
def test_a_line_naming_the_bedrock_profiles_model_or_none_runs_on_it(line: dict[str, object]) -> None:
    (parsed,) = _parse_on_bedrock(line)
    assert isinstance(parsed, ListedRequest)
    assert parsed.params["model"] == BEDROCK_MODEL
    assert parsed.profile.backend == "bedrock"


def test_on_the_claude_api_a_line_still_names_any_model() -> None:
    # The rule is Bedrock's (one model per job): a Claude API batch mixes models.
    (parsed,) = _parse({"id": "p", "params": {"model": "claude-opus-4-5", "messages": HI}})
    assert isinstance(parsed, ListedRequest)
    assert parsed.params["model"] == "claude-opus-4-5"
