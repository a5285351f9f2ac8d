"""In-memory S3 and DynamoDB at the botocore HTTP layer, for benchmarks where S3 speed is not the subject.

Real boto3 clients do all their own work (serialising, signing, retries, parsing); only the network is
replaced, by a ``before-send`` handler that answers with a ``botocore.awsrequest.AWSResponse``. A bare
boto3 call answered that way costs ~1.1 ms here. moto's ``mock_aws`` was measured at ~4 ms a call (its
stubber tries every service's URL patterns, and reloads modules for S3), and moto's
``transact_write_items`` deep-copies the whole table on every call: neither is usable at 100,000
documents. So S3 is implemented here (a dict per bucket, plus a sorted key list for listings), and
DynamoDB is handed to moto's backend through its ``BotocoreStubber``, for DynamoDB requests only and
without ``mock_aws``; the hot transaction shape (insert-only Puts, ``attribute_not_exists`` of the hash
key) is done here, without the copy.

Each instance has its own moto account id, so its DynamoDB tables are its own. The latency is slept
outside every lock, so concurrent callers overlap as they would on a network.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import threading
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.exceptions import MultipleTransactionsException, TransactionCanceledException
from moto.dynamodb.models import dynamodb_backends

_MOTO_LOCK = threading.Lock()  # moto is not thread-safe, its backends are module-level (one for all
# instances), and DynamoDB's conditional writes are atomic.
_ACCOUNTS = itertools.count(900_000_000_001)
_VHOST = re.compile(r"(?P<bucket>.+?)\.s3[.-]")  # bucket.s3.amazonaws.com, bucket.s3.us-east-1...
_SCOPE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/")  # the SigV4 credential scope's region
_NOT_EXISTS = re.compile(r"\s*attribute_not_exists\s*\(\s*(#?\w+)\s*\)\s*")
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # ListObjectsV2 -> _s3_list_objects_v2
_READS = frozenset({"GetObject", "HeadObject", "ListObjectsV2", "HeadBucket"})
_QUERY = frozenset({"versionId", "uploadId", "partNumber", "uploads", "x-id", "list-type", "prefix"})
_QUERY |= {"max-keys", "continuation-token", "start-after", "encoding-type", "fetch-owner"}
_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
_Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Latency:
    """Seconds slept per request (outside any lock), to stand in for the network."""

    s3_get: float = 0.0  # GetObject, HeadObject, ListObjectsV2
    s3_put: float = 0.0  # PutObject, UploadPart, Create/Complete/AbortMultipartUpload, DeleteObject
    dynamodb: float = 0.0  # every DynamoDB call


class _Raw(BytesIO):
    """AWSResponse's ``raw``, as moto's MockRawResponse: ``stream()`` for the parsers, ``read(amt)``
    for the StreamingBody of GetObject."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(1 << 20):
            yield chunk


@dataclass(frozen=True)
class _Object:
    body: bytes
    content_type: str
    metadata: dict[str, str]
    etag: str
    modified: float = field(default_factory=time.time)

    def headers(self) -> dict[str, str]:
        meta = {f"x-amz-meta-{name}": value for name, value in self.metadata.items()}
        answer = {"ETag": self.etag, "Content-Type": self.content_type, "Content-Length": str(len(self.body))}
        return answer | {"Last-Modified": formatdate(self.modified, usegmt=True), **meta}


@dataclass
class _Bucket:
    objects: dict[str, _Object] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted, for listings

    def put(self, key: str, obj: _Object) -> None:
        if key not in self.objects:
            insort(self.keys, key)
        self.objects[key] = obj


@dataclass(frozen=True)
class _Call:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def new_object(self, body: bytes | None = None, etag: str = "") -> _Object:
        meta = {name[11:]: value for name, value in self.headers.items() if name.startswith("x-amz-meta-")}
        content_type = self.headers.get("content-type", "binary/octet-stream")
        return _object(self.body if body is None else body, content_type, meta, etag)


@dataclass
class _Upload:
    call: _Call  # CreateMultipartUpload's: bucket, key, content type, metadata
    parts: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # number: (data, md5 digest)
    discarded: dict[int, int] = field(default_factory=dict)  # number: size, of parts not kept


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _object(body: bytes, content_type: str, metadata: dict[str, str], etag: str = "") -> _Object:
    metadata = {name.lower(): value for name, value in metadata.items()}  # as S3 does
    return _Object(body, content_type, metadata, etag or f'"{_md5(body).hex()}"')


