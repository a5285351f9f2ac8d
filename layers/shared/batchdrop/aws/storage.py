"""The documents bucket: reading documents, writing results, manifests and summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from batchdrop.results import ResultObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class DocumentGone(LookupError):
    """The object (or that version of it) no longer exists."""


@dataclass(frozen=True)
class StoredDocument:
    key: str
    body: bytes
    version_id: str | None
    etag: str
    content_type: str
    metadata: dict[str, str]


class DocumentStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def get_document(self, key: str, version_id: str | None = None) -> StoredDocument:
        """The document as the notification named it: that version, when there is one."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "NoSuchVersion", "404"}:
                raise DocumentGone(key) from exc
            raise
        return StoredDocument(
            key=key,
            body=response["Body"].read(),
            version_id=response.get("VersionId") or version_id,
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType", ""),
            metadata=response.get("Metadata", {}),
        )

    def put_result(self, obj: ResultObject) -> None:
        self._s3.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.body,
            ContentType=obj.content_type,
            Metadata=obj.metadata,
        )

    def put_once(
        self, key: str, body: bytes, content_type: str, metadata: dict[str, str], owner: str
    ) -> bool:
        """Write an object unless this owner (metadata ``batchdrop-previous-job``) already did.

        For objects whose every new version starts work (a workflow's next-stage documents): a
        completion resumed after a crash must not write them again.
        """
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
            if head.get("Metadata", {}).get("batchdrop-previous-job") == owner:
                return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
                raise
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata
        )
        return True

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_json(self, key: str, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False, indent=2).encode()
        self.put_bytes(key, body, "application/json; charset=utf-8")

    def get_json(self, key: str) -> Any:
        """The JSON object at a key, or None when there is none."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise
        return json.loads(body)

    def upload_file(self, key: str, path: str, content_type: str) -> None:
        """Upload a local file (multipart when large) without reading it into memory."""
        self._s3.upload_file(path, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def objects_under(self, prefix: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
        """``{key: body}`` of the objects under a prefix whose names end with one of the suffixes."""
        texts = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(suffixes):
                    body = self._s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    texts[obj["Key"]] = body
        return texts

    def read_lines(self, key: str) -> Iterator[str]:
        """Stream a text object line by line."""
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for raw in body.iter_lines():
            yield raw.decode("utf-8")
