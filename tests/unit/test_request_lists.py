"""request_lists: .jsonl files of ready-made requests, line by line."""

from __future__ import annotations

import json

import pytest

from batchdrop.config import DefaultProfileSettings
from batchdrop.documents import DocumentRejected, InboxKey, parse_inbox_key
from batchdrop.profiles import ProfileCatalog
from batchdrop.request_lists import ListedError, ListedRequest, parse_request_list

DEFAULTS = DefaultProfileSettings(
    model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise.", system_prompt=""
)
CATALOG = ProfileCatalog.from_files(
    DEFAULTS,
    {
        "profiles/extract.json": b'{"model": "claude-sonnet-4-5", "output_format": "json", "system_prompt": "S."}'
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
    params = {"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3}
    (request,) = _parse({"id": "raw-1", "params": params})
    assert isinstance(request, ListedRequest)
    assert request.params == {"model": "claude-haiku-4-5", "max_tokens": 1024, **params}


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
