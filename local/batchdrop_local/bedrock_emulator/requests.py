"""CreateModelInvocationJob's request checked as Bedrock checks it, into a typed `JobRequest`.

botocore checks required members, enums and minimums before it sends; the service also checks
patterns and maximums, and answers ValidationException in the AWS wording
("1 validation error detected: Value ... at 'jobName' failed to satisfy constraint: ...").
Patterns are the service model's (2023-04-20).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchdrop_local.bedrock_emulator.errors import BedrockError, constraint, validation

JOB_NAME = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}")
ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")
TOKEN = re.compile(r"[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}")
MODEL_ID = re.compile(
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-:]{1,63}"
    r"/[a-z0-9]{12}$)|(:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})"
    r"([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)$)|([0-9]{12}:(inference-profile|"
    r"application-inference-profile)/[a-zA-Z0-9-:.]+$)))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}"
    r"([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)"
)
S3_URI = re.compile(
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)
KMS_KEY = re.compile(
    r"(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))"
    r"|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)"
)
ACCOUNT = re.compile(r"[0-9]{12}")
INVOCATION_TYPES = ("InvokeModel", "Converse")
MIN_TIMEOUT_HOURS, MAX_TIMEOUT_HOURS = 24, 168
DEFAULT_TIMEOUT_HOURS = 24
INVALID_MODEL = "The provided model identifier is invalid."
"""Bedrock's answer to a model it does not know (here: any model not from Anthropic)."""
_MEMBERS = {
    "jobName",
    "roleArn",
    "clientRequestToken",
    "modelId",
    "inputDataConfig",
    "outputDataConfig",
    "vpcConfig",
    "timeoutDurationInHours",
    "tags",
    "modelInvocationType",
}


@dataclass(frozen=True)
class JobRequest:
    """A checked CreateModelInvocationJob request."""

    job_name: str
    role_arn: str
    model_id: str
    input_config: dict[str, Any]
    output_config: dict[str, Any]
    timeout_hours: int
    invocation_type: str
    client_request_token: str | None
    vpc_config: dict[str, Any] | None
    tags: tuple[tuple[str, str], ...]

    @property
    def input_uri(self) -> str:
        return str(self.input_config["s3InputDataConfig"]["s3Uri"])

    @property
    def output_uri(self) -> str:
        return str(self.output_config["s3OutputDataConfig"]["s3Uri"])

    def fingerprint(self) -> str:
        """Every parameter but the token, to tell a retried create from a different one."""
        return json.dumps(
            [
                self.job_name,
                self.role_arn,
                self.model_id,
                self.input_config,
                self.output_config,
                self.timeout_hours,
                self.invocation_type,
                self.vpc_config,
                sorted(self.tags),
            ],
            sort_keys=True,
        )


def parse_create(body: bytes) -> JobRequest:
    """The request in `body`, checked; BedrockError (ValidationException) says what is wrong."""
    try:
        payload = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BedrockError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BedrockError("SerializationException", "The request body must be a JSON object")
    unknown = sorted(set(payload) - _MEMBERS)
    if unknown:
        raise validation(f"Unknown parameter(s) in the request: {', '.join(unknown)}")
    job_name = _string(payload, "jobName", JOB_NAME, 1, 63)
    role_arn = _string(payload, "roleArn", ROLE_ARN, 0, 2048)
    model_id = _string(payload, "modelId", MODEL_ID, 1, 2048)
    if "anthropic." not in model_id:
        raise validation(INVALID_MODEL)
    token = payload.get("clientRequestToken")
    if token is not None:
        token = _string(payload, "clientRequestToken", TOKEN, 1, 256)
    input_config = _location(payload, "inputDataConfig", "s3InputDataConfig")
    s3_input = input_config["s3InputDataConfig"]
    if s3_input.get("s3InputFormat", "JSONL") != "JSONL":
        raise constraint(
            s3_input["s3InputFormat"],
            "inputDataConfig.s3InputDataConfig.s3InputFormat",
            "Member must satisfy enum value set: [JSONL]",
        )
    output_config = _location(payload, "outputDataConfig", "s3OutputDataConfig")
    key = output_config["s3OutputDataConfig"].get("s3EncryptionKeyId")
    if key is not None and (not isinstance(key, str) or KMS_KEY.fullmatch(key) is None):
        raise constraint(key, "outputDataConfig.s3OutputDataConfig.s3EncryptionKeyId", _pattern_rule(KMS_KEY))
    timeout = payload.get("timeoutDurationInHours", DEFAULT_TIMEOUT_HOURS)
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise constraint(timeout, "timeoutDurationInHours", "Member must be an integer")
    if timeout < MIN_TIMEOUT_HOURS:
        raise constraint(
            timeout,
            "timeoutDurationInHours",
            f"Member must have value greater than or equal to {MIN_TIMEOUT_HOURS}",
        )
    if timeout > MAX_TIMEOUT_HOURS:
        raise constraint(
            timeout,
            "timeoutDurationInHours",
            f"Member must have value less than or equal to {MAX_TIMEOUT_HOURS}",
        )
    invocation_type = payload.get("modelInvocationType", "InvokeModel")
    if invocation_type not in INVOCATION_TYPES:
        raise constraint(
            invocation_type,
            "modelInvocationType",
            "Member must satisfy enum value set: [InvokeModel, Converse]",
        )
    vpc = payload.get("vpcConfig")
    if vpc is not None and not (
        isinstance(vpc, dict)
        and isinstance(vpc.get("subnetIds"), list)
        and isinstance(vpc.get("securityGroupIds"), list)
    ):
        raise constraint(vpc, "vpcConfig", "Member must have subnetIds and securityGroupIds")
    return JobRequest(
        job_name=job_name,
        role_arn=role_arn,
        model_id=model_id,
        input_config=input_config,
        output_config=output_config,
        timeout_hours=timeout,
        invocation_type=str(invocation_type),
        client_request_token=token,
        vpc_config=vpc,
        tags=_tags(payload.get("tags")),
    )


