"""Issue 9's faults as the unmodified anthropic SDK meets them."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from batchdrop_local.emulator import EmulatorServer
from batchdrop_local.emulator.engine import FailRule

from .conftest import API_KEY, LONG_DELAY, make_request, wait_ended
from .test_sdk_contract import error_type, results_by_id


@pytest.fixture
def no_retries(emulator: EmulatorServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emulator.url, api_key=API_KEY, max_retries=0, timeout=10) as sdk:
        yield sdk


def test_a_retrying_sdk_creates_twice_when_a_gateway_answers_504_after_the_create(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    # The hazard the SDK's retries cannot see: the first create made (and would bill) a batch.
    emulator.inject_fault("create", 504, after_effect=True)

    batch = client.messages.batches.create(requests=[make_request("a"), make_request("b")])

    stats = emulator.stats()
    assert stats["calls"]["create"] == 2
    assert stats["batches_created"] == 2
    assert stats["requests_by_custom_id"] == {"a": 2, "b": 2}
    listed = [b.id for b in client.messages.batches.list(limit=1)]
    assert len(listed) == 2 and listed[0] == batch.id  # the retry's batch is the newest


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (500, anthropic.InternalServerError),
        (502, anthropic.InternalServerError),
        (504, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_a_create_answered_with_an_error_after_the_effect_is_found_by_listing(
    no_retries: anthropic.Anthropic,
    emulator: EmulatorServer,
    status: int,
    error_class: type[anthropic.APIStatusError],
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)  # still processing when listed below
    before = [no_retries.messages.batches.create(requests=[make_request("old")]).id for _ in range(3)]
    emulator.inject_fault("create", status, after_effect=True)

    with pytest.raises(error_class) as lost:
        no_retries.messages.batches.create(requests=[make_request("doc-1"), make_request("doc-2")])

    assert lost.value.status_code == status
    # What a careful client does before creating again: list recent batches, page by page.
    made = [b for b in no_retries.messages.batches.list(limit=2) if b.id not in before]
    assert len(made) == 1
    assert made[0].request_counts.processing == 2
    assert emulator.stats()["requests_by_custom_id"] == {"old": 3, "doc-1": 1, "doc-2": 1}


def test_a_cancel_answered_502_after_the_effect_has_canceled(
    no_retries: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY, cancel_grace=0.05)
    batch = no_retries.messages.batches.create(requests=[make_request("a")])
    emulator.inject_fault("cancel", 502, after_effect=True)

    with pytest.raises(anthropic.InternalServerError):
        no_retries.messages.batches.cancel(batch.id)

    assert no_retries.messages.batches.retrieve(batch.id).cancel_initiated_at is not None
    ended = wait_ended(no_retries, batch.id)
    assert ended.request_counts.canceled == 1


def test_an_archived_batch_is_retrieved_with_archived_at_and_its_results_are_not_found(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    batch = client.messages.batches.create(requests=[make_request("a")])
    wait_ended(client, batch.id)
    assert [line.custom_id for line in client.messages.batches.results(batch.id)] == ["a"]

    emulator.archive_batch(batch.id)

    archived = client.messages.batches.retrieve(batch.id)
    assert archived.archived_at is not None
    assert archived.results_url is not None
    with pytest.raises(anthropic.NotFoundError) as gone:
        client.messages.batches.results(batch.id)
    assert error_type(gone.value) == "not_found_error"
    assert emulator.stats()["calls"]["results"] == 2  # a 404 is not retried
    assert [b.archived_at for b in client.messages.batches.list()] == [archived.archived_at]


def test_a_full_queue_refuses_creates_with_rate_limit_errors_until_released(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(queue_retry_after=0.01)
    emulator.set_queue_full(True)

    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.batches.create(requests=[make_request("a")])  # 1 call + max_retries=2

    assert error_type(refused.value) == "rate_limit_error"
    assert refused.value.response.headers["retry-after"] == "1"
    assert refused.value.response.headers["retry-after-ms"] == "10"
    stats = emulator.stats()
    assert (stats["calls"]["create"], stats["creates_refused"], stats["batches_created"]) == (3, 3, 0)
    assert stats["requests_by_custom_id"] == {}
    assert client.messages.batches.list().data == []
    emulator.set_queue_full(False)
    assert client.messages.batches.create(requests=[make_request("a")]).request_counts.processing == 1
    assert emulator.stats()["requests_by_custom_id"] == {"a": 1}


def test_queue_limit_refuses_what_would_overflow_and_accepts_once_batches_end(
    no_retries: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY, cancel_grace=0.05, queue_limit=3, queue_retry_after=5)
    first = no_retries.messages.batches.create(requests=[make_request("a"), make_request("b")])

    with pytest.raises(anthropic.RateLimitError, match="processing queue"):
        no_retries.messages.batches.create(requests=[make_request("c"), make_request("d")])

    assert emulator.queue() == {"queue_full": False, "queue_limit": 3, "requests_processing": 2}
    no_retries.messages.batches.cancel(first.id)
    wait_ended(no_retries, first.id)
    assert emulator.queue()["requests_processing"] == 0
    second = no_retries.messages.batches.create(requests=[make_request("c"), make_request("d")])
    assert second.request_counts.processing == 2
    assert emulator.stats()["creates_refused"] == 1


def test_fail_rules_drive_a_clients_follow_up_batch(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(
        fail_first_attempts=(
            FailRule("doc-1", attempts=1, error_type="overloaded_error"),
            FailRule("doc-2", attempts=2, outcome="expired"),
        )
    )
    pending = ["doc-0", "doc-1", "doc-2"]
    rounds = []
    while pending:
        batch = client.messages.batches.create(requests=[make_request(custom_id) for custom_id in pending])
        wait_ended(client, batch.id)
        results = results_by_id(client, batch.id)
        rounds.append({custom_id: result.type for custom_id, result in results.items()})
        pending = sorted(custom_id for custom_id, result in results.items() if result.type != "succeeded")
        assert len(rounds) <= 3

    assert rounds == [
        {"doc-0": "succeeded", "doc-1": "errored", "doc-2": "expired"},
        {"doc-1": "succeeded", "doc-2": "expired"},
        {"doc-2": "succeeded"},
    ]
    assert emulator.stats()["requests_by_custom_id"] == {"doc-0": 1, "doc-1": 2, "doc-2": 3}


def test_the_configured_error_type_reaches_the_sdk(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(error_rate=1, error_type="overloaded_error")
    batch = client.messages.batches.create(requests=[make_request("a")])
    wait_ended(client, batch.id)

    result = results_by_id(client, batch.id)["a"]
    assert result.type == "errored"
    assert result.error.error.type == "overloaded_error"


def test_backward_paging_with_before_id_yields_every_newer_batch_once(
    client: anthropic.Anthropic,
) -> None:
    ids = [client.messages.batches.create(requests=[make_request("a")]).id for _ in range(7)]

    newer = [b.id for b in client.messages.batches.list(limit=2, before_id=ids[0])]

    # Each page is newest first; the pages walk towards the newest batch.
    assert sorted(newer) == sorted(ids[1:])
    assert newer == ids[2:0:-1] + ids[4:2:-1] + ids[6:4:-1]


def test_the_list_shows_a_batch_made_while_a_client_paged(client: anthropic.Anthropic) -> None:
    ids = [client.messages.batches.create(requests=[make_request("a")]).id for _ in range(4)]
    pages = client.messages.batches.list(limit=2)
    first_page = [b.id for b in pages.data]
    newest = client.messages.batches.create(requests=[make_request("a")]).id

    rest = [b.id for page in list(pages.iter_pages())[1:] for b in page.data]

    # A batch created meanwhile goes to the head of the list: the after_id walk neither repeats
    # nor skips a batch, and a fresh list shows the new one first.
    assert first_page + rest == ids[::-1]
    assert client.messages.batches.list(limit=1).data[0].id == newest
