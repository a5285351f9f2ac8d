"""AWS faults and S3's limits, as plain boto3 clients see them through the local stack's moto
server (moto's application behind AwsFaultMiddleware, on loopback).

botocore's defaults are the functions'. In botocore 1.44 that is the "standard" retry mode (not
"legacy"): 3 attempts in all (DynamoDB 4), for throttling codes and 500/502/503/504, so one
throttle or 5xx is retried silently and only a run of them surfaces as a ClientError. Tests that
look at one failed call use a client that does not retry."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batchdrop_local import cli
from batchdrop_local.aws_faults import ADMIN_PATH, AwsFaults, AwsServer

NO_RETRY = Config(retries={"mode": "legacy", "total_max_attempts": 1})


@pytest.fixture(scope="module")
def server() -> Iterator[AwsServer]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    aws = AwsServer("127.0.0.1", 0, AwsFaults()).start()
    yield aws
    aws.stop()


@pytest.fixture
def faults(server: AwsServer) -> Iterator[AwsFaults]:
    server.faults.clear()
    yield server.faults
    server.faults.clear()


@pytest.fixture
def endpoint(server: AwsServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def _client(endpoint: str, service: str, config: Config | None = None, app_id: str | None = None) -> Any:
    if app_id:
        app: dict[str, Any] = {"user_agent_appid": app_id}  # newer than botocore-stubs
        config = (config or Config()).merge(Config(**app))
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def s3(endpoint: str) -> Any:
    return _client(endpoint, "s3", NO_RETRY)


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    _client(endpoint, "s3").create_bucket(Bucket=name)
    return name


def _fields(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    """The parsed error, with the extra elements a service sends (Size, Type, ...)."""
    response: Any = exc.value.response
    return dict(response["Error"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response: Any = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _receive(sqs: Any, queue_url: str, wanted: int, deadline: float = 60.0) -> list[dict[str, Any]]:
    """Up to ``wanted`` messages; the deadline bounds a wait for messages that never come (moto
    delivers SNS and EventBridge to SQS within the publishing call, so it is not a race)."""
    messages: list[dict[str, Any]] = []
    end = time.monotonic() + deadline
    while len(messages) < wanted and time.monotonic() < end:
        messages += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
    return messages


# --- S3 -------------------------------------------------------------------------------------


def test_one_s3_throttle_is_retried_by_botocore_without_the_caller_noticing(
    faults: AwsFaults, endpoint: str, bucket: str
) -> None:
    rule = faults.arm("s3", "PutObject", "throttle")
    response = _client(endpoint, "s3").put_object(Bucket=bucket, Key="inbox/a.txt", Body=b"a")
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert (rule.seen, rule.served) == (2, 1)
    assert faults.pending() == []


def test_three_s3_throttles_in_a_row_outlast_botocores_default_retries(
    faults: AwsFaults, endpoint: str, bucket: str
) -> None:
    # Given the default client: standard mode makes 3 attempts in all.
    client = _client(endpoint, "s3")
    assert client.meta.config.retries["mode"] == "standard"
    rule = faults.arm("s3", "GetObject", "throttle", count=3)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as raised:
        client.get_object(Bucket=bucket, Key="k")
    assert _error(raised) == (503, "SlowDown")
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert rule.served == 3
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


@pytest.mark.parametrize(
    ("kind", "status", "code", "expected"),
    [
        ("error", None, None, (500, "InternalError")),
        ("access-denied", None, None, (403, "AccessDenied")),
        ("explicit", 403, "InvalidObjectState", (403, "InvalidObjectState")),
        ("explicit", 400, "InvalidRequest", (400, "InvalidRequest")),
    ],
)
def test_s3_faults_are_parsed_by_botocore_as_s3s_errors(
    faults: AwsFaults,
    s3: Any,
    bucket: str,
    kind: str,
    status: int | None,
    code: str | None,
    expected: tuple[int, str],
) -> None:
    s3.put_object(Bucket=bucket, Key="doc.pdf", Body=b"%PDF")
    faults.arm("s3", "GetObject", kind, status=status, code=code)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="doc.pdf")
    assert _error(raised) == expected
    assert raised.value.response["Error"]["Message"]


def test_s3_head_errors_have_no_body_so_botocore_reports_the_status(
    faults: AwsFaults, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    faults.arm("s3", "HeadObject", "access-denied")
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="k")
    assert _error(raised) == (403, "403")


def test_nth_and_count_fail_a_window_of_consecutive_matching_calls(
    faults: AwsFaults, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    rule = faults.arm("s3", "GetObject", "error", nth=2, count=2)
    outcomes = []
    for _ in range(4):
        try:
            s3.get_object(Bucket=bucket, Key="k")
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    assert outcomes == ["ok", "InternalError", "InternalError", "ok"]
    assert (rule.seen, rule.served, rule.remaining) == (4, 2, 0)


def test_match_picks_calls_by_s3_key(faults: AwsFaults, s3: Any, bucket: str) -> None:
    rule = faults.arm("s3", "PutObject", "error", match="results/", count=None)
    s3.put_object(Bucket=bucket, Key="inbox/default/a.txt", Body=b"a")
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="results/default/a.txt.md", Body=b"answer")
    assert (rule.seen, rule.served, rule.remaining) == (1, 1, None)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["inbox/default/a.txt"]


def test_list_copy_multipart_and_delete_are_told_apart(faults: AwsFaults, s3: Any, bucket: str) -> None:
    operations = ["ListObjectsV2", "CopyObject", "CreateMultipartUpload", "DeleteObject"]
    rules = {op: faults.arm("s3", op, "error", count=None) for op in operations}
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    calls = {
        "ListObjectsV2": lambda: s3.list_objects_v2(Bucket=bucket, Prefix="s"),
        "CopyObject": lambda: s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}
        ),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket=bucket, Key="big"),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key="src"),
    }
    for operation, call in calls.items():
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.operation_name == operation
    assert {op: rule.served for op, rule in rules.items()} == dict.fromkeys(operations, 1)
    faults.clear()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = faults.arm("s3", "UploadPart", "error")
    complete = faults.arm("s3", "CompleteMultipartUpload", "error")
    with pytest.raises(ClientError):
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p")
    etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    with pytest.raises(ClientError):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="big",
            UploadId=upload,
            MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]},
        )
    assert (parts.served, complete.served) == (1, 1)


def test_an_after_effect_fault_loses_the_answer_but_the_write_happens(
    faults: AwsFaults, s3: Any, bucket: str
) -> None:
    faults.arm("s3", "PutObject", "after-effect")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="results/x.md", Body=b"written")
    assert _error(raised) == (500, "InternalError")
    assert s3.get_object(Bucket=bucket, Key="results/x.md")["Body"].read() == b"written"


def test_faults_can_be_aimed_at_the_functions_by_their_user_agent(
    faults: AwsFaults, endpoint: str, bucket: str
) -> None:
    # The local stack gives each function AWS_SDK_UA_APP_ID=lambda.<LogicalId>.
    submit = _client(endpoint, "s3", NO_RETRY, app_id="lambda.SubmitFunction")
    complete = _client(endpoint, "s3", NO_RETRY, app_id="lambda.CompleteFunction")
    tests = _client(endpoint, "s3", NO_RETRY)
    one = faults.arm("s3", "PutObject", "error", caller="SubmitFunction", count=None)
    anyone = faults.arm("s3", "ListObjectsV2", "error", caller="functions", count=None)
    tests.put_object(Bucket=bucket, Key="k", Body=b"x")
    complete.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):
        submit.put_object(Bucket=bucket, Key="k", Body=b"x")
    tests.list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError):
        complete.list_objects_v2(Bucket=bucket)
    assert (one.seen, anyone.seen) == (1, 1)


# --- S3's limits ----------------------------------------------------------------------------


def test_keys_of_more_than_1024_utf8_bytes_are_refused_as_s3_refuses_them(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")
    too_long = "k" * 1023 + "é"  # 1,024 characters, 1,025 bytes
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key=too_long, Body=b"x"),
        lambda: s3.copy_object(Bucket=bucket, Key=too_long, CopySource={"Bucket": bucket, "Key": "k" * 1024}),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key=too_long),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _error(raised) == (400, "KeyTooLongError")
        assert _fields(raised)["Size"] == "1025"
        assert _fields(raised)["MaxSizeAllowed"] == "1024"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k" * 1024]


def test_user_metadata_over_2_kb_is_refused_as_s3_refuses_it(s3: Any, bucket: str) -> None:
    # Keys (without x-amz-meta-) and values, in UTF-8 bytes: 1 + 2000 + 1 + 46 = 2048.
    s3.put_object(Bucket=bucket, Key="fits", Body=b"x", Metadata={"a": "x" * 2000, "b": "y" * 46})
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="over", Body=b"x", Metadata={"a": "x" * 2000, "b": "y" * 47})
    assert _error(raised) == (400, "MetadataTooLarge")
    assert _fields(raised)["Size"] == "2049"
    with pytest.raises(ClientError) as raised:
        s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "fits"},
            Metadata={"c": "z" * 2048},
            MetadataDirective="REPLACE",
        )
    assert _error(raised) == (400, "MetadataTooLarge")
    # A copy that keeps the source's metadata is not measured again.
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "fits"})
    assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"]["b"] == "y" * 46


# --- DynamoDB -------------------------------------------------------------------------------


def _table(endpoint: str) -> str:
    name = f"table-{uuid.uuid4().hex[:8]}"
    _client(endpoint, "dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_dynamodb_throttles_and_errors_are_parsed_as_dynamodbs(faults: AwsFaults, endpoint: str) -> None:
    jobs, other = _table(endpoint), _table(endpoint)
    dynamodb = _client(endpoint, "dynamodb", NO_RETRY)
    item = {"pk": {"S": "job-1"}}
    faults.arm("dynamodb", "PutItem", "throttle", match=jobs)
    dynamodb.put_item(TableName=other, Item=item)  # another table: not matched
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName=jobs, Item=item)
    assert _error(raised) == (400, "ProvisionedThroughputExceededException")
    faults.arm("dynamodb", "UpdateItem", "explicit", status=400, code="ThrottlingException")
    with pytest.raises(ClientError) as raised:
        dynamodb.update_item(
            TableName=jobs,
            Key=item,
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "1"}},
        )
    assert _error(raised) == (400, "ThrottlingException")
    faults.arm("dynamodb", "GetItem", "error")
    with pytest.raises(ClientError) as raised:
        dynamodb.get_item(TableName=jobs, Key=item)
    assert _error(raised) == (500, "InternalServerError")
    faults.arm("dynamodb", "Query", "throttle")
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.query(
            TableName=jobs, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "x"}}
        )


def test_one_dynamodb_throttle_is_retried_and_an_after_effect_write_lands(
    faults: AwsFaults, endpoint: str
) -> None:
    jobs = _table(endpoint)
    item = {"pk": {"S": "job-2"}}
    throttled = faults.arm("dynamodb", "PutItem", "throttle")
    assert (
        _client(endpoint, "dynamodb").put_item(TableName=jobs, Item=item)["ResponseMetadata"]["RetryAttempts"]
        == 1
    )
    assert throttled.served == 1
    faults.arm("dynamodb", "DeleteItem", "after-effect")
    with pytest.raises(ClientError) as raised:
        _client(endpoint, "dynamodb", NO_RETRY).delete_item(TableName=jobs, Key=item)
    assert _error(raised) == (500, "InternalServerError")
    assert "Item" not in _client(endpoint, "dynamodb").get_item(TableName=jobs, Key=item)


def test_four_dynamodb_throttles_in_a_row_outlast_its_four_default_attempts(
    faults: AwsFaults, endpoint: str
) -> None:
    jobs = _table(endpoint)
    rule = faults.arm("dynamodb", "GetItem", "throttle", count=4)
    with pytest.raises(ClientError) as raised:
        _client(endpoint, "dynamodb").get_item(TableName=jobs, Key={"pk": {"S": "job-3"}})
    assert _error(raised) == (400, "ProvisionedThroughputExceededException")
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert rule.served == 4


# --- SNS ------------------------------------------------------------------------------------


def test_sns_faults_are_query_protocol_errors_and_an_after_effect_publish_is_delivered(
    faults: AwsFaults, endpoint: str
) -> None:
    sns, sqs = _client(endpoint, "sns", NO_RETRY), _client(endpoint, "sqs")
    topic = sns.create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notices-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    faults.arm("sns", "Publish", "throttle")
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=topic, Message="first")
    assert _error(raised) == (400, "Throttling")
    assert _fields(raised)["Type"] == "Sender"
    faults.arm("sns", "Publish", "error")
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=topic, Message="second")
    assert _error(raised) == (500, "InternalError")
    faults.arm("sns", "Publish", "after-effect", match="third")
    with pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message="third")
    bodies = [json.loads(m["Body"])["Message"] for m in _receive(sqs, queue, 1)]
    assert bodies == ["third"]


# --- EventBridge ----------------------------------------------------------------------------


def _bus_with_queue(endpoint: str) -> tuple[str, str]:
    events, sqs = _client(endpoint, "events"), _client(endpoint, "sqs")
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=f"{bus}-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["batchdrop"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    return bus, queue


def test_eventbridge_throttles_errors_and_partial_failures(faults: AwsFaults, endpoint: str) -> None:
    bus, queue = _bus_with_queue(endpoint)
    events, sqs = _client(endpoint, "events", NO_RETRY), _client(endpoint, "sqs")

    def entry(name: str) -> dict[str, str]:
        return {
            "Source": "batchdrop",
            "DetailType": "Batch Ended",
            "Detail": json.dumps({"job": name}),
            "EventBusName": bus,
        }

    faults.arm("events", "PutEvents", "throttle")
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry("a")])
    assert _error(raised) == (400, "ThrottlingException")
    faults.arm("events", "PutEvents", "error")
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry("a")])
    assert _error(raised) == (500, "InternalException")
    # Given a partial fault on the entry of job "lost": that entry fails, the other is delivered.
    faults.arm("events", "PutEvents", "partial", match="lost")
    answer = events.put_events(Entries=[entry("kept"), entry("lost")])
    assert answer["FailedEntryCount"] == 1
    assert "EventId" in answer["Entries"][0]
    assert answer["Entries"][1]["ErrorCode"] == "ThrottlingException"
    delivered = [json.loads(m["Body"])["detail"]["job"] for m in _receive(sqs, queue, 1)]
    assert delivered == ["kept"]
    assert _receive(sqs, queue, 1, deadline=2) == []


# --- SQS ------------------------------------------------------------------------------------


def test_sqs_faults_are_parsed_as_sqs_errors(faults: AwsFaults, endpoint: str) -> None:
    sqs = _client(endpoint, "sqs", NO_RETRY)
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    faults.arm("sqs", "SendMessage", "throttle")
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=queue, MessageBody="m")
    assert _error(raised) == (403, "RequestThrottled")
    faults.arm("sqs", "ReceiveMessage", "error")
    with pytest.raises(ClientError) as raised:
        sqs.receive_message(QueueUrl=queue)
    assert _error(raised) == (500, "InternalError")


# --- the registry, the admin path and the CLI ------------------------------------------------


def test_pending_stats_disarm_and_clear(faults: AwsFaults, s3: Any, bucket: str) -> None:
    kept = faults.arm("s3", "GetObject", "throttle", count=3)
    gone = faults.arm("sqs", "SendMessage", "error")
    assert [r["id"] for r in faults.pending()] == [kept.id, gone.id]
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k")
    assert faults.stats()[0] | {} == kept.to_dict()
    assert (kept.served, kept.remaining) == (1, 2)
    assert faults.disarm(gone.id) and not faults.disarm(gone.id)
    assert faults.calls()["s3:GetObject"] >= 1
    assert faults.clear() == 1 and faults.stats() == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"service": "lambda", "operation": "Invoke"},
        {"service": "s3", "operation": "GetObject", "kind": "sometimes"},
        {"service": "s3", "operation": "GetObject", "kind": "explicit"},
        {"service": "s3", "operation": "PutObject", "kind": "partial"},
        {"service": "s3", "operation": "PutObject", "nth": 0},
    ],
)
def test_faults_that_cannot_be_served_are_refused(faults: AwsFaults, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|needs|only|start at"):
        faults.arm_from_dict(arguments)


def _admin(endpoint: str, method: str, payload: Any = None, rule_id: str = "") -> tuple[int, Any]:
    url = endpoint + ADMIN_PATH + (f"/{rule_id}" if rule_id else "")
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_admin_path_arms_lists_and_clears_beside_s3s_own_routes(
    faults: AwsFaults, endpoint: str, s3: Any, bucket: str
) -> None:
    status, created = _admin(
        endpoint, "POST", {"service": "s3", "operation": "GetObject", "kind": "throttle", "count": 2}
    )
    assert status == 201 and created["rule"]["remaining"] == 2
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k")
    status, listing = _admin(endpoint, "GET")
    assert status == 200
    assert [(r["id"], r["served"]) for r in listing["rules"]] == [(created["rule"]["id"], 1)]
    assert listing["calls"]["s3:GetObject"] >= 1
    assert _admin(endpoint, "POST", {"service": "s3", "bogus": 1})[0] == 400
    assert _admin(endpoint, "DELETE", rule_id="f999999")[0] == 404
    assert _admin(endpoint, "DELETE") == (200, {"cleared": 1})
    # S3's path-style routes are untouched: buckets are listed and read as before.
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_the_cli_talks_to_the_stack_named_by_state_json(
    faults: AwsFaults, endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"endpoint": endpoint}))
    where = ["--state-dir", str(tmp_path)]
    fault = ["local", "aws-fault"]
    assert (
        cli.main(
            [*fault, "add", "s3", "PutObject", "throttle", "--count", "3", "--match", "results/", *where]
        )
        == 0
    )
    assert (
        cli.main(
            [
                *fault,
                "add",
                "dynamodb",
                "UpdateItem",
                "explicit",
                "--status",
                "400",
                "--code",
                "ThrottlingException",
                *where,
            ]
        )
        == 0
    )
    assert [(r["service"], r["operation"], r["count"]) for r in faults.stats()] == [
        ("s3", "PutObject", 3),
        ("dynamodb", "UpdateItem", 1),
    ]
    assert faults.stats()[0]["match"] == "results/"
    capsys.readouterr()
    assert cli.main([*fault, "list", *where]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and "s3 PutObject throttle" in listed[0] and "remaining 3" in listed[0]
    first = faults.stats()[0]["id"]
    assert cli.main([*fault, "remove", first, *where]) == 0
    assert cli.main([*fault, "clear", *where]) == 0
    assert "cleared 1 fault(s)" in capsys.readouterr().out
    assert faults.stats() == []
    with pytest.raises(SystemExit, match="no local stack"):
        cli.main([*fault, "list", "--state-dir", str(tmp_path / "nowhere")])
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "state.json").write_text(json.dumps({"endpoint": "http://127.0.0.1:9"}))
    with pytest.raises(SystemExit, match="does not answer"):
        cli.main([*fault, "list", "--state-dir", str(stopped)])
