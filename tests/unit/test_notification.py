"""domain.notification: what the SNS notification of a completed job says (from its typed Summary)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.notification import notification_message, notification_subject
from batchdrop.domain.summary import Summary

JOB = "20261125T090000Z-0a1b2c3d"


def _summary(succeeded: int, documents: int, *, errors: int = 0) -> dict[str, Any]:
    return {
        "job_id": JOB,
        "batch_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "status": "completed",
        "documents": documents,
        "counts": {
            "succeeded": succeeded,
            "errored": documents - succeeded,
            "expired": 0,
            "canceled": 0,
            "rejected": 0,
            "missing": 0,
        },
        "documents_by_profile": {"default": documents},
        "tokens": {
            "input": 100,
            "output": 50,
            "thinking": 0,
            "cache_write_5m": 0,
            "cache_write_1h": 0,
            "cache_read": 0,
        },
        "cost": {
            "currency": "USD",
            "complete": True,
            "unknown_price_models": [],
            "batch": 0.0125,
            "standard": 0.025,
            "savings": 0.0125,
        },
        "errors": [
            {
                "document": f"inbox/default/{n}.txt",
                "type": "api_error",
                "message": "boom",
                "error_key": f"results/default/{n}.txt.error.json",
            }
            for n in range(errors)
        ],
        "errors_truncated": False,
        "results_prefixes": ["results/default/", "results/extract/"],
        "summary_key": f"jobs/{JOB}/summary.json",
    }


def _store() -> DocumentStore:
    return DocumentStore(s3=cast(Any, None), bucket="b")


def subject_of(summary: dict[str, Any]) -> str:
    """The subject of a summary.json as Complete reads it back (Summary.from_json)."""
    return notification_subject(Summary.from_json(summary))


def message_of(summary: dict[str, Any]) -> dict[str, Any]:
    return notification_message(Summary.from_json(summary), _store().uri)


@pytest.mark.parametrize(
    ("succeeded", "documents", "expected"),
    [
        (5, 5, f"batchdrop job {JOB}: 5 of 5 documents answered"),
        (3, 5, f"batchdrop job {JOB}: 3 of 5 documents answered, 2 failed"),
        (0, 2, f"batchdrop job {JOB}: 0 of 2 documents answered, 2 failed"),
        (0, 0, f"batchdrop job {JOB}: 0 of 0 documents answered"),
    ],
)
def test_notification_subject(succeeded: int, documents: int, expected: str) -> None:
    assert subject_of(_summary(succeeded, documents)) == expected


def test_notification_subject_fits_sns_limit() -> None:
    # SNS subjects are at most 100 characters.
    assert len(subject_of(_summary(99_999, 100_000))) <= 100


def test_notification_message() -> None:
    summary = _summary(3, 5, errors=2)
    assert message_of(summary) == {
        "job_id": JOB,
        "batch_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "status": "completed",
        "attempt": 1,
        "retried_in": None,
        "cancel_requested_at": None,
        "results_archived": None,
        "not_submitted": None,
        "documents": 5,
        "counts": summary["counts"],
        "tokens": summary["tokens"],
        "cost": {"currency": "USD", "batch": 0.0125, "standard": 0.025, "savings": 0.0125, "complete": True},
        "results": ["s3://b/results/default/", "s3://b/results/extract/"],
        "summary": f"s3://b/jobs/{JOB}/summary.json",
        "documents_table": None,
        "workflow": None,
        "errors": summary["errors"],
        "deprecated_models": [],
    }


def test_notification_links_the_documents_table() -> None:
    summary = {**_summary(1, 1), "documents_key": f"jobs/{JOB}/documents.jsonl"}
    assert message_of(summary)["documents_table"] == f"s3://b/jobs/{JOB}/documents.jsonl"


def test_notification_names_each_deprecated_model_and_its_retirement() -> None:
    # Given a job whose extract and invoices profiles used a model deprecated at submit
    deprecated = [
        {
            "model": "claude-opus-4-6",
            "retires_at": "2027-02-01T00:00:00Z",
            "profiles": ["extract", "invoices"],
            "documents": 3,
        },
        {
            "model": "claude-haiku-4-5",
            "retires_at": "2027-05-01T00:00:00Z",
            "profiles": ["default"],
            "documents": 1,
        },
    ]
    summary = {**_summary(4, 4), "deprecated_models": deprecated}

    message = message_of(summary)

    # Then the message names each model, its retirement date and what to do; the subject marks it
    assert [(m["model"], m["retires_at"], m["documents"]) for m in message["deprecated_models"]] == [
        ("claude-opus-4-6", "2027-02-01T00:00:00Z", 3),
        ("claude-haiku-4-5", "2027-05-01T00:00:00Z", 1),
    ]
    assert message["deprecated_models"][0]["warning"] == (
        "claude-opus-4-6 is deprecated and retires on 2027-02-01: move profiles extract, invoices "
        "to a current model before then"
    )
    assert message["deprecated_models"][1]["warning"].startswith(
        "claude-haiku-4-5 is deprecated and retires on 2027-05-01: move profile default "
    )
    assert subject_of(summary) == f"batchdrop job {JOB} (deprecated model): 4 of 4 documents answered"


def test_subject_says_canceled_and_retried() -> None:
    summary = {**_summary(3, 6, errors=1), "cancel_requested_at": "2026-11-25T10:00:00Z"}
    summary["counts"] = {**summary["counts"], "retried": 2}
    assert (
        subject_of(summary)
        == f"batchdrop job {JOB} (canceled): 3 of 6 documents answered, 1 failed, 2 retried"
    )


def test_notification_message_keeps_first_ten_errors() -> None:
    summary = _summary(0, 25, errors=25)
    message = message_of(summary)
    assert message["errors"] == summary["errors"][:10]
    assert [e["document"] for e in message["errors"]] == [f"inbox/default/{n}.txt" for n in range(10)]


def test_subject_says_the_results_were_archived() -> None:
    summary = {**_summary(0, 2), "results_archived": {"batch_id": "msgbatch_01"}}
    assert (
        subject_of(summary) == f"batchdrop job {JOB} (results archived): 0 of 2 documents answered, 2 failed"
    )
    assert message_of(summary)["results_archived"] == {"batch_id": "msgbatch_01"}


def test_subject_counts_superseded_versions_apart_from_failures() -> None:
    summary = _summary(1, 3)
    summary["counts"] = {**summary["counts"], "superseded": 2}
    assert subject_of(summary) == f"batchdrop job {JOB}: 1 of 3 documents answered, 2 superseded"


def test_subject_with_every_mark_stays_under_sns_limit() -> None:
    summary = {
        **_summary(99_990, 100_000),
        "job_id": JOB + "-a3",
        "results_archived": {"batch_id": "b"},
        "cancel_requested_at": "2026-11-25T10:00:00Z",
    }
    summary["counts"] = {**summary["counts"], "retried": 4, "superseded": 3}
    subject = subject_of(summary)
    assert len(subject) < 100 and subject.startswith(f"batchdrop job {JOB}-a3 (results archived) (canceled)")