def _xml(status: int, document: str) -> _Answer:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{document}'.encode()
    return status, {"Content-Type": "application/xml"}, body


def _error(status: int, code: str, message: str, **fields: str) -> _Answer:
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return _xml(status, f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}</Error>")


def _no_bucket(bucket: str) -> _Answer:
    return _error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)


def _no_upload() -> _Answer:
    return _error(404, "NoSuchUpload", "The specified upload does not exist.")


def _headers(request: AWSPreparedRequest) -> dict[str, str]:
    """Lower-case names, str values (botocore's are bytes by now)."""
    return {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}


def _body(body: Any, headers: dict[str, str]) -> bytes:
    if body is None or isinstance(body, bytes | bytearray | str):
        data = body.encode() if isinstance(body, str) else bytes(body or b"")
    else:
        data = body.read()  # file-like: BytesIO, s3transfer's ReadFileChunk, botocore's AwsChunkedWrapper
    if "aws-chunked" not in headers.get("content-encoding", ""):  # botocore's trailing-checksum uploads
        return data
    chunks: list[bytes] = []
    at = 0  # <hex size>[;extension]\r\n<data>\r\n ... 0\r\n<trailers>\r\n\r\n
    while size := int(data[at : (eol := data.index(b"\r\n", at))].split(b";")[0], 16):
        chunks.append(data[eol + 2 : eol + 2 + size])
        at = eol + 4 + size
    return b"".join(chunks)


def _response(request: AWSPreparedRequest, answer: _Answer) -> AWSResponse:
    status, headers, body = answer  # (botocore-stubs want HTTPHeaders; AWSResponse takes any mapping)
    return AWSResponse(request.url, status, headers, _Raw(body))  # type: ignore[arg-type]


def _operation(method: str, key: str, query: dict[str, str], headers: dict[str, str]) -> str:
    if set(query) - _QUERY or "x-amz-copy-source" in headers:
        return "Unsupported"
    if method == "GET":
        return "GetObject" if key else "ListObjectsV2" if query.get("list-type") == "2" else "Unsupported"
    if method == "HEAD":
        return "HeadObject" if key else "HeadBucket"
    if method == "PUT":
        return "CreateBucket" if not key else "UploadPart" if "uploadId" in query else "PutObject"
    if method == "POST" and key and ("uploads" in query or "uploadId" in query):
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE" and key:
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return "Unsupported"


