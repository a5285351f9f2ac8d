"""The in-memory S3 and DynamoDB stand-in for benchmarks, through real boto3 clients."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from batchdrop_local.bench.standin import InMemoryAws, Latency


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # No endpoint_url or profile of the developer's own: the clients must use AWS's default endpoints.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def standin(latency: Latency | None = None) -> tuple[InMemoryAws, boto3.session.Session]:
    aws = InMemoryAws(latency or Latency())
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws.install(session)
    aws.create_bucket("docs")
    return aws, session


def test_put_get_round_trip_and_missing_keys():
    aws, session = standin()
    s3 = session.client("s3")
    key = "in/a b+c/é.txt"
    s3.put_object(Bucket="docs", Key=key, Body=b"hello", ContentType="text/plain", Metadata={"Job": "j-1"})

    got = s3.get_object(Bucket="docs", Key=key)
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"job": "j-1"}
    assert got["ContentLength"] == 5
    assert got["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'
    head = s3.head_object(Bucket="docs", Key=key)
    assert (head["ContentLength"], head["Metadata"]) == (5, {"job": "j-1"})
    assert aws.get_object_body("docs", key) == b"hello"

    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="docs", Key="in/missing")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert missing.value.response["Error"]["Key"] == "in/missing"
    with pytest.raises(ClientError) as no_head:
        s3.head_object(Bucket="docs", Key="in/missing")
    assert no_head.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as no_bucket:
        s3.get_object(Bucket="elsewhere", Key=key)
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"

    s3.delete_object(Bucket="docs", Key=key)
    assert aws.keys("docs") == []


def test_seeded_objects_and_path_style_endpoint():
    aws, session = standin()
    aws.put_object("docs", "a.json", b"{}", "application/json", {"Source": "seed"})
    s3 = session.client(
        "s3", endpoint_url="http://localhost:4566", config=Config(s3={"addressing_style": "path"})
    )
    got = s3.get_object(Bucket="docs", Key="a.json")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (
        b"{}",
        "application/json",
        {"source": "seed"},
    )
    assert s3.get_object(Bucket="docs", Key="a.json", Range="bytes=1-")["Body"].read() == b"}"


def test_paginator_lists_every_key_sorted_in_pages_of_1000():
    aws, session = standin()
    wanted = sorted(f"jobs/j1/{n:05d}{' +é' if n % 7 == 0 else ''}.txt" for n in range(2500))
    for key in [*reversed(wanted), "jobs/j2/other.txt", "aaa", "zzz"]:
        aws.put_object("docs", key, b"x")

    pages = list(
        session.client("s3").get_paginator("list_objects_v2").paginate(Bucket="docs", Prefix="jobs/j1/")
    )

    assert [page["KeyCount"] for page in pages] == [1000, 1000, 500]
    assert [obj["Key"] for page in pages for obj in page["Contents"]] == wanted
    assert pages[0]["Contents"][0]["Size"] == 1
    assert aws.keys("docs", "jobs/j1/") == wanted
    assert aws.calls() == {"s3:ListObjectsV2": 3}


def test_upload_file_goes_multipart_and_reads_back_identical(tmp_path):
    aws, session = standin()
    data = os.urandom(20 * 1024 * 1024)
    path = tmp_path / "results.ndjson"
    path.write_bytes(data)
    s3 = session.client("s3")

    s3.upload_file(str(path), "docs", "results/j1.ndjson", ExtraArgs={"ContentType": "application/x-ndjson"})

    calls = aws.calls()
    assert calls["s3:CreateMultipartUpload"] == 1
    assert calls["s3:UploadPart"] == 3
    assert calls["s3:CompleteMultipartUpload"] == 1
    assert "s3:PutObject" not in calls
    assert aws.get_object_body("docs", "results/j1.ndjson") == data
    got = s3.get_object(Bucket="docs", Key="results/j1.ndjson")
    assert got["ContentType"] == "application/x-ndjson"
    assert got["ETag"].endswith('-3"')
    assert got["Body"].read() == data


def jobs_table(session: boto3.session.Session):
    dynamodb = session.resource("dynamodb")
    return dynamodb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_dynamodb_single_item_calls_go_through_moto():
    aws, session = standin()
    table = jobs_table(session)
    table.put_item(Item={"job_id": "j1", "state": "open", "count": 0})
    table.update_item(
        Key={"job_id": "j1"},
        UpdateExpression="SET #s = :new ADD #c :one",
        ConditionExpression="#s = :old",
        ExpressionAttributeNames={"#s": "state", "#c": "count"},
        ExpressionAttributeValues={":new": "closed", ":old": "open", ":one": 1},
    )
    assert table.get_item(Key={"job_id": "j1"})["Item"] == {"job_id": "j1", "state": "closed", "count": 1}

    with pytest.raises(ClientError) as failed:
        table.update_item(
            Key={"job_id": "j1"},
            UpdateExpression="SET #s = :new",
            ConditionExpression="#s = :old",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":new": "closed", ":old": "open"},
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert aws.calls() == {
        "dynamodb:CreateTable": 1,
        "dynamodb:PutItem": 1,
        "dynamodb:UpdateItem": 2,
        "dynamodb:GetItem": 1,
    }


def insert(job_id: str, **extra: str) -> dict:
    item = {"job_id": {"S": job_id}, **{name: {"S": value} for name, value in extra.items()}}
    return {
        "Put": {
            "TableName": "jobs",
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#k)",
            "ExpressionAttributeNames": {"#k": "job_id"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def test_insert_only_transactions_are_atomic(monkeypatch):
    aws, session = standin()
    delegated = []  # transactions moto itself answered (it deep-copies the tables)
    moto_transact = DynamoDBBackend.transact_write_items
    monkeypatch.setattr(
        DynamoDBBackend, "transact_write_items", lambda *a, **k: delegated.append(1) or moto_transact(*a, **k)
    )
    table = jobs_table(session)
    client = session.client("dynamodb")
    client.transact_write_items(TransactItems=[insert(f"doc-{n:03d}", n=str(n)) for n in range(100)])
    assert table.get_item(Key={"job_id": "doc-042"})["Item"] == {"job_id": "doc-042", "n": "42"}
    assert table.scan(Select="COUNT")["Count"] == 100

    items = [insert("doc-007"), *(insert(f"new-{n}") for n in range(3))]
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=items)
    reasons = cancelled.value.response["CancellationReasons"]
    assert reasons[0] == {
        "Code": "ConditionalCheckFailed",
        "Message": "The conditional request failed",
        "Item": {"job_id": {"S": "doc-007"}, "n": {"S": "7"}},
    }
    assert [reason["Code"] for reason in reasons[1:]] == ["None"] * 3
    assert "new-0" not in {item["job_id"] for item in table.scan()["Items"]}
    assert table.scan(Select="COUNT")["Count"] == 100

    with pytest.raises(ClientError) as twice:
        client.transact_write_items(TransactItems=[insert("again"), insert("again")])
    assert twice.value.response["Error"]["Code"] == "ValidationException"
    # Any other shape is moto's.
    update = {"TableName": "jobs", "Key": {"job_id": {"S": "doc-001"}}, "UpdateExpression": "SET n = :n"}
    update["ExpressionAttributeValues"] = {":n": {"S": "one"}}
    client.transact_write_items(TransactItems=[{"Update": update}])
    assert table.get_item(Key={"job_id": "doc-001"})["Item"]["n"] == "one"
    assert aws.calls()["dynamodb:TransactWriteItems"] == 4
    assert delegated == [1]


def test_latency_is_slept_outside_the_lock():
    # Each sleep waits until all eight are sleeping at once: held inside a lock, they could not.
    together = threading.Barrier(8, timeout=60)  # bounds a broken run only
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        together.wait()

    aws = InMemoryAws(sleep=sleep)
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws.install(session)
    aws.create_bucket("docs")
    for n in range(8):
        aws.put_object("docs", f"k{n}", b"x")
    s3 = session.client("s3")
    s3.get_object(Bucket="docs", Key="k0")["Body"].read()  # botocore's lazy loading, done once
    aws.reset_calls()
    aws.latency = Latency(s3_get=0.05)

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda n: s3.get_object(Bucket="docs", Key=f"k{n}")["Body"].read(), range(8)))

    assert bodies == [b"x"] * 8
    assert slept == [0.05] * 8
    assert aws.calls() == {"s3:GetObject": 8}
    aws.latency = Latency()
    s3.get_object(Bucket="docs", Key="k0")
    assert slept == [0.05] * 8  # no latency, no sleep


def test_latency_is_slept_for_real_by_default():
    aws, session = standin(Latency(s3_get=0.05))
    aws.put_object("docs", "k", b"x")
    s3 = session.client("s3")
    started = time.perf_counter()
    s3.get_object(Bucket="docs", Key="k")
    assert time.perf_counter() - started >= 0.05  # a lower bound: a loaded machine only adds to it


def test_calls_are_counted_and_reset():
    aws, session = standin()
    s3 = session.client("s3")
    s3.put_object(Bucket="docs", Key="a", Body=b"1")
    s3.put_object(Bucket="docs", Key="b", Body=b"2")
    s3.get_object(Bucket="docs", Key="a")
    snapshot = aws.calls()
    assert snapshot == {"s3:PutObject": 2, "s3:GetObject": 1}

    aws.reset_calls()
    assert aws.calls() == {}
    assert snapshot == {"s3:PutObject": 2, "s3:GetObject": 1}
    with pytest.raises(ClientError) as unsupported:
        s3.copy_object(Bucket="docs", Key="c", CopySource={"Bucket": "docs", "Key": "a"})
    assert unsupported.value.response["Error"]["Code"] == "NotImplemented"
    assert aws.calls() == {"s3:Unsupported": 1}
