"""Faults on the AWS side of the local stack, answered as the real services answer them.

The local stack serves moto's application behind ``AwsFaultMiddleware``. Each request is
identified as botocore sent it: the service from the SigV4 credential scope, the operation from
``X-Amz-Target`` (JSON services), ``Action`` (query services) or the method, path and query of
an S3 request. An armed ``FaultRule`` makes chosen calls fail with the service's own error in its
own protocol, so botocore parses it, and retries it or not, exactly as against AWS:

- S3 (REST-XML): ``<Error><Code>`` bodies, none for HEAD (botocore then reports the status).
- DynamoDB (JSON 1.0, ``__type`` and ``x-amz-crc32``), EventBridge (JSON 1.1), SQS (JSON 1.0
  with the query-compatible ``x-amzn-query-error`` header).
- SNS (query): ``<ErrorResponse><Error><Type><Code><Message>``.

Kinds: ``throttle`` (the service's throttling error), ``error`` (its 500), ``after-effect`` (the
call is forwarded to moto and takes effect, then a 500 is answered: the answer is lost),
``access-denied``, ``explicit`` (``status`` and ``code`` given), and for EventBridge PutEvents
``partial`` (200 with ``FailedEntryCount`` and ``ErrorCode: ThrottlingException`` for the
entries that match, which are not delivered; the others are). ``status``/``code``/``message``
override any kind's answer.

A rule counts the calls that match it (service, operation, optional ``match`` substring of the
S3 key or of the request body, optional ``caller``); calls ``nth`` to ``nth + count - 1`` fail.
Rules are evaluated in the order they were armed; the first whose window covers a call answers
it. The admin path ``/_batchdrop/aws-faults`` (an S3 bucket name cannot start with ``_``, and moto
serves its own under ``/moto-api``) arms, lists and clears rules over HTTP, and
``batchdrop local aws-fault`` uses it against a running local stack.

botocore 1.44 (the local virtualenv's) retries in its "standard" mode by default: 3 attempts in
all (DynamoDB 4) for throttling codes and 500/502/503/504, with jittered exponential backoff. So
a rule with ``count=1`` on a retried kind is absorbed by the SDK; ``count >= 3`` (4 for DynamoDB)
reaches the caller as a ClientError.

This module imports no moto at import time, so that the CLI stays light.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus

from batchdrop_local.s3_fidelity import s3_limit_refusal

ADMIN_PATH = "/_batchdrop/aws-faults"
SERVICES = ("s3", "dynamodb", "sns", "events", "sqs", "secretsmanager")
KINDS = ("throttle", "error", "after-effect", "access-denied", "explicit", "partial")
# The local stack's functions send ``app/lambda.<LogicalId>`` in their User-Agent
# (AWS_SDK_UA_APP_ID), so that a rule can target the functions and leave the stack's own
# pollers and the tests' clients alone.
FUNCTION_APP_PREFIX = "lambda."

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request")
_APP_ID = re.compile(r"(?:^|\s)app/(\S+)")
_SIGNING_ALIASES = {"eventbridge": "events"}

# DynamoDB operations on items throttle with ProvisionedThroughputExceededException; the rest
# (control plane) with ThrottlingException.
_DYNAMODB_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


@dataclass(frozen=True)
class AwsCall:
    """One request as the fault rules see it."""

    service: str
    operation: str
    subject: str  # what ``match`` searches: the S3 key (or list prefix), else the request body
    caller: str  # the User-Agent's app id, "" when none
    method: str = "POST"


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str
    message: str


def default_answer(service: str, operation: str, kind: str) -> ErrorAnswer:
    """The error the real service answers for ``kind``."""
    if kind in ("after-effect", "partial"):
        kind = "error" if kind == "after-effect" else "throttle"
    table: dict[str, dict[str, ErrorAnswer]] = {
        "s3": {
            "throttle": ErrorAnswer(503, "SlowDown", "Please reduce your request rate."),
            "error": ErrorAnswer(500, "InternalError", "We encountered an internal error. Please try again."),
            "access-denied": ErrorAnswer(403, "AccessDenied", "Access Denied"),
        },
        "dynamodb": {
            "throttle": ErrorAnswer(
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. "
                "Consider increasing your provisioning level with the UpdateTable API.",
            )
            if operation in _DYNAMODB_ITEM_OPERATIONS
            else ErrorAnswer(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
            "error": ErrorAnswer(500, "InternalServerError", "Internal server error"),
            "access-denied": ErrorAnswer(
                400,
                "AccessDeniedException",
                f"User is not authorized to perform: dynamodb:{operation} because no identity-based "
                "policy allows the dynamodb action",
            ),
        },
        "sns": {
            "throttle": ErrorAnswer(400, "Throttling", "Rate exceeded"),
            "error": ErrorAnswer(500, "InternalError", "Internal Error"),
            "access-denied": ErrorAnswer(
                403, "AuthorizationError", f"User is not authorized to perform: SNS:{operation}"
            ),
        },
        "events": {
            "throttle": ErrorAnswer(400, "ThrottlingException", "Rate exceeded."),
            "error": ErrorAnswer(500, "InternalException", "Internal service error."),
            "access-denied": ErrorAnswer(
                400, "AccessDeniedException", f"User is not authorized to perform: events:{operation}"
            ),
        },
        "secretsmanager": {  # JSON 1.1, as EventBridge
            "throttle": ErrorAnswer(400, "ThrottlingException", "Rate exceeded"),
            "error": ErrorAnswer(500, "InternalServiceError", "An error occurred on the server side."),
            "access-denied": ErrorAnswer(
                400,
                "AccessDeniedException",
                f"User is not authorized to perform: secretsmanager:{operation} because no identity-based "
                "policy allows the secretsmanager:GetSecretValue action",
            ),
        },
        "sqs": {
            # botocore's legacy retry policy for SQS retries RequestThrottled with 403.
            "throttle": ErrorAnswer(403, "RequestThrottled", "Request is throttled."),
            "error": ErrorAnswer(500, "InternalError", "We encountered an internal error. Please try again."),
            "access-denied": ErrorAnswer(403, "AccessDenied", "Access to the resource is denied."),
        },
    }
    return table[service][kind]


# Messages of errors that are often armed explicitly (S3's error-code list).
_MESSAGES = {
    "InvalidObjectState": "The operation is not valid for the object's storage class",
    "InvalidRequest": "Invalid Request",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "ServiceUnavailable": "Service is unable to handle request.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
}


@dataclass
class FaultRule:
    """An armed fault. ``seen`` counts the calls that matched, ``served`` the faults answered."""

    id: str
    service: str
    operation: str | None
    kind: str
    nth: int = 1
    count: int | None = 1  # None: every matching call from the nth on
    match: str | None = None
    caller: str | None = None  # None: anyone; "functions": any function; or a function's logical id
    status: int | None = None
    code: str | None = None
    message: str | None = None
    seen: int = 0
    served: int = 0

    def matches(self, call: AwsCall) -> bool:
        if call.service != self.service:
            return False
        if self.operation not in (None, "*") and call.operation != self.operation:
            return False
        if self.match is not None and self.match not in call.subject:
            return False
        if self.caller is None:
            return True
        if self.caller == "functions":
            return call.caller.startswith(FUNCTION_APP_PREFIX)
        return call.caller in (self.caller, FUNCTION_APP_PREFIX + self.caller)

    def covers(self, seen: int) -> bool:
        return seen >= self.nth and (self.count is None or seen < self.nth + self.count)

    @property
    def remaining(self) -> int | None:
        """Faults still to serve; None when unlimited."""
        if self.count is None:
            return None
        return max(0, min(self.count, self.nth + self.count - 1 - self.seen))

    def answer(self, operation: str) -> ErrorAnswer:
        base = (
            ErrorAnswer(self.status or 400, self.code or "", _MESSAGES.get(self.code or "", self.code or ""))
            if self.kind == "explicit"
            else default_answer(self.service, operation, self.kind)
        )
        return ErrorAnswer(
            self.status or base.status, self.code or base.code, self.message if self.message else base.message
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "operation": self.operation,
            "kind": self.kind,
            "nth": self.nth,
            "count": self.count,
            "match": self.match,
            "caller": self.caller,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "seen": self.seen,
            "served": self.served,
            "remaining": self.remaining,
        }


class AwsFaults:
    """The armed rules of one local stack. Thread-safe: moto answers on many threads."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._calls: Counter[str] = Counter()

    def arm(
        self,
        service: str,
        operation: str | None = None,
        kind: str = "error",
        *,
        nth: int = 1,
        count: int | None = 1,
        match: str | None = None,
        caller: str | None = None,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> FaultRule:
        """Arm a fault: the ``nth`` matching call and the ``count - 1`` after it fail."""
        service = _SIGNING_ALIASES.get(service.lower(), service.lower())
        if service not in SERVICES:
            raise ValueError(f"service must be one of {', '.join(SERVICES)}, not {service!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "explicit" and not (status and code):
            raise ValueError("an explicit fault needs a status and a code")
        if kind == "partial" and (service, operation) != ("events", "PutEvents"):
            raise ValueError("a partial fault is for events PutEvents only")
        if nth < 1 or (count is not None and count < 1):
            raise ValueError("nth and count start at 1 (count None: no end)")
        with self._changed:
            rule = FaultRule(
                id=f"f{next(self._ids)}",
                service=service,
                operation=operation or None,
                kind=kind,
                nth=nth,
                count=count,
                match=match,
                caller=caller,
                status=status,
                code=code,
                message=message,
            )
            self._rules.append(rule)
            self._changed.notify_all()
        return rule

    def arm_from_dict(self, spec: dict[str, Any]) -> FaultRule:
        allowed = {
            "service",
            "operation",
            "kind",
            "nth",
            "count",
            "match",
            "caller",
            "status",
            "code",
            "message",
        }
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "service" not in spec:
            raise ValueError("a fault needs a service")
        kwargs = {k: v for k, v in spec.items() if k not in ("service", "operation", "kind")}
        return self.arm(spec["service"], spec.get("operation"), spec.get("kind", "error"), **kwargs)

    def disarm(self, rule_id: str) -> bool:
        with self._changed:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            self._changed.notify_all()
            return len(self._rules) < before

    def clear(self) -> int:
        """Remove every rule (their counts go with them); the call counts stay."""
        with self._changed:
            removed = len(self._rules)
            self._rules = []
            self._changed.notify_all()
            return removed

    def stats(self) -> list[dict[str, Any]]:
        """Every rule with the calls it matched (``seen``) and the faults it served."""
        with self._changed:
            return [r.to_dict() for r in self._rules]

    def pending(self) -> list[dict[str, Any]]:
        """The rules with faults still to serve."""
        with self._changed:
            return [r.to_dict() for r in self._rules if r.remaining is None or r.remaining > 0]

    def calls(self) -> dict[str, int]:
        """Requests seen per ``service:Operation`` since the stack started."""
        with self._changed:
            return dict(self._calls)

    def wait_served(self, rule: FaultRule | str, served: int | None = None, timeout: float = 60.0) -> bool:
        """Block until the rule has served ``served`` faults (default: all of its count)."""
        rule_id = rule if isinstance(rule, str) else rule.id
        with self._changed:

            def done() -> bool:
                current = next((r for r in self._rules if r.id == rule_id), None)
                if current is None:
                    return True
                wanted = served if served is not None else current.count
                return wanted is not None and current.served >= wanted

            return self._changed.wait_for(done, timeout)

    def decide(self, call: AwsCall) -> tuple[FaultRule, ErrorAnswer] | None:
        """Count the call against every rule it matches; the fault to answer, if any."""
        with self._changed:
            self._calls[f"{call.service}:{call.operation}"] += 1
            chosen: FaultRule | None = None
            for rule in self._rules:
                if rule.matches(call):
                    rule.seen += 1
                    if chosen is None and rule.covers(rule.seen):
                        chosen = rule
            if chosen is None:
                return None
            chosen.served += 1
            self._changed.notify_all()
            return chosen, chosen.answer(call.operation)


# --- identifying a request ---------------------------------------------------------------


def _read_body(environ: Environ) -> bytes:
    """The request body, left in place for moto to read again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _path_bytes(environ: Environ) -> bytes:
    # PEP 3333: PATH_INFO holds the URL-decoded bytes as a latin-1 string.
    path = environ.get("PATH_INFO", "")
    return path.encode("latin-1") if isinstance(path, str) else bytes(path)


_BUCKET_SUBRESOURCES = {
    "versioning": "BucketVersioning",
    "notification": "BucketNotificationConfiguration",
    "location": "BucketLocation",
    "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock",
    "policy": "BucketPolicy",
    "tagging": "BucketTagging",
    "acl": "BucketAcl",
    "lifecycle": "BucketLifecycleConfiguration",
    "cors": "BucketCors",
    "ownershipControls": "BucketOwnershipControls",
    "object-lock": "ObjectLockConfiguration",
}
_OBJECT_SUBRESOURCES = {"tagging": "ObjectTagging", "acl": "ObjectAcl", "retention": "ObjectRetention"}


def s3_bucket_and_key(environ: Environ) -> tuple[str, bytes]:
    """Path-style ``/bucket/key`` or virtual-hosted ``bucket.<host>/key``; the key as sent (bytes)."""
    path = _path_bytes(environ)
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
    virtual = re.match(r"^(.+?)\.(?:s3[.-]|localhost$)", host)
    if virtual and not re.fullmatch(r"[\d.]+", host):
        return virtual.group(1), path[1:]
    bucket, _, key = path[1:].partition(b"/")
    return bucket.decode("utf-8", "replace"), key


def s3_operation(method: str, bucket: str, key: bytes, query: dict[str, list[str]], environ: Environ) -> str:
    """The S3 API operation of a REST request."""
    if "x-id" in query:
        return query["x-id"][0]
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if not bucket:
        return "ListBuckets"
    if key:
        if method == "GET":
            if "uploadId" in query:
                return "ListParts"
            if "attributes" in query:
                return "GetObjectAttributes"
            sub = next((v for k, v in _OBJECT_SUBRESOURCES.items() if k in query), None)
            return f"Get{sub}" if sub else "GetObject"
        if method == "HEAD":
            return "HeadObject"
        if method == "PUT":
            if "partNumber" in query and "uploadId" in query:
                return "UploadPartCopy" if copy else "UploadPart"
            sub = next((v for k, v in _OBJECT_SUBRESOURCES.items() if k in query), None)
            if sub:
                return f"Put{sub}"
            return "CopyObject" if copy else "PutObject"
        if method == "POST":
            if "uploads" in query:
                return "CreateMultipartUpload"
            if "uploadId" in query:
                return "CompleteMultipartUpload"
            if "restore" in query:
                return "RestoreObject"
            return "SelectObjectContent" if "select" in query else "PostObject"
        if method == "DELETE":
            if "uploadId" in query:
                return "AbortMultipartUpload"
            return "DeleteObjectTagging" if "tagging" in query else "DeleteObject"
        return method.title() + "Object"
    sub = next((v for k, v in _BUCKET_SUBRESOURCES.items() if k in query), None)
    if method == "GET":
        if "list-type" in query:
            return "ListObjectsV2"
        if "versions" in query:
            return "ListObjectVersions"
        if "uploads" in query:
            return "ListMultipartUploads"
        return f"Get{sub}" if sub else "ListObjects"
    if method == "HEAD":
        return "HeadBucket"
    if method == "PUT":
        return f"Put{sub}" if sub else "CreateBucket"
    if method == "DELETE":
        return f"Delete{sub}" if sub else "DeleteBucket"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return method.title() + "Bucket"


def identify(environ: Environ) -> tuple[AwsCall, bytes] | None:
    """The call a request makes, and for S3 its key as sent; None for what is not a known service."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _SCOPE.search(
        unquote(environ.get("QUERY_STRING", ""))
    )
    if scope is None:
        return None
    service = _SIGNING_ALIASES.get(scope.group(2).lower(), scope.group(2).lower())
    if service not in SERVICES:
        return None
    method = environ.get("REQUEST_METHOD", "GET").upper()
    app = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
    caller = app.group(1) if app else ""
    if service == "s3":
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        bucket, key = s3_bucket_and_key(environ)
        operation = s3_operation(method, bucket, key, query, environ)
        subject = key.decode("utf-8", "replace") if key else query.get("prefix", [""])[0]
        return AwsCall(service, operation, subject, caller, method), key
    body = _read_body(environ)
    text = body.decode("utf-8", "replace")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return AwsCall(service, target.rsplit(".", 1)[-1], text, caller, method), b""
    form = parse_qs(text, keep_blank_values=True)
    operation = form.get("Action", [""])[0]
    return AwsCall(service, operation, unquote_plus(text), caller, method), b""


# --- answering as the service --------------------------------------------------------------


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_error(
    call: AwsCall, answer: ErrorAnswer, extra: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the service's error response."""
    request_id = str(uuid.uuid4())
    headers: list[tuple[str, str]]
    if call.service == "s3":
        host_id = uuid.uuid4().hex
        request_id = uuid.uuid4().hex[:16].upper()
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        if call.method == "HEAD":  # S3 answers HEAD without a body; botocore reports the status
            return answer.status, [*headers, ("Content-Length", "0")], b""
        fields = "".join(f"<{k}>{_xml_escape(v)}</{k}>" for k, v in (extra or {}).items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{answer.code}</Code><Message>{_xml_escape(answer.message)}</Message>{fields}"
            f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
        ).encode()
        return answer.status, [*headers, ("Content-Type", "application/xml")], body
    if call.service == "sns":
        fault = "Sender" if answer.status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<Error><Type>{fault}</Type><Code>{answer.code}</Code>"
            f"<Message>{_xml_escape(answer.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return answer.status, [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")], body
    headers = [("x-amzn-RequestId", request_id)]
    if call.service == "dynamodb":
        error_type = f"com.amazonaws.dynamodb.v20120810#{answer.code}"
        if answer.code == "AccessDeniedException":
            error_type = f"com.amazon.coral.service#{answer.code}"
        body = json.dumps({"__type": error_type, "message": answer.message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.0"), ("x-amz-crc32", str(zlib.crc32(body)))]
    elif call.service == "sqs":
        body = json.dumps({"__type": f"com.amazonaws.sqs#{answer.code}", "message": answer.message}).encode()
        fault = "Sender" if answer.status < 500 else "Receiver"
        headers += [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-query-error", f"{answer.code};{fault}"),
        ]
    else:  # events, secretsmanager (JSON 1.1)
        body = json.dumps({"__type": answer.code, "message": answer.message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
    return answer.status, headers, body


def _respond(
    start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers = [*headers, ("Content-Length", str(len(body)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def _call_app(
    app: Callable[..., Iterable[bytes]], environ: Environ
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the wrapped application to the end and keep its answer."""
    captured: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _chunk: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], body


class AwsFaultMiddleware:
    """WSGI middleware around moto's server application: S3's limits, armed faults, admin path."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: AwsFaults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == ADMIN_PATH or path.startswith(ADMIN_PATH + "/"):
            return self._admin(environ, start_response)
        identified = identify(environ)
        if identified is None:
            return self.app(environ, start_response)
        call, key = identified
        if call.service == "s3":
            refusal = s3_limit_refusal(call.operation, key, environ)
            if refusal is not None:
                status, code, message, extra = refusal
                return _respond(
                    start_response, *render_error(call, ErrorAnswer(status, code, message), extra)
                )
        decided = self.faults.decide(call)
        if decided is None:
            return self.app(environ, start_response)
        rule, answer = decided
        if rule.kind == "partial":
            return self._partial(environ, start_response, rule)
        if rule.kind == "after-effect":
            _call_app(self.app, environ)  # the call takes effect; its answer is lost
        return _respond(start_response, *render_error(call, answer))

    def _partial(self, environ: Environ, start_response: StartResponse, rule: FaultRule) -> Iterable[bytes]:
        """PutEvents answered 200 with the matching entries failed (and not delivered)."""
        request = json.loads(environ["wsgi.input"].read() or b"{}")
        entries = request.get("Entries", [])
        failing = [rule.match is None or rule.match in json.dumps(e) for e in entries]
        passing = [e for e, fails in zip(entries, failing, strict=True) if not fails]
        delivered: list[dict[str, Any]] = []
        if passing:
            body = json.dumps({**request, "Entries": passing}).encode()
            forward = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
            _, _, answered = _call_app(self.app, forward)
            delivered = list(json.loads(answered).get("Entries", []))
        message = rule.message or "Rate exceeded."
        results = [
            {"ErrorCode": rule.code or "ThrottlingException", "ErrorMessage": message}
            if fails
            else (delivered.pop(0) if delivered else {})
            for fails in failing
        ]
        body = json.dumps({"FailedEntryCount": sum(failing), "Entries": results}).encode()
        headers = [("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Type", "application/x-amz-json-1.1")]
        return _respond(start_response, 200, headers, body)

    def _admin(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        rule_id = environ.get("PATH_INFO", "")[len(ADMIN_PATH) :].strip("/")
        headers = [("Content-Type", "application/json")]

        def answer(status: int, payload: Any) -> list[bytes]:
            return _respond(start_response, status, headers, json.dumps(payload).encode())

        try:
            if method == "GET" and not rule_id:
                return answer(
                    200,
                    {
                        "rules": self.faults.stats(),
                        "pending": self.faults.pending(),
                        "calls": self.faults.calls(),
                    },
                )
            if method == "POST" and not rule_id:
                spec = json.loads(_read_body(environ) or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("a fault is a JSON object")
                return answer(201, {"rule": self.faults.arm_from_dict(spec).to_dict()})
            if method == "DELETE":
                if rule_id:
                    if not self.faults.disarm(rule_id):
                        return answer(404, {"error": f"no fault {rule_id}"})
                    return answer(200, {"removed": rule_id})
                return answer(200, {"cleared": self.faults.clear()})
        except (ValueError, TypeError) as exc:
            return answer(400, {"error": str(exc)})
        return answer(405, {"error": f"{method} is not used on {ADMIN_PATH}"})


class AwsServer:
    """moto's server application behind ``AwsFaultMiddleware``, on a threaded werkzeug server
    (what ThreadedMotoServer does, with the middleware in between)."""

    def __init__(self, host: str, port: int, faults: AwsFaults) -> None:
        self.host = host
        self.requested_port = port
        self.faults = faults
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> AwsServer:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = AwsFaultMiddleware(DomainDispatcherApplication(create_backend_app), self.faults)
        self._server = make_server(
            self.host, self.requested_port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None


# --- `batchdrop local aws-fault` -----------------------------------------------------------


def _admin_url(state_dir: Path) -> str:
    state = state_dir / "state.json"
    if not state.exists():
        raise SystemExit(
            f"batchdrop: no local stack is running ({state} does not exist; `batchdrop local up`)"
        )
    return str(json.loads(state.read_text())["endpoint"]) + ADMIN_PATH


def _request(url: str, method: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # noqa: S310 - the local stack's loopback endpoint
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        raise SystemExit(f"batchdrop: {detail}") from exc
    except urllib.error.URLError as exc:
        raise SystemExit(f"batchdrop: the local stack at {url} does not answer ({exc.reason})") from exc


def describe_rule(rule: dict[str, Any]) -> str:
    what = f"{rule['service']} {rule['operation'] or '*'} {rule['kind']}"
    if rule.get("code"):
        what += f" {rule.get('status') or ''} {rule['code']}".rstrip()
    count = "every call" if rule["count"] is None else f"x{rule['count']}"
    where = "".join(f" {name}={rule[name]!r}" for name in ("match", "caller") if rule.get(name) is not None)
    remaining = "unlimited" if rule["remaining"] is None else rule["remaining"]
    return (
        f"{rule['id']}: {what} from call {rule['nth']} {count}{where}; "
        f"matched {rule['seen']}, served {rule['served']}, remaining {remaining}"
    )


def cmd_aws_fault(args: argparse.Namespace) -> int:
    url = _admin_url(args.state_dir)
    if args.fault_command == "add":
        spec: dict[str, Any] = {"service": args.service, "operation": args.operation, "kind": args.kind}
        spec["nth"] = args.nth
        spec["count"] = None if args.count == 0 else args.count
        for name in ("match", "caller", "status", "code", "message"):
            if getattr(args, name) is not None:
                spec[name] = getattr(args, name)
        print(describe_rule(_request(url, "POST", spec)["rule"]))
    elif args.fault_command == "list":
        listing = _request(url, "GET")
        for rule in listing["rules"]:
            print(describe_rule(rule))
        if not listing["rules"]:
            print("no AWS faults armed")
    elif args.fault_command == "remove":
        _request(f"{url}/{args.rule_id}", "DELETE")
        print(f"removed {args.rule_id}")
    else:
        print(f"cleared {_request(url, 'DELETE')['cleared']} fault(s)")
    return 0


def add_cli_commands(local: argparse._SubParsersAction[argparse.ArgumentParser], state_dir: Path) -> None:
    """``batchdrop local aws-fault add|list|remove|clear`` against a running local stack."""
    fault = local.add_parser("aws-fault", help="make calls to the local stack's AWS services fail on cue")
    commands = fault.add_subparsers(dest="fault_command", required=True)
    add = commands.add_parser("add", help="arm a fault, e.g. add s3 PutObject throttle --count 5")
    add.add_argument("service", choices=SERVICES)
    add.add_argument("operation", help="the API operation (GetObject, PutItem, Publish, ...) or *")
    add.add_argument("kind", choices=KINDS)
    add.add_argument("--nth", type=int, default=1, help="the first matching call that fails (%(default)s)")
    add.add_argument("--count", type=int, default=1, help="consecutive calls that fail; 0: all (%(default)s)")
    add.add_argument("--match", help="substring of the S3 key, or of the request body (a table name, ...)")
    add.add_argument("--caller", help="'functions', or a function's logical id (default: any caller)")
    add.add_argument("--status", type=int, help="HTTP status of the answer (explicit faults)")
    add.add_argument("--code", help="error code of the answer, e.g. InvalidObjectState")
    add.add_argument("--message", help="error message of the answer")
    listing = commands.add_parser("list", help="armed faults with the calls they matched and served")
    remove = commands.add_parser("remove", help="disarm one fault")
    remove.add_argument("rule_id")
    clear = commands.add_parser("clear", help="disarm every fault")
    for parser in (add, listing, remove, clear):
        parser.add_argument("--state-dir", type=Path, default=state_dir, help="the running local stack's")
    fault.set_defaults(run=cmd_aws_fault)