class InMemoryAws:
    """S3 (here) and DynamoDB (moto's backend) for the boto3 clients of the sessions it is installed in."""

    def __init__(self, latency: Latency = Latency(), sleep: Callable[[float], None] = time.sleep) -> None:
        self.latency = latency
        self.sleep = sleep  # how the latency is waited out (tests pass their own)
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._uploads: dict[str, _Upload] = {}
        self._calls: Counter[str] = Counter()
        self._account = str(next(_ACCOUNTS))
        self._moto = BotocoreStubber()
        self._moto.enabled = True
        # Objects written under these prefixes are counted, not kept: a benchmark of memory
        # must not count the stand-in's copy of what the code under test wrote.
        self.discard_prefixes: tuple[str, ...] = ()
        self.discarded_objects = 0
        self.discarded_bytes = 0
        self.discarded_bytes_by_prefix: Counter[str] = Counter()
        self.discarded_sample: tuple[str, dict[str, str]] | None = None  # a content type and metadata

    def install(self, session: boto3.session.Session | None = None) -> None:
        """Answer every S3 and DynamoDB request of clients created afterwards from this session
        (default: boto3's default session, created with boto3.setup_default_session() if needed)."""
        if session is None:
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            session = boto3.DEFAULT_SESSION
            assert session is not None
        # Clients copy the session's handlers when they are created (botocore/args.py), not later.
        handlers: dict[str, Callable[..., Any]] = {"s3": self._s3, "dynamodb": self._dynamodb}
        for service, handler in handlers.items():
            unique_id = f"batchdrop-standin-{service}-{id(self)}"
            session.events.register_first(f"before-send.{service}", handler, unique_id=unique_id)

    def install_everywhere(self) -> None:
        """Answer the S3 and DynamoDB requests of every botocore session created afterwards (the
        functions make their own, see batchdrop.adapters.sessions), as moto's mock does."""
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.append(("before-send.s3", self._s3))
        BUILTIN_HANDLERS.append(("before-send.dynamodb", self._dynamodb))

    def create_bucket(self, name: str) -> None:
        with self._lock:
            self._buckets.setdefault(name, _Bucket())

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str = "binary/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Seed an object directly: no boto3, not counted."""
        obj = _object(body, content_type, metadata or {})
        with self._lock:
            self._buckets[bucket].put(key, obj)

    def get_object_body(self, bucket: str, key: str) -> bytes:
        with self._lock:
            return self._buckets[bucket].objects[key].body

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            keys = self._buckets[bucket].keys
            return list(
                itertools.takewhile(lambda k: k.startswith(prefix), keys[bisect_left(keys, prefix) :])
            )

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # S3: each operation is _s3_<snake case name>(call) -> (status, headers, body) ----------------------
    def _s3(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        if vhost := _VHOST.match(url.hostname or ""):
            bucket, key = vhost["bucket"], url.path[1:]
        else:
            bucket, _sep, key = url.path[1:].partition("/")
        query = {name: values[-1] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
        headers = _headers(request)
        operation = _operation(request.method, unquote(key), query, headers)
        body = _body(request.body, headers) if request.method in ("PUT", "POST") else b""
        with self._lock:
            self._calls[f"s3:{operation}"] += 1
        if delay := self.latency.s3_get if operation in _READS else self.latency.s3_put:
            self.sleep(delay)
        handler = getattr(self, "_s3_" + _SNAKE.sub("_", operation).lower())
        call = _Call(request.method, unquote(bucket), unquote(key), query, headers, body)
        status, answer_headers, payload = handler(call)
        return _response(request, (status, answer_headers, b"" if request.method == "HEAD" else payload))

    def _s3_unsupported(self, c: _Call) -> _Answer:
        what = f"{c.method} on bucket {c.bucket!r}, key {c.key!r}, query {sorted(c.query)}"
        return _error(501, "NotImplemented", f"The in-memory stand-in does not implement {what}")

    def _s3_create_bucket(self, c: _Call) -> _Answer:
        self.create_bucket(c.bucket)
        return 200, {"Location": f"/{c.bucket}"}, b""

    def _s3_head_bucket(self, c: _Call) -> _Answer:
        with self._lock:
            return (200 if c.bucket in self._buckets else 404), {}, b""

    def _s3_put_object(self, c: _Call, obj: _Object | None = None) -> _Answer:
        obj = obj or c.new_object()
        with self._lock:
            if c.bucket not in self._buckets:
                return _no_bucket(c.bucket)
            if self.discard_prefixes and c.key.startswith(self.discard_prefixes):
                prefix = next(p for p in self.discard_prefixes if c.key.startswith(p))
                self.discarded_objects += 1
                self.discarded_bytes += len(obj.body)
                self.discarded_bytes_by_prefix[prefix] += len(obj.body)
                self.discarded_sample = (obj.content_type, dict(obj.metadata))
            else:
                self._buckets[c.bucket].put(c.key, obj)
        return 200, {"ETag": obj.etag}, b""

    def _s3_get_object(self, c: _Call) -> _Answer:  # and HeadObject: _s3 drops the body
        with self._lock:
            found = self._buckets.get(c.bucket)
            obj = found.objects.get(c.key) if found else None
        if obj is None:
            if found is None:
                return _no_bucket(c.bucket)
            return _error(404, "NoSuchKey", "The specified key does not exist.", Key=c.key)
        answer, size = obj.headers(), len(obj.body)
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", c.headers.get("range", ""))  # s3transfer's downloads
        if not ranged or not (ranged[1] or ranged[2]):
            return 200, answer, obj.body
        start = int(ranged[1]) if ranged[1] else max(size - int(ranged[2]), 0)
        end = min(int(ranged[2]), size - 1) if ranged[1] and ranged[2] else size - 1
        answer |= {"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end + 1 - start)}
        return 206, answer, obj.body[start : end + 1]

    _s3_head_object = _s3_get_object

    def _s3_list_objects_v2(self, c: _Call) -> _Answer:
        prefix, max_keys, token = c.query.get("prefix", ""), int(c.query.get("max-keys", "1000")), ""
        after = c.query.get("start-after", "")
        if token := c.query.get("continuation-token", ""):
            after = base64.urlsafe_b64decode(token).decode()
        with self._lock:
            if (found := self._buckets.get(c.bucket)) is None:
                return _no_bucket(c.bucket)
            keys, at = found.keys, max(bisect_right(found.keys, after), bisect_left(found.keys, prefix))
            page: list[tuple[str, _Object]] = []
            while at < len(keys) and len(page) < max_keys and keys[at].startswith(prefix):
                page.append((keys[at], found.objects[keys[at]]))
                at += 1
            truncated = bool(page) and at < len(keys) and keys[at].startswith(prefix)
        encode = c.query.get("encoding-type") == "url"  # botocore asks for it, then unquotes the keys

        def text(value: str) -> str:
            return escape(quote(value, safe="/") if encode else value)

        parts = [f"<ListBucketResult {_NS}><Name>{escape(c.bucket)}</Name><Prefix>{text(prefix)}</Prefix>"]
        parts.append(f"<MaxKeys>{max_keys}</MaxKeys><KeyCount>{len(page)}</KeyCount>")
        parts.append(f"<IsTruncated>{str(truncated).lower()}</IsTruncated>")
        parts.append("<EncodingType>url</EncodingType>" if encode else "")
        parts.append(f"<ContinuationToken>{token}</ContinuationToken>" if token else "")
        parts.append(
            f"<StartAfter>{text(c.query['start-after'])}</StartAfter>" if "start-after" in c.query else ""
        )
        if truncated:
            next_token = base64.urlsafe_b64encode(page[-1][0].encode()).decode()
            parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        for name, obj in page:
            modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(obj.modified))
            parts.append(
                f"<Contents><Key>{text(name)}</Key><LastModified>{modified}</LastModified>"
                f"<ETag>{escape(obj.etag)}</ETag><Size>{len(obj.body)}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        return _xml(200, "".join(parts) + "</ListBucketResult>")

    def _s3_delete_object(self, c: _Call) -> _Answer:
        with self._lock:
            if (found := self._buckets.get(c.bucket)) is None:
                return _no_bucket(c.bucket)
            if found.objects.pop(c.key, None) is not None:
                del found.keys[bisect_left(found.keys, c.key)]
        return 204, {}, b""

    def _s3_create_multipart_upload(self, c: _Call) -> _Answer:
        upload_id = uuid.uuid4().hex
        with self._lock:
            if c.bucket not in self._buckets:
                return _no_bucket(c.bucket)
            self._uploads[upload_id] = _Upload(c)
        names = (
            f"<Bucket>{escape(c.bucket)}</Bucket><Key>{escape(c.key)}</Key><UploadId>{upload_id}</UploadId>"
        )
        return _xml(200, f"<InitiateMultipartUploadResult {_NS}>{names}</InitiateMultipartUploadResult>")

    def _s3_upload_part(self, c: _Call) -> _Answer:
        digest = _md5(c.body)
        with self._lock:
            if (upload := self._uploads.get(c.query["uploadId"])) is None:
                return _no_upload()
            number = int(c.query["partNumber"])
            if self.discard_prefixes and upload.call.key.startswith(self.discard_prefixes):
                upload.parts[number], upload.discarded[number] = (b"", digest), len(c.body)
            else:
                upload.parts[number] = (c.body, digest)
        return 200, {"ETag": f'"{digest.hex()}"'}, b""

    def _s3_complete_multipart_upload(self, c: _Call) -> _Answer:
        listed = [int(number) for number in re.findall(rb"<PartNumber>\s*(\d+)\s*</PartNumber>", c.body)]
        with self._lock:
            if (upload := self._uploads.get(c.query["uploadId"])) is None:
                return _no_upload()
            numbers = sorted(listed or upload.parts)
            if not numbers or any(number not in upload.parts for number in numbers):
                return _error(400, "InvalidPart", "One or more of the specified parts could not be found.")
            del self._uploads[c.query["uploadId"]]
        parts = [upload.parts[number] for number in numbers]
        etag = f'"{_md5(b"".join(digest for _, digest in parts)).hex()}-{len(parts)}"'
        stored = self._s3_put_object(c, upload.call.new_object(b"".join(data for data, _ in parts), etag))
        if upload.discarded:  # counted as written in full
            prefix = next(p for p in self.discard_prefixes if c.key.startswith(p))
            size = sum(upload.discarded.values())
            with self._lock:
                self.discarded_bytes += size
                self.discarded_bytes_by_prefix[prefix] += size
        if stored[0] != 200:
            return stored
        names = f"<Bucket>{escape(c.bucket)}</Bucket><Key>{escape(c.key)}</Key><ETag>{escape(etag)}</ETag>"
        return _xml(200, f"<CompleteMultipartUploadResult {_NS}>{names}</CompleteMultipartUploadResult>")

    def _s3_abort_multipart_upload(self, c: _Call) -> _Answer:
        with self._lock:
            self._uploads.pop(c.query["uploadId"], None)
        return 204, {}, b""

    # DynamoDB ---------------------------------------------------------------------------------------
    def _dynamodb(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        headers = _headers(request)
        operation = headers.get("x-amz-target", "").rpartition(".")[2]
        with self._lock:
            self._calls[f"dynamodb:{operation}"] += 1
        if self.latency.dynamodb:
            self.sleep(self.latency.dynamodb)
        scope = _SCOPE.search(headers.get("authorization", ""))
        region = scope[1] if scope else "us-east-1"
        # The URL moto's patterns know, whatever endpoint the client was given; this instance's account.
        request.url = f"https://dynamodb.{region}.amazonaws.com/"
        request.headers["x-moto-account-id"] = self._account
        with _MOTO_LOCK:
            if operation == "TransactWriteItems" and (answer := self._insert_only(request, region)):
                return answer
            return self._moto("before-send.dynamodb", request)

    def _insert_only(self, request: AWSPreparedRequest, region: str) -> AWSResponse | None:
        """TransactWriteItems of Puts conditioned on attribute_not_exists(hash key), without moto's
        deep copy of every table involved; None for any other shape, which moto answers."""
        body: Any = request.body
        items = json.loads(body or b"{}").get("TransactItems") or []
        backend = dynamodb_backends[os.environ.get("MOTO_ACCOUNT_ID", self._account)][region]
        puts: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for entry in items:
            put = entry.get("Put") or {}
            names = put.get("ExpressionAttributeNames", {})
            condition = _NOT_EXISTS.fullmatch(put.get("ConditionExpression", ""))
            table = backend.tables.get(put.get("TableName", ""))
            if len(entry) != 1 or not condition or table is None or "ExpressionAttributeValues" in put:
                return None
            if names.get(condition[1], condition[1]) != table.hash_key_attr or set(names) - {condition[1]}:
                return None
            key_names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
            if any(name not in put.get("Item", {}) for name in key_names):
                return None  # moto's validation error
            puts.append((put, {name: put["Item"][name] for name in key_names}))
        if not 0 < len(puts) <= 100:
            return None
        if len({(put["TableName"], json.dumps(key, sort_keys=True)) for put, key in puts}) < len(puts):
            return self._moto_error(request, MultipleTransactionsException())
        reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for put, key in puts:
            if (current := backend.get_item(put["TableName"], key)) is None:
                reasons.append((None, None, None))
                continue
            old = put.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            item = current.to_json()["Attributes"] if old else None
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", item))
        if any(code for code, _, _ in reasons):
            return self._moto_error(request, TransactionCanceledException(reasons))
        for put, _ in puts:
            backend.put_item(put["TableName"], put["Item"])
        return _response(request, (200, {"Content-Type": "application/x-amz-json-1.0"}, b"{}"))

    @staticmethod
    def _moto_error(request: AWSPreparedRequest, error: Any) -> AWSResponse:
        """moto's own wire shape for its DynamoDB exceptions, as its stubber answers them."""
        return _response(request, (error.code, dict(error.get_headers()), error.get_body().encode()))
