"""Claude on Amazon Bedrock by InvokeModel, behind the batch backend port: for a held job below
Bedrock's minimum job size whose profile says ``below_minimum: on_demand`` (usecases.poll.release).

``create`` invokes each request (a few at a time) with the real ``bedrock-runtime`` client and
keeps each record's answer at ``jobs/<job-id>/bedrock/on-demand/<recordId>.json`` as soon as it
comes, then all the job's result lines, in the Claude API's form, at ``results.jsonl`` there.
A create called again (its caller died, or its answer was lost) invokes only the records with no
answer kept: a request is billed twice only if the process dies between InvokeModel's answer
and its write (README, Guarantees). Its "batch" has ended when ``create`` returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchdrop.domain.bedrock import BedrockUnsupported, result_line, to_record
from batchdrop.domain.keys import bedrock_on_demand_prefix
from batchdrop.domain.times import iso
from batchdrop.ports.batches import BatchInfo, BatchRejected

ID_PREFIX = "on-demand:"
RESULTS_NAME = "results.jsonl"
CONCURRENCY = 4  # InvokeModel calls in flight at once (Bedrock's on-demand quotas are per minute)
CLIENT_RETRIES = {"mode": "standard", "max_attempts": 4}


class BedrockOnDemand:
    """The BatchBackend port over InvokeModel: one job's requests answered one at a time."""

    def __init__(self, runtime: Any, s3: Any, bucket: str, job_id: str | None = None) -> None:
        self._runtime = runtime
        self._s3 = s3
        self.bucket = bucket
        self.job_id = job_id

    def for_job(self, job_id: str) -> BedrockOnDemand:
        return BedrockOnDemand(self._runtime, self._s3, self.bucket, job_id)

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        """Answer every request (those already answered are not asked again); their results."""
        if self.job_id is None:
            raise TypeError("on-demand answers are made for one job: call for_job(job_id).create(...)")
        try:
            records = [to_record(request) for request in requests]
        except BedrockUnsupported as exc:
            raise BatchRejected(str(exc)) from exc
        started = datetime.now(UTC)
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            lines = list(pool.map(lambda item: self._answer(item[0], item[1]), records))
        prefix = bedrock_on_demand_prefix(self.job_id)
        body = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
        self._s3.put_object(
            Bucket=self.bucket, Key=prefix + RESULTS_NAME, Body=body.encode(), ContentType="application/jsonl"
        )
        return self._info(self.job_id, started, lines)

    def _answer(self, model: str | None, record: dict[str, Any]) -> dict[str, Any]:
        """One record's result line: kept from an earlier create, or asked now and kept."""
        key = f"{bedrock_on_demand_prefix(str(self.job_id))}{record['recordId']}.json"
        try:
            kept = json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            return dict(kept)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
        output: dict[str, Any] = {"recordId": record["recordId"]}
        try:
            answer = self._runtime.invoke_model(
                modelId=model,
                body=json.dumps(record["modelInput"]).encode(),
                contentType="application/json",
                accept="application/json",
            )
            message = json.loads(answer["body"].read())
            message.setdefault("usage", {}).setdefault("service_tier", "standard")
            output["modelOutput"] = message
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            text = exc.response.get("Error", {}).get("Message") or str(exc)
            output["error"] = {"errorCode": status, "errorMessage": f"InvokeModel: {text}"}
        except BotoCoreError as exc:  # the answer was lost: asked again by a follow-up job
            output["error"] = {"errorCode": 500, "errorMessage": f"InvokeModel's answer was lost: {exc}"}
        line = result_line(output, model or "")
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(line).encode())
        return line

    @staticmethod
    def _info(job_id: str, started: datetime, lines: list[dict[str, Any]]) -> BatchInfo:
        kinds = [line["result"]["type"] for line in lines]
        counts = {
            "processing": 0,
            "succeeded": kinds.count("succeeded"),
            "errored": kinds.count("errored"),
            "canceled": 0,
            "expired": 0,
        }
        return BatchInfo(
            ID_PREFIX + job_id, "ended", counts, iso(started), iso(started + timedelta(days=1)), iso(started)
        )

    def _results_key(self, batch_id: str) -> str:
        return bedrock_on_demand_prefix(batch_id.removeprefix(ID_PREFIX)) + RESULTS_NAME

    def retrieve(self, batch_id: str) -> BatchInfo:
        """Ended: create writes the results before it returns the batch's id."""
        lines = [line for _, line in self.results(batch_id)]
        return self._info(batch_id.removeprefix(ID_PREFIX), datetime.now(UTC), lines)

    def cancel(self, batch_id: str) -> BatchInfo | None:
        return None  # answered before it was ever watched: nothing runs to stop

    def created_since(self, since: datetime) -> Iterator[BatchInfo]:
        # Nothing to find by listing: a create called again resumes the job's own answers.
        return iter(())

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        body = self._s3.get_object(Bucket=self.bucket, Key=self._results_key(batch_id))["Body"]
        try:
            for raw in body.iter_lines():
                if raw.strip():
                    text = raw.decode()
                    yield text, json.loads(text)
        finally:
            body.close()


def bedrock_on_demand_from_session(session: Any, bucket: str) -> BedrockOnDemand:
    """From a boto3 session: ``bedrock-runtime`` is pointed elsewhere by
    ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` alone (the local stack's emulator)."""
    from botocore.config import Config

    config = Config(retries=dict(CLIENT_RETRIES), connect_timeout=10, read_timeout=300)  # type: ignore[arg-type]
    return BedrockOnDemand(session.client("bedrock-runtime", config=config), session.client("s3"), bucket)


__all__ = ["BedrockOnDemand", "bedrock_on_demand_from_session"]