def _pattern_rule(pattern: re.Pattern[str]) -> str:
    return f"Member must satisfy regular expression pattern: {pattern.pattern}"


def _string(payload: dict[str, Any], member: str, pattern: re.Pattern[str], low: int, high: int) -> str:
    value = payload.get(member)
    return _checked_string(value, member, pattern, low, high)


def _checked_string(value: object, member: str, pattern: re.Pattern[str], low: int, high: int) -> str:
    if value is None:
        raise constraint(None, member, "Member must not be null")
    if not isinstance(value, str):
        raise constraint(value, member, "Member must be a string")
    if len(value) < low:
        raise constraint(value, member, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        raise constraint(value, member, f"Member must have length less than or equal to {high}")
    if pattern.fullmatch(value) is None:
        raise constraint(value, member, _pattern_rule(pattern))
    return value


def _location(payload: dict[str, Any], member: str, union: str) -> dict[str, Any]:
    """inputDataConfig / outputDataConfig: a union whose one member holds an s3Uri."""
    config = payload.get(member)
    if config is None:
        raise constraint(None, member, "Member must not be null")
    if not isinstance(config, dict) or set(config) != {union} or not isinstance(config[union], dict):
        raise validation(f"{member} must set exactly one member: {union}")
    location = config[union]
    _checked_string(location.get("s3Uri"), f"{member}.{union}.s3Uri", S3_URI, 1, 1024)
    owner = location.get("s3BucketOwner")
    if owner is not None and (not isinstance(owner, str) or ACCOUNT.fullmatch(owner) is None):
        raise constraint(owner, f"{member}.{union}.s3BucketOwner", _pattern_rule(ACCOUNT))
    return {union: dict(location)}


def _tags(tags: object) -> tuple[tuple[str, str], ...]:
    if tags is None:
        return ()
    if not isinstance(tags, list) or len(tags) > 200:
        raise constraint(tags, "tags", "Member must have length less than or equal to 200")
    pairs = []
    for tag in tags:
        if (
            not isinstance(tag, dict)
            or not isinstance(tag.get("key"), str)
            or not isinstance(tag.get("value"), str)
        ):
            raise validation("Each tag needs a string key and a string value")
        pairs.append((tag["key"], tag["value"]))
    return tuple(pairs)


def parse_list_query(query: dict[str, list[str]]) -> dict[str, Any]:
    """ListModelInvocationJobs' query string as `BedrockEngine.list_jobs` arguments."""
    order = _last(query, "sortOrder") or "Descending"
    if order not in ("Ascending", "Descending"):
        raise constraint(order, "sortOrder", "Member must satisfy enum value set: [Ascending, Descending]")
    sort_by = _last(query, "sortBy") or "CreationTime"
    if sort_by != "CreationTime":
        raise constraint(sort_by, "sortBy", "Member must satisfy enum value set: [CreationTime]")
    size = _last(query, "maxResults")
    return {
        "status": _last(query, "statusEquals"),
        "name_contains": _last(query, "nameContains"),
        "submitted_after": _time(query, "submitTimeAfter"),
        "submitted_before": _time(query, "submitTimeBefore"),
        "ascending": order == "Ascending",
        "max_results": _integer(size, "maxResults") if size is not None else None,
        "next_token": _last(query, "nextToken"),
    }


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _integer(value: str, member: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise constraint(value, member, "Member must be an integer") from None


def _time(query: dict[str, list[str]], member: str) -> datetime | None:
    """A timestamp query member (botocore sends ISO 8601)."""
    value = _last(query, member)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise constraint(value, member, "Member must be an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise constraint(value, member, "Member must name its time zone")
    return moment


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int:
    """Where a ListModelInvocationJobs nextToken resumes; ValidationException if it is not one."""
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise validation("The provided nextToken is invalid.") from None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise validation("The provided nextToken is invalid.")
    return offset
