"""s3_events: the three notification shapes (SQS-wrapped S3, plain S3, EventBridge) -> object refs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchdrop.adapters.events import (
    Notifications,
    S3ObjectRef,
    UnrecognisedEvent,
    is_sqs_event,
    objects_in_notification,
    objects_in_sqs_body,
    parse_records,
    sequencer_is_newer,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET = "batchdrop-local"


def _load(name: str) -> dict[str, Any]:
    data = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _s3_record(
    key: str,
    *,
    event_name: str = "ObjectCreated:Put",
    version_id: str | None = None,
    size: int | None = 10,
    etag: str = "0123456789abcdef0123456789abcdef",
    bucket: str = BUCKET,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"}
    if size is not None:
        obj["size"] = size
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T09:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "inbox-created",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def _eventbridge(key: str, *, detail_type: str = "Object Created", **obj: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-25T09:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": BUCKET}, "object": {"key": key, **obj}},
    }


# --- the example events shipped in events/ ------------------------------------------------------


def test_sqs_example_each_record_body() -> None:
    event = _load("sqs-s3-put.json")
    assert is_sqs_event(event)
    refs = [ref for record in event["Records"] for ref in objects_in_sqs_body(record["body"])]
    assert refs == [
        S3ObjectRef(
            bucket=BUCKET,
            key="inbox/default/release notes, v2.md",
            version_id=None,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            size=1021,
            sequencer="0A1B2C3D4E5F678901",
        ),
        S3ObjectRef(
            bucket=BUCKET,
            key="inbox/default/meetings/2026-11-24 standup.txt",
            version_id=None,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            size=804,
            sequencer="0A1B2C3D4E5F678901",
        ),
    ]


def test_plain_s3_example() -> None:
    event = _load("s3-put.json")
    assert not is_sqs_event(event)
    assert objects_in_notification(event) == [
        S3ObjectRef(
            bucket=BUCKET,
            key="inbox/default/release notes, v2.md",
            version_id=None,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            size=1021,
            sequencer="0A1B2C3D4E5F678901",
        )
    ]


def test_eventbridge_example() -> None:
    event = _load("eventbridge-s3-object-created.json")
    assert not is_sqs_event(event)
    assert objects_in_notification(event) == [
        S3ObjectRef(
            bucket=BUCKET,
            key="inbox/default/meetings/2026-11-24 standup.txt",
            version_id=None,
            etag="b1946ac92492d2347c6235b4d2611184",
            size=804,
            sequencer="00617F08299329D189",
        )
    ]


@pytest.mark.parametrize("name", ["batch-ended.json", "scheduled.json"])
def test_other_example_events_are_unrecognised(name: str) -> None:
    with pytest.raises(UnrecognisedEvent, match="not an S3 notification"):
        objects_in_notification(_load(name))


# --- key decoding -------------------------------------------------------------------------------

KEY_CASES = [
    ("inbox/default/a+b.txt", "inbox/default/a b.txt"),
    ("inbox/default/a%2Bb.txt", "inbox/default/a+b.txt"),
    ("inbox/default/100%25.txt", "inbox/default/100%.txt"),
    ("inbox/default/caf%C3%A9.txt", "inbox/default/café.txt"),
    ("inbox/default/%E6%97%A5%E6%9C%AC.md", "inbox/default/日本.md"),
    ("inbox/default/release+notes%2C+v2.md", "inbox/default/release notes, v2.md"),
    ("inbox/default/%2525.txt", "inbox/default/%25.txt"),
    ("inbox/plain.txt", "inbox/plain.txt"),
]


@pytest.mark.parametrize(("raw", "decoded"), KEY_CASES)
def test_s3_notification_key_is_decoded_once(raw: str, decoded: str) -> None:
    refs = objects_in_notification({"Records": [_s3_record(raw)]})
    assert [ref.key for ref in refs] == [decoded]


@pytest.mark.parametrize(("raw", "decoded"), KEY_CASES)
def test_sqs_body_key_is_decoded_once(raw: str, decoded: str) -> None:
    body = json.dumps({"Records": [_s3_record(raw)]})
    assert [ref.key for ref in objects_in_sqs_body(body)] == [decoded]


@pytest.mark.parametrize(("raw", "decoded"), KEY_CASES)
def test_eventbridge_key_is_decoded_once(raw: str, decoded: str) -> None:
    refs = objects_in_notification(_eventbridge(raw, size=5, etag="e"))
    assert [ref.key for ref in refs] == [decoded]


# --- record fields ------------------------------------------------------------------------------


def test_s3_record_version_etag_size_and_bucket() -> None:
    record = _s3_record("inbox/a.txt", version_id="3HL4kqtJlcpXroDTDmJ", size=42, etag="abc", bucket="other")
    assert objects_in_notification({"Records": [record]}) == [
        S3ObjectRef(
            bucket="other",
            key="inbox/a.txt",
            version_id="3HL4kqtJlcpXroDTDmJ",
            etag="abc",
            size=42,
            sequencer="0A1B2C3D4E5F678901",
        )
    ]


def test_s3_record_empty_version_id_is_none() -> None:
    refs = objects_in_notification({"Records": [_s3_record("inbox/a.txt", version_id="")]})
    assert refs[0].version_id is None


def test_s3_record_without_size() -> None:
    refs = objects_in_notification({"Records": [_s3_record("inbox/a.txt", size=None)]})
    assert refs[0].size is None


def test_eventbridge_version_id() -> None:
    event = _eventbridge("inbox/a.txt", size=5, etag="e", **{"version-id": "v123"})
    assert objects_in_notification(event) == [
        S3ObjectRef(bucket=BUCKET, key="inbox/a.txt", version_id="v123", etag="e", size=5)
    ]


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    ],
)
def test_every_object_created_kind_counts(event_name: str) -> None:
    refs = objects_in_notification({"Records": [_s3_record("inbox/a.txt", event_name=event_name)]})
    assert [ref.key for ref in refs] == ["inbox/a.txt"]


def test_object_removed_and_other_records_are_ignored() -> None:
    payload = {
        "Records": [
            _s3_record("inbox/gone.txt", event_name="ObjectRemoved:Delete", size=None),
            _s3_record("inbox/new.txt"),
            _s3_record("inbox/marker.txt", event_name="ObjectRemoved:DeleteMarkerCreated", size=None),
            _s3_record("inbox/restored.txt", event_name="ObjectRestore:Completed"),
            _s3_record("inbox/second.txt", event_name="ObjectCreated:Copy"),
        ]
    }
    assert [ref.key for ref in objects_in_notification(payload)] == ["inbox/new.txt", "inbox/second.txt"]


def test_only_removed_records_give_nothing() -> None:
    record = _s3_record("inbox/gone.txt", event_name="ObjectRemoved:Delete", size=None)
    assert objects_in_notification({"Records": [record]}) == []


def test_empty_records_give_nothing() -> None:
    assert objects_in_notification({"Records": []}) == []


def test_record_from_another_source_is_unrecognised() -> None:
    record = _s3_record("inbox/a.txt")
    record["eventSource"] = "aws:sqs"
    with pytest.raises(UnrecognisedEvent, match="record from 'aws:sqs', expected aws:s3"):
        objects_in_notification({"Records": [record]})


# --- test events, deletions, unknown shapes -----------------------------------------------------

S3_TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-25T09:00:00.000Z",
    "Bucket": BUCKET,
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def test_s3_test_event_names_no_object() -> None:
    assert objects_in_notification(S3_TEST_EVENT) == []
    assert objects_in_sqs_body(json.dumps(S3_TEST_EVENT)) == []


@pytest.mark.parametrize("detail_type", ["Object Deleted", "Object Restore Completed", "Object Tags Added"])
def test_eventbridge_other_detail_types_give_nothing(detail_type: str) -> None:
    assert objects_in_notification(_eventbridge("inbox/a.txt", detail_type=detail_type)) == []


@pytest.mark.parametrize("body", ["", "not json", "{", "{'single': 'quotes'}"])
def test_sqs_body_that_is_not_json(body: str) -> None:
    with pytest.raises(UnrecognisedEvent, match="SQS message body is not JSON"):
        objects_in_sqs_body(body)


@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"a string"', "42", "null", "true"])
def test_sqs_body_that_is_not_an_object(body: str) -> None:
    with pytest.raises(UnrecognisedEvent, match=r"^SQS message body is not a JSON object$"):
        objects_in_sqs_body(body)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"hello": "world"},
        {"source": "aws.s3"},
        {"source": "aws.ec2", "detail": {}},
        {"detail-type": "Object Created", "detail": {"object": {"key": "inbox/a.txt"}}},
    ],
)
def test_unknown_shapes_are_unrecognised(payload: dict[str, Any]) -> None:
    with pytest.raises(UnrecognisedEvent, match=r"^not an S3 notification or EventBridge S3 event: keys"):
        objects_in_notification(payload)
    with pytest.raises(UnrecognisedEvent):
        objects_in_sqs_body(json.dumps(payload))


def test_unrecognised_event_is_a_value_error() -> None:
    assert issubclass(UnrecognisedEvent, ValueError)


# --- is_sqs_event -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, False),
        ({"Records": []}, False),
        ({"Records": None}, False),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, True),
        ({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:sqs"}]}, True),
        ({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:s3"}]}, False),
        ({"Records": [{"eventSource": "aws:s3"}]}, False),
        ({"Records": [{}]}, False),
        ({"source": "aws.s3", "detail": {}}, False),
    ],
)
def test_is_sqs_event(event: dict[str, Any], expected: bool) -> None:
    assert is_sqs_event(event) is expected


def test_is_sqs_event_on_example_files() -> None:
    assert is_sqs_event(_load("sqs-s3-put.json")) is True
    assert is_sqs_event(_load("s3-put.json")) is False
    assert is_sqs_event(_load("eventbridge-s3-object-created.json")) is False


# --- sequencer ----------------------------------------------------------------------------------


def test_sqs_wrapped_record_sequencer() -> None:
    body = json.dumps({"Records": [_s3_record("inbox/a.txt")]})
    (ref,) = objects_in_sqs_body(body)
    assert ref.sequencer == "0A1B2C3D4E5F678901"


def test_record_without_sequencer_is_none() -> None:
    record = _s3_record("inbox/a.txt")
    del record["s3"]["object"]["sequencer"]
    assert objects_in_notification({"Records": [record]})[0].sequencer is None


def test_eventbridge_sequencer() -> None:
    event = _eventbridge("inbox/a.txt", size=5, etag="e", sequencer="00617F08299329D189")
    assert objects_in_notification(event)[0].sequencer == "00617F08299329D189"


@pytest.mark.parametrize(
    ("candidate", "than", "newer"),
    [
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5", True),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", False),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),  # the same event
        # different lengths: the shorter is right-padded with zeros before comparing
        ("0055AED6DCD90281E5", "0055AED6DCD90281", True),
        ("0055AED6DCD90281", "0055AED6DCD90281E5", False),
        ("0055AED6DCD902820", "0055AED6DCD90281E5", True),  # "...820" + "0" > "...81E5"
        ("0055AED6DCD9028100", "0055AED6DCD90281", False),  # equal once padded
        ("0055aed6dcd90281e6", "0055AED6DCD90281E5", True),  # hexadecimal, either case
    ],
)
def test_sequencer_order_follows_s3s_rule(candidate: str, than: str, newer: bool) -> None:
    assert sequencer_is_newer(candidate, than) is newer


def test_parse_records_leaves_out_a_record_it_cannot_parse() -> None:
    event = _load("sqs-s3-put.json")
    event["Records"][0]["body"] = "not json"
    parsed = parse_records(event["Records"])
    assert list(parsed) == [event["Records"][1]["messageId"]]
    assert parsed[event["Records"][1]["messageId"]] == objects_in_sqs_body(event["Records"][1]["body"])


def test_notifications_of_sqs_report_the_records_that_failed_alone() -> None:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    event = _load("sqs-s3-put.json")
    event["Records"][0]["body"] = "not json"
    notices = Notifications.of(event, None, lambda: BatchProcessor(event_type=EventType.SQS))
    taken: list[S3ObjectRef] = []

    response = notices.each(taken.append)

    second = objects_in_sqs_body(event["Records"][1]["body"])
    assert notices.planned() == second and taken == second
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_notifications_of_a_plain_s3_event_are_taken_whole() -> None:
    event = _load("s3-put.json")
    notices = Notifications.of(event, None, lambda: pytest.fail("no SQS processor for a plain event"))
    taken: list[S3ObjectRef] = []

    assert notices.each(taken.append) == {}
    assert taken == notices.planned() == objects_in_notification(event)


def test_notifications_of_an_unknown_shape_are_refused() -> None:
    with pytest.raises(UnrecognisedEvent):
        Notifications.of({"hello": "world"}, None, lambda: pytest.fail("not SQS"))
