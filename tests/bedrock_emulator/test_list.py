"""ListModelInvocationJobs: filters, sort order and paging, through the real client and its paginator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import BUCKET, create_job, put_input, record, record_ids


@pytest.fixture
def five_jobs(emulator: BedrockEmulatorServer, s3, bedrock) -> list[str]:
    """Jobs alpha-0..alpha-2 and beta-3..beta-4 submitted 10 s apart; alpha-0 has moved on furthest."""
    uri = put_input(s3, "jobs/job1/records.jsonl", [record(rid) for rid in record_ids(100)])
    arns = []
    for number in range(5):
        name = f"{'alpha' if number < 3 else 'beta'}-{number}"
        arns.append(create_job(bedrock, uri, name=name))
        emulator.advance(10)
    return arns


def names(answer: dict) -> list[str]:
    return [job["jobName"] for job in answer["invocationJobSummaries"]]


def test_jobs_are_listed_newest_first_by_default(five_jobs, bedrock):
    assert names(bedrock.list_model_invocation_jobs()) == [
        "beta-4",
        "beta-3",
        "alpha-2",
        "alpha-1",
        "alpha-0",
    ]
    ascending = bedrock.list_model_invocation_jobs(sortBy="CreationTime", sortOrder="Ascending")
    assert names(ascending) == ["alpha-0", "alpha-1", "alpha-2", "beta-3", "beta-4"]


def test_summaries_carry_the_get_fields(five_jobs, bedrock):
    summary = bedrock.list_model_invocation_jobs(nameContains="alpha-0")["invocationJobSummaries"][0]
    job = bedrock.get_model_invocation_job(jobIdentifier=five_jobs[0])
    job.pop("ResponseMetadata")
    assert summary == job


def test_filters_by_name_status_and_submit_time(five_jobs, bedrock):
    assert names(bedrock.list_model_invocation_jobs(nameContains="beta")) == ["beta-4", "beta-3"]
    # Ages 50, 40, 30, 20 and 10 s; each status lasts 10 s until InProgress (100 s).
    assert names(bedrock.list_model_invocation_jobs(statusEquals="InProgress")) == [
        "alpha-2",
        "alpha-1",
        "alpha-0",
    ]
    assert names(bedrock.list_model_invocation_jobs(statusEquals="Scheduled")) == ["beta-3"]
    assert names(bedrock.list_model_invocation_jobs(statusEquals="Validating")) == ["beta-4"]
    assert names(bedrock.list_model_invocation_jobs(statusEquals="Submitted")) == []
    window = bedrock.list_model_invocation_jobs(
        submitTimeAfter=datetime.fromtimestamp(1_800_000_000, UTC),
        submitTimeBefore=datetime.fromtimestamp(1_800_000_040, UTC),
    )
    assert names(window) == ["beta-3", "alpha-2", "alpha-1"]


def test_pages_follow_next_token(five_jobs, bedrock):
    first = bedrock.list_model_invocation_jobs(maxResults=2)
    assert names(first) == ["beta-4", "beta-3"]
    second = bedrock.list_model_invocation_jobs(maxResults=2, nextToken=first["nextToken"])
    assert names(second) == ["alpha-2", "alpha-1"]
    third = bedrock.list_model_invocation_jobs(maxResults=2, nextToken=second["nextToken"])
    assert names(third) == ["alpha-0"]
    assert "nextToken" not in third

    pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(PaginationConfig={"PageSize": 2})
    assert [name for page in pages for name in names(page)] == names(bedrock.list_model_invocation_jobs())


def test_a_bad_page_token_or_size_is_a_validation_error(five_jobs, bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException, match="nextToken"):
        bedrock.list_model_invocation_jobs(nextToken="not-a-token")
    with pytest.raises(bedrock.exceptions.ValidationException, match="maxResults"):
        bedrock.list_model_invocation_jobs(maxResults=1001)


def test_an_empty_list(emulator, bedrock):
    assert bedrock.list_model_invocation_jobs()["invocationJobSummaries"] == []
    assert BUCKET
