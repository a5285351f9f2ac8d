"""The boto3 session the functions make their clients from: response timestamps left as text.

botocore parses every timestamp it receives with dateutil; for S3's ``Last-Modified`` on each
GetObject that is about a fifth of the call's CPU (measured by ``make bench``). batchdrop reads
none of them, so its session hands them over unparsed (ISO 8601 or RFC 1123 text).
"""

from __future__ import annotations

import boto3
import botocore.session


def _unparsed(value: str) -> str:
    return value


def session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_unparsed)
    return boto3.session.Session(botocore_session=core)
