"""Claude on Amazon Bedrock batch inference behind the batch backend port (ports.batches).

A batchdrop job becomes one model invocation job: its records are written as JSONL at
``jobs/<job-id>/bedrock/input/records.jsonl``, Bedrock writes its outputs under
``jobs/<job-id>/bedrock/output/<bedrock job id>/`` (``records.jsonl.out`` and
``manifest.json.out``), and the outputs are read back as the Claude API's result lines
(domain.bedrock), so Complete reads them unchanged.

Creating is idempotent: the ``clientRequestToken`` is derived from the job id, so a create whose
answer was lost, sent again, returns the same job instead of making a second one; botocore's
retries of a create are therefore safe, unlike the Claude API's. The port's ``create`` names no
job, so a create is made through ``for_job(job_id)``, which binds one; everything else takes
the job ARN that ``create`` returned as the batch id.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchdrop.domain.bedrock import (
    BedrockUnsupported,
    JobView,
    client_request_token,
    custom_id_of,
    job_name,
    missing_line,
    result_line,
    to_record,
)
from batchdrop.domain.bedrock.jobs import NAME_PREFIX
from batchdrop.domain.keys import bedrock_input_key, bedrock_output_prefix
from batchdrop.observability import logger
from batchdrop.ports.batches import BatchInfo, BatchMayExist, BatchRefused, BatchRejected

OUTPUT_SUFFIX = ".jsonl.out"
MANIFEST_NAME = "manifest.json.out"
# A create may be retried by botocore: the token makes every attempt the same job.
CLIENT_RETRIES = {"mode": "standard", "max_attempts": 4}
# Answers that do not tell whether the create took effect.
MAY_EXIST_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceUnavailableException", "RequestTimeout"}
)
# Answers that made no job, and may not later.
REFUSED_CODES = frozenset({"ServiceQuotaExceededException", "TooManyRequestsException"})


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class BedrockJobSettings:
    """What every model invocation job is created with."""

    bucket: str
    role_arn: str  # the service role Bedrock assumes to read the inputs and write the outputs
    timeout_hours: int = 24  # timeoutDurationInHours: 24..168
    model_id: str | None = None  # when the requests' params name no model


class BedrockBatches:
    """Create, watch, stop and read model invocation jobs with the real ``bedrock`` client."""

    def __init__(
        self, bedrock: Any, s3: Any, settings: BedrockJobSettings, job_id: str | None = None
    ) -> None:
        if not 24 <= settings.timeout_hours <= 168:
            raise ValueError(f"timeoutDurationInHours must be 24..168, not {settings.timeout_hours}")
        self._bedrock = bedrock
        self._s3 = s3
        self.settings = settings
        self.job_id = job_id

    def for_job(self, job_id: str) -> BedrockBatches:
        """The same backend, creating the Bedrock job of one batchdrop job."""
        return BedrockBatches(self._bedrock, self._s3, self.settings, job_id)

    @staticmethod
    def _info(view: JobView) -> BatchInfo:
        counts, status = view.request_counts, view.processing_status
        return BatchInfo(view.arn, status, counts, view.created_at, view.expires_at, view.ended_at)

    # ------------------------------------------------------------------ create

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        """Write the job's records and create its model invocation job (or find the one an
        earlier create with the same token made).

        Raises ``BatchRejected`` (a request Bedrock batch cannot take, or a ValidationException:
        no job), ``BatchRefused`` (a quota of jobs is full: no job, try later) or
        ``BatchMayExist`` (throttled, a 5xx, or the answer lost after botocore's retries: a
        later create with the same token settles it without a second job). An input that
        could not be written is refused for now too: no job was asked for."""
        if self.job_id is None:
            raise TypeError(
                "a Bedrock job is created for one batchdrop job: call for_job(job_id).create(...)"
            )
        job_id = self.job_id
        model_id, body = self._records(requests)
        key = bedrock_input_key(job_id)
        try:
            self._s3.upload_fileobj(
                body, self.settings.bucket, key, ExtraArgs={"ContentType": "application/jsonl"}
            )
        except (ClientError, BotoCoreError) as exc:  # no job was asked for: try later
            raise BatchRefused(f"writing the Bedrock input of job {job_id} failed ({exc})", None) from exc
        finally:
            body.close()
        name = job_name(job_id, len(requests))
        try:
            answer = self._bedrock.create_model_invocation_job(
                jobName=name,
                roleArn=self.settings.role_arn,
                modelId=model_id,
                clientRequestToken=client_request_token(job_id),
                inputDataConfig={
                    "s3InputDataConfig": {
                        "s3Uri": f"s3://{self.settings.bucket}/{key}",
                        "s3InputFormat": "JSONL",
                    }
                },
                outputDataConfig={
                    "s3OutputDataConfig": {
                        "s3Uri": f"s3://{self.settings.bucket}/{bedrock_output_prefix(job_id)}"
                    }
                },
                timeoutDurationInHours=self.settings.timeout_hours,
                modelInvocationType="InvokeModel",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            text = exc.response.get("Error", {}).get("Message") or str(exc)
            if code == "ConflictException":
                # The token or the name is taken: by this job's own earlier create.
                found = self._named(name)
                if found is not None:
                    return found
                raise BatchRejected(f"Bedrock refused the job ({code}): {text}") from exc
            if code in REFUSED_CODES:
                raise BatchRefused(f"Bedrock made no job for now ({code}): {text}", None) from exc
            if code in MAY_EXIST_CODES or status >= 500 or status in (408, 429):
                raise BatchMayExist(
                    f"creating the Bedrock job answered {code or status}; it may exist ({text})"
                ) from exc
            raise BatchRejected(f"Bedrock refused the job ({code or status}): {text}") from exc
        except BotoCoreError as exc:  # connection errors and timeouts
            raise BatchMayExist(f"the answer to creating the Bedrock job was lost ({exc})") from exc
        try:
            return self.retrieve(str(answer["jobArn"]))
        except (ClientError, BotoCoreError) as exc:
            # Made, but unread: the same token finds it again on the next create.
            raise BatchMayExist(
                f"the Bedrock job {answer['jobArn']} was made but could not be read ({exc})"
            ) from exc

    def _records(self, requests: list[dict[str, Any]]) -> tuple[str, Any]:
        """The job's model id and its records as a JSONL file (spooled to disk when large)."""
        if not requests:
            raise BatchRejected("a Bedrock job needs at least one record")
        models: set[str] = set()
        body = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - closed by create
        try:
            for request in requests:
                model, record = to_record(request)
                models.add(model or self.settings.model_id or "")
                body.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        except BedrockUnsupported as exc:
            body.close()
            raise BatchRejected(str(exc)) from exc
        if len(models) != 1 or not next(iter(models)):
            body.close()
            named = ", ".join(sorted(m or "none" for m in models))
            raise BatchRejected(f"a Bedrock job runs one model; the requests name {named}")
        body.seek(0)
        return models.pop(), body

    def _named(self, name: str) -> BatchInfo | None:
        for view in self._listed(nameContains=name):
            if view.name == name:
                return self._info(view)
        return None

    # ------------------------------------------------------------------ watch, stop, list

    def _job(self, batch_id: str) -> JobView:
        return JobView.of(self._bedrock.get_model_invocation_job(jobIdentifier=batch_id))

    def retrieve(self, batch_id: str) -> BatchInfo:
        return self._info(self._job(batch_id))

    def cancel(self, batch_id: str) -> BatchInfo | None:
        """Stop the job; None when it had already ended (nothing to stop)."""
        try:
            self._bedrock.stop_model_invocation_job(jobIdentifier=batch_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ConflictException"):
                view = self._job(batch_id)
                if view.ended:
                    return None
            raise
        return self.retrieve(batch_id)

    def _listed(self, **filters: Any) -> Iterator[JobView]:
        paginator = self._bedrock.get_paginator("list_model_invocation_jobs")
        for page in paginator.paginate(sortBy="CreationTime", sortOrder="Descending", **filters):
            for summary in page.get("invocationJobSummaries", []):
                yield JobView.of(summary)

    def created_since(self, since: datetime) -> Iterator[BatchInfo]:
        """batchdrop's jobs submitted at or after ``since``, newest first."""
        for view in self._listed(submitTimeAfter=since - timedelta(seconds=1), nameContains=NAME_PREFIX):
            if view.name.startswith(NAME_PREFIX):
                yield self._info(view)

    # ------------------------------------------------------------------ results

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record's result line, in the Claude API's form: those of the ``.jsonl.out``
        files first (streamed), then one for each record the job has no output for."""
        view = self._job(batch_id)
        if not view.ended:
            raise RuntimeError(f"the Bedrock job {batch_id} has not ended ({view.status}): no results yet")
        bucket, prefix = _split_uri(view.output_uri)
        folder = f"{prefix.rstrip('/')}/{view.job_id}/" if prefix else f"{view.job_id}/"
        seen: set[str] = set()
        keys = [key for key in self._keys(bucket, folder) if key.endswith(OUTPUT_SUFFIX)]
        for key in keys:
            for raw in self._lines(bucket, key):
                line = result_line(json.loads(raw), view.model_id)
                if line["custom_id"] in seen:  # a record written twice is one result
                    continue
                seen.add(line["custom_id"])
                yield json.dumps(line, ensure_ascii=False, separators=(",", ":")), line
        self._check_manifest(bucket, folder, view, len(seen))
        for custom_id in self._input_ids(view):
            if custom_id not in seen:
                line = missing_line(custom_id, view.status, view.message)
                yield json.dumps(line, ensure_ascii=False, separators=(",", ":")), line

    def _keys(self, bucket: str, prefix: str) -> Iterator[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def _lines(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            for raw in body.iter_lines():
                if raw.strip():
                    yield raw
        finally:
            body.close()

    def _input_ids(self, view: JobView) -> Iterator[str]:
        """The custom_ids of the job's records, read back from its input."""
        bucket, key = _split_uri(view.input_uri)
        keys = (
            [key] if key.endswith(".jsonl") else [k for k in self._keys(bucket, key) if k.endswith(".jsonl")]
        )
        for input_file in keys:
            for raw in self._lines(bucket, input_file):
                yield custom_id_of(str(json.loads(raw)["recordId"]))

    def _check_manifest(self, bucket: str, folder: str, view: JobView, lines: int) -> None:
        try:
            manifest = json.loads(
                self._s3.get_object(Bucket=bucket, Key=f"{folder}{MANIFEST_NAME}")["Body"].read()
            )
        except ClientError:
            logger.warning("the Bedrock job wrote no manifest", extra={"batch_id": view.arn})
            return
        processed = int(manifest.get("processedRecordCount") or 0)
        if processed != lines:
            logger.warning(
                "the Bedrock manifest counts other records than its output holds",
                extra={"batch_id": view.arn, "manifest_processed": processed, "output_lines": lines},
            )


def bedrock_batches(
    bedrock: Any, s3: Any, bucket: str, role_arn: str, timeout_hours: int = 24, model_id: str | None = None
) -> BedrockBatches:
    """The Bedrock batch backend, for a wiring module: ``bedrock`` and ``s3`` are boto3 clients
    (the bedrock one made with ``client_config()`` so that a create is retried safely)."""
    return BedrockBatches(bedrock, s3, BedrockJobSettings(bucket, role_arn, timeout_hours, model_id))


def bedrock_backend_from_session(
    session: Any,
    bucket: str,
    role_arn: str,
    timeout_hours: int = 24,
    model_id: str | None = None,
    s3: Any = None,
) -> BedrockBatches:
    """The Bedrock batch backend from a boto3 session (adapters.sessions.session()): its
    ``bedrock`` client retries safely (``client_config``) and is pointed elsewhere by
    ``AWS_ENDPOINT_URL_BEDROCK`` alone (the local stack's emulator); ``s3`` defaults to the
    session's."""
    return bedrock_batches(
        session.client("bedrock", config=client_config()),
        s3 if s3 is not None else session.client("s3"),
        bucket,
        role_arn,
        timeout_hours,
        model_id,
    )


def client_config() -> Any:
    """The botocore Config of the ``bedrock`` client: standard retries (creates are idempotent)."""
    from botocore.config import Config

    return Config(retries=dict(CLIENT_RETRIES), connect_timeout=10, read_timeout=60)  # type: ignore[arg-type]


__all__ = [
    "BedrockBatches",
    "BedrockJobSettings",
    "bedrock_backend_from_session",
    "bedrock_batches",
    "client_config",
]
