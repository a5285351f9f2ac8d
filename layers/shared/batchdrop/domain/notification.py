"""What the notification of a completed job says: its subject and message. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchdrop.domain.summary import Summary

# SNS subjects must be shorter than 100 characters.
MAX_SUBJECT = 99
# Errors the message lists (the summary has up to a hundred).
MAX_ERRORS = 10


def notification_subject(summary: Summary) -> str:
    retried = summary.count("retried")
    superseded = summary.count("superseded")
    answered = f"{summary.succeeded} of {summary.documents} documents answered"
    marks = (
        ("(results archived) " if summary.results_archived else "")
        + ("(not submitted) " if summary.not_submitted else "")
        + ("(canceled) " if summary.cancel_requested_at else "")
        + ("(deprecated model) " if summary.deprecated_models else "")
    )
    text = f"batchdrop job {summary.job_id} {marks}".rstrip() + f": {answered}"
    for count, word in ((summary.failed, "failed"), (retried, "retried"), (superseded, "superseded")):
        if count:
            text += f", {count} {word}"
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 3] + "..."


def notification_message(summary: Summary, uri: Callable[[str], str]) -> dict[str, Any]:
    """The message: counts, tokens, cost, where the results are (``uri`` of a bucket key)."""
    cost = summary.cost
    workflow = summary.workflow
    return {
        "job_id": summary.job_id,
        "batch_id": summary.batch_id,
        "status": summary.status,
        "attempt": summary.attempt,
        "retried_in": summary.retried_in,
        "cancel_requested_at": summary.cancel_requested_at,
        "results_archived": None if summary.results_archived is None else dict(summary.results_archived),
        "not_submitted": summary.not_submitted,
        "documents": summary.documents,
        "counts": dict(summary.counts),
        "tokens": summary.tokens.as_dict(),
        "cost": {
            "currency": cost.currency,
            "batch": cost.batch,
            "standard": cost.standard,
            "savings": cost.savings,
            "complete": cost.complete,
            # Only a held Bedrock job answered by InvokeModel says so: at the on-demand price.
            **({"billed_at": cost.billed_at} if cost.billed_at != "batch" else {}),
        },
        "results": [uri(prefix) for prefix in summary.results_prefixes],
        "summary": uri(str(summary.summary_key)),
        "documents_table": uri(summary.documents_key) if summary.documents_key else None,
        "workflow": None
        if workflow is None
        else {
            "id": workflow.id,
            "stage": workflow.stage,
            "final": workflow.final,
            "total_cost": workflow.total_cost.to_json(),
        },
        "errors": [dict(error) for error in summary.errors[:MAX_ERRORS]],
        # Each deprecated model the job used and the day it retires (profiles to move off it).
        "deprecated_models": [
            {
                **model,
                "warning": (
                    f"{model['model']} is deprecated and retires on {model['retires_at'][:10]}: move "
                    f"profile{'s' if len(model['profiles']) != 1 else ''} {', '.join(model['profiles'])} "
                    "to a current model before then"
                ),
            }
            for model in summary.deprecated_models
        ],
    }
