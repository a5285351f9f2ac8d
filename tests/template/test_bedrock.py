"""template.yaml's part of Amazon Bedrock batch inference (issue 12): the parameters, the service
role Bedrock assumes, what each function may do with Bedrock, and the job-ended event rule.

What the actions support was read in the Service Authorization Reference for Amazon Bedrock:
CreateModelInvocationJob on model-invocation-job, foundation-model (and custom-model); Get and
Stop on model-invocation-job; ListModelInvocationJobs on no resource type ("*" only); InvokeModel
on foundation-model and inference-profile (and provisioned or imported models).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any, cast

import pytest

from tests.template.test_template import (
    BEDROCK_INPUTS,
    BEDROCK_JOBS,
    BEDROCK_RESOURCES,
    BUCKET_KEY_CASES,
    CLAUDE_MODELS,
    CLAUDE_PROFILES,
    EXPECTED_NON_S3_ACTIONS,
    FUNCTIONS,
    as_list,
    conditions_for,
    function_statements,
    grants,
    of_type,
    resource_text,
    under_conditions,
)

# Each function's Bedrock actions: only the calls it makes.
EXPECTED_BEDROCK_ACTIONS = {
    # creates jobs (a create refused as a conflict lists by name), stops a cancel marker's job;
    # a job below Bedrock's minimum is held, not answered here
    "SubmitFunction": {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:StopModelInvocationJob",
    },
    # watches open jobs, creates the ones left waiting, reconciles by listing, stops a cancelled
    # one, answers a held job on demand when its wait is over and its profile says so
    "PollFunction": {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:StopModelInvocationJob",
        "bedrock:InvokeModel",
    },
    # reads an ended job, creates the follow-up job of the records to try again (on demand for
    # a job answered on demand)
    "CompleteFunction": {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:InvokeModel",
    },
}

PASSED_TO_BEDROCK = {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
BUCKET = "arn:${AWS::Partition}:s3:::${DocumentsBucket}"
ROLE_INPUTS = f"{BUCKET}/jobs/*/bedrock/input/*"
ROLE_OUTPUTS = f"{BUCKET}/jobs/*/bedrock/output/*"
VIA_S3 = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}


def _arn(pattern: str, **values: str) -> str:
    """A pattern of this module with the stack's pseudo parameters filled in."""
    defaults = {"Partition": "aws", "Region": "us-east-1", "AccountId": "123456789012", **values}
    for name, value in defaults.items():
        pattern = pattern.replace("${AWS::" + name + "}", value)
    return pattern


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's matching for a pattern of exact values (lists of alternatives), nested."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        if isinstance(wanted, dict):
            if not isinstance(event[key], dict) or not _matches(wanted, event[key]):
                return False
        elif event[key] not in wanted:
            return False
    return True


def _role(resources: dict[str, Any], bucket_key: bool = False) -> dict[str, Any]:
    role = resources["BedrockServiceRole"]
    assert role["Type"] == "AWS::IAM::Role"
    return dict(under_conditions(role["Properties"], conditions_for(bucket_key)))


# ---------------------------------------------------------------- parameters and environment


def test_default_backend_parameter_takes_the_backends_a_profile_may_name(template: dict[str, Any]) -> None:
    from batchdrop.domain.profiles import BACKENDS, DEFAULT_BACKEND

    param = template["Parameters"]["DefaultBackend"]
    assert (param["Type"], param["Default"]) == ("String", DEFAULT_BACKEND)
    assert param["AllowedValues"] == list(BACKENDS) == ["anthropic", "bedrock"]


def test_bedrock_job_timeout_parameter_takes_what_bedrock_allows(template: dict[str, Any]) -> None:
    # timeoutDurationInHours is 24..168: the adapter refuses anything else, so a value that
    # deploys is one every create accepts.
    from batchdrop.adapters.bedrock_backend import BedrockBatches, BedrockJobSettings

    param = template["Parameters"]["BedrockJobTimeoutHours"]
    assert (param["Type"], param["Default"], param["MinValue"], param["MaxValue"]) == ("Number", 24, 24, 168)
    assert BedrockJobSettings("b", "r").timeout_hours == param["Default"]
    for hours in (param["MinValue"], param["MaxValue"]):
        BedrockBatches(None, None, BedrockJobSettings("b", "arn:aws:iam::1:role/r", hours))
    for hours in (param["MinValue"] - 1, param["MaxValue"] + 1):
        with pytest.raises(ValueError, match="timeoutDurationInHours"):
            BedrockBatches(None, None, BedrockJobSettings("b", "arn:aws:iam::1:role/r", hours))


def test_bedrock_parameters_have_their_own_interface_group(template: dict[str, Any]) -> None:
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (group,) = [g for g in groups if "DefaultBackend" in g["Parameters"]]
    assert group["Parameters"] == [
        "DefaultBackend",
        "DefaultBedrockModel",
        "BedrockJobTimeoutHours",
        "BedrockMinRecords",
        "BedrockMaxRecords",
        "BedrockMinWaitMinutes",
    ]


def test_globals_pass_the_bedrock_parameters_and_the_service_role(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["DEFAULT_BACKEND"] == {"Ref": "DefaultBackend"}
    assert variables["BEDROCK_JOB_TIMEOUT_HOURS"] == {"Ref": "BedrockJobTimeoutHours"}
    assert variables["BEDROCK_SERVICE_ROLE_ARN"] == {"Fn::GetAtt": ["BedrockServiceRole", "Arn"]}
    for name, parameter in (
        ("DEFAULT_BEDROCK_MODEL", "DefaultBedrockModel"),
        ("BEDROCK_MIN_RECORDS", "BedrockMinRecords"),
        ("BEDROCK_MAX_RECORDS", "BedrockMaxRecords"),
        ("BEDROCK_MIN_WAIT_MINUTES", "BedrockMinWaitMinutes"),
    ):
        assert variables[name] == {"Ref": parameter}


def test_the_minimum_job_size_parameters_are_the_settings_bounds(template: dict[str, Any]) -> None:
    # Every value the stack deploys with is one the functions' settings accept, and the defaults agree.
    from batchdrop.settings import bedrock as settings

    for parameter, variable in (
        ("BedrockMinRecords", settings.BEDROCK_MIN_RECORDS),
        ("BedrockMaxRecords", settings.BEDROCK_MAX_RECORDS),
        ("BedrockMinWaitMinutes", settings.BEDROCK_MIN_WAIT_MINUTES),
    ):
        param = template["Parameters"][parameter]
        assert param["Type"] == "Number"
        assert (param["Default"], param["MinValue"], param["MaxValue"]) == (
            variable.default,
            variable.minimum,
            variable.maximum,
        )


# ---------------------------------------------------------------- the service role


def test_service_role_trusts_only_bedrock_for_this_accounts_jobs(resources: dict[str, Any]) -> None:
    (statement,) = _role(resources)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    # The confused-deputy conditions: this account, and a model invocation job of this region.
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": BEDROCK_JOBS}},
    }
    pattern = _arn(BEDROCK_JOBS)
    assert fnmatch.fnmatchcase(
        "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcd1234efgh", pattern
    )
    for other in (
        "arn:aws:bedrock:us-east-1:210987654321:model-invocation-job/abcd1234efgh",  # another account
        "arn:aws:bedrock:eu-west-1:123456789012:model-invocation-job/abcd1234efgh",  # another region
        "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abcd1234efgh",  # not a batch job
    ):
        assert not fnmatch.fnmatchcase(other, pattern), other


def test_no_organisation_condition_anywhere(template: dict[str, Any]) -> None:
    # Bedrock's foundation models are not the organisation's: aws:ResourceOrgID (or any
    # organisation condition on resources) makes every batch job fail with AccessDeniedException.
    text = str(template)
    assert "ResourceOrgID" not in text and "ResourceOrgPaths" not in text


@BUCKET_KEY_CASES
def test_service_role_reaches_only_the_job_inputs_and_outputs(
    resources: dict[str, Any], bucket_key: bool
) -> None:
    props = _role(resources, bucket_key)
    assert "ManagedPolicyArns" not in props and "PermissionsBoundary" not in props
    (policy,) = props["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    granted = {(action, resource) for action, resource, _ in grants(statements)}
    expected = {
        ("s3:GetObject", ROLE_INPUTS),
        ("s3:ListBucket", BUCKET),
        ("s3:PutObject", ROLE_OUTPUTS),
    }
    if bucket_key:
        expected |= {("kms:Decrypt", "${BucketKmsKeyArn}"), ("kms:GenerateDataKey", "${BucketKmsKeyArn}")}
    assert granted == expected
    assert all(s["Effect"] == "Allow" for s in statements)
    for action, _, statement in grants(statements):
        if action == "s3:ListBucket":
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["jobs/*"]}}
        elif action.startswith("kms:"):
            assert statement["Condition"] == VIA_S3
        else:
            assert "Condition" not in statement


def test_service_role_paths_are_the_ones_the_backend_writes_and_reads() -> None:
    # Given the adapter's keys, When matched against the role's resources, Then Bedrock may read
    # the job's records and write its outputs, and neither the other way round.
    from batchdrop.adapters.bedrock_backend import MANIFEST_NAME
    from batchdrop.domain.keys import bedrock_input_key as input_key
    from batchdrop.domain.keys import bedrock_output_prefix as output_prefix

    inputs, outputs = _arn(ROLE_INPUTS), _arn(ROLE_OUTPUTS)
    bucket = "arn:aws:s3:::${DocumentsBucket}/"
    record_input = bucket + input_key("2026-12-02T10-00-00Z-abc")
    written = [
        bucket + output_prefix("2026-12-02T10-00-00Z-abc") + f"abcd1234efgh/{name}"
        for name in (
            "records.jsonl.out",
            MANIFEST_NAME,
        )
    ]
    assert fnmatch.fnmatchcase(record_input, inputs) and not fnmatch.fnmatchcase(record_input, outputs)
    for key in written:
        assert fnmatch.fnmatchcase(key, outputs) and not fnmatch.fnmatchcase(key, inputs), key
    # Nothing else of the bucket: documents, results, a job's own files, profiles.
    for other in (
        "inbox/a.txt",
        "results/a.txt",
        "jobs/j/requests.jsonl",
        "jobs/j/summary.json",
        "profiles/p.json",
    ):
        assert not fnmatch.fnmatchcase(bucket + other, inputs) and not fnmatch.fnmatchcase(
            bucket + other, outputs
        )


# ---------------------------------------------------------------- what the functions may do


@BUCKET_KEY_CASES
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_gets_exactly_its_bedrock_actions(
    resources: dict[str, Any], logical_id: str, bucket_key: bool
) -> None:
    statements = function_statements(resources, logical_id, bucket_key=bucket_key)
    granted: dict[str, set[str]] = {}
    for action, resource, _ in grants(statements):
        if action.startswith("bedrock:"):
            granted.setdefault(action, set()).add(resource)
    assert set(granted) == EXPECTED_BEDROCK_ACTIONS[logical_id]
    assert set(granted) <= EXPECTED_NON_S3_ACTIONS[logical_id]
    for action, targets in granted.items():
        assert targets == BEDROCK_RESOURCES[action], f"{logical_id}: {action} on {targets}"
    # "*" only where the action takes no resource, and nothing else shares that statement.
    for statement in statements:
        if "*" in as_list(statement.get("Resource")):
            assert statement["Action"] == "bedrock:ListModelInvocationJobs", statement


def test_bedrock_resources_are_claude_in_this_stacks_region_and_account() -> None:
    jobs, models, profiles = _arn(BEDROCK_JOBS), _arn(CLAUDE_MODELS), _arn(CLAUDE_PROFILES)
    assert fnmatch.fnmatchcase(
        "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcd1234efgh", jobs
    )
    assert not fnmatch.fnmatchcase(
        "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/abcd1234efgh", jobs
    )
    # A cross-region profile runs the model in another region of its geography: models in any region.
    for model in ("us-east-1", "us-west-2", "eu-central-1"):
        assert fnmatch.fnmatchcase(
            f"arn:aws:bedrock:{model}::foundation-model/anthropic.claude-haiku-5-5-v1:0", models
        )
    assert not fnmatch.fnmatchcase("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", models)
    for profile in ("us.anthropic.claude-haiku-5-5-v1:0", "global.anthropic.claude-opus-5-5"):
        assert fnmatch.fnmatchcase(
            f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{profile}", profiles
        )
    assert not fnmatch.fnmatchcase(
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama", profiles
    )
    assert not fnmatch.fnmatchcase(
        "arn:aws:bedrock:us-east-1:210987654321:inference-profile/us.anthropic.claude-haiku-5-5-v1:0",
        profiles,
    )


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_pass_role_is_the_service_role_only_to_bedrock(resources: dict[str, Any], logical_id: str) -> None:
    statements = function_statements(resources, logical_id)
    iam = [s for s in statements if any(a.startswith("iam:") for a in as_list(s["Action"]))]
    (statement,) = iam
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert [resource_text(r) for r in as_list(statement["Resource"])] == ["${BedrockServiceRole.Arn}"]
    assert statement["Condition"] == PASSED_TO_BEDROCK


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_that_creates_may_write_the_jobs_records(
    resources: dict[str, Any], logical_id: str
) -> None:
    from batchdrop.domain.keys import bedrock_input_key as input_key

    assert "bedrock:CreateModelInvocationJob" in EXPECTED_BEDROCK_ACTIONS[logical_id]
    key = "arn:aws:s3:::bucket/" + input_key("job-1")
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        patterns = [
            _arn(r).replace("${DocumentsBucket}", "bucket")
            for a, r, _ in grants(function_statements(resources, logical_id))
            if a == action
        ]
        assert any(fnmatch.fnmatchcase(key, p) for p in patterns), f"{logical_id}: {action} on {key}"
    assert BEDROCK_INPUTS.replace("*", "job-1") + "records.jsonl" == input_key("job-1")


def test_complete_may_read_and_list_what_bedrock_wrote(resources: dict[str, Any]) -> None:
    from batchdrop.domain.keys import bedrock_output_prefix as output_prefix

    statements = function_statements(resources, "CompleteFunction")
    folder = output_prefix("job-1") + "abcd1234efgh/"
    reads = [r for a, r, _ in grants(statements) if a == "s3:GetObject"]
    assert any(fnmatch.fnmatchcase(f"{BUCKET}/{folder}records.jsonl.out", r) for r in reads)
    (listing,) = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert any(fnmatch.fnmatchcase(folder, p) for p in listing["Condition"]["StringLike"]["s3:prefix"])


# ---------------------------------------------------------------- the job-ended event rule


def test_poll_runs_when_a_bedrock_job_ends(resources: dict[str, Any]) -> None:
    from batchdrop.domain.bedrock import ENDED_STATUSES

    event = resources["PollFunction"]["Properties"]["Events"]["BedrockJobEnded"]
    assert event["Type"] == "EventBridgeRule"
    rule = event["Properties"]
    # Bedrock puts its events on the account's default bus: no EventBusName.
    assert "EventBusName" not in rule
    assert rule["Pattern"] == {
        "source": ["aws.bedrock"],
        "detail-type": ["Batch Inference Job State Change"],
        "detail": {"status": ["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"]},
    }
    assert set(rule["Pattern"]["detail"]["status"]) == ENDED_STATUSES
    # Delivery like the template's other rule: the same retries, a dead-letter queue of its own.
    complete_rule = resources["CompleteFunction"]["Properties"]["Events"]["BatchEnded"]["Properties"]
    assert rule["RetryPolicy"] == complete_rule["RetryPolicy"]
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["BedrockEventsDeadLetterQueue", "Arn"]}}
    assert rule["RuleName"] == {"Fn::Sub": "${AWS::StackName}-bedrock"}


@pytest.mark.parametrize(
    "status",
    ["Submitted", "Validating", "Scheduled", "InProgress", "Stopping", "Completed", "PartiallyCompleted",
     "Failed", "Stopped", "Expired"],
)  # fmt: skip
def test_the_rule_matches_the_emulators_events_of_ended_jobs_only(
    resources: dict[str, Any], status: str
) -> None:
    # The local Bedrock emulator puts the user guide's event shape on the default bus.
    from batchdrop.domain.bedrock import ENDED_STATUSES
    from batchdrop_local.bedrock_emulator.events import state_change_entry

    job = {
        "account": "123456789012",
        "region": "us-east-1",
        "jobName": "batchdrop-job-1-r100",
        "jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcd1234efgh",
        "modelId": "us.anthropic.claude-haiku-5-5-v1:0",
        "status": status,
        "submitTime": 1_764_000_000.0,
    }
    entry = state_change_entry(job, 1_764_000_100.0)
    assert entry["EventBusName"] == "default"
    event = {
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "detail": json.loads(entry["Detail"]),
    }
    pattern = resources["PollFunction"]["Properties"]["Events"]["BedrockJobEnded"]["Properties"]["Pattern"]
    assert _matches(pattern, event) is (status in ENDED_STATUSES)


@pytest.mark.parametrize(
    ("status", "starts_poll"),
    [("Completed", True), ("PartiallyCompleted", True), ("Failed", True), ("Stopped", True),
     ("Expired", True), ("Submitted", False), ("Validating", False), ("Scheduled", False),
     ("InProgress", False), ("Stopping", False)],
)  # fmt: skip
def test_the_rule_matches_the_contracts_event_shape_when_the_job_has_ended(
    resources: dict[str, Any], status: str, starts_poll: bool
) -> None:
    # The event as the contract (shared/bedrock-batch-api.md, Events) gives it: the least the
    # rule may rely on. Judged by the matcher EventBridge's local stand-in routes with (moto's),
    # as well as by this file's.
    from moto.events.models import EventMessageType, EventPattern

    pattern = resources["PollFunction"]["Properties"]["Events"]["BedrockJobEnded"]["Properties"]["Pattern"]
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcd1234efgh"
    event: dict[str, Any] = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "source": "aws.bedrock",
        "detail-type": "Batch Inference Job State Change",
        "account": "123456789012",
        "region": "us-east-1",
        "time": "2026-12-02T18:00:00Z",
        "resources": [arn],
        "detail": {"batchJobArn": arn, "batchJobName": "batchdrop-job-1", "status": status},
    }
    rule = EventPattern.load(json.dumps(pattern))
    assert rule.matches_event(cast("EventMessageType", event)) is starts_poll
    assert _matches(pattern, event) is starts_poll
    # Another source or detail-type with the same detail is never Bedrock's job event.
    for other in ({"source": "aws.sagemaker"}, {"detail-type": "Model Invocation Job State Change"}):
        assert not rule.matches_event(cast("EventMessageType", {**event, **other}))


def test_the_rules_dead_letter_queue_takes_only_that_rules_events(resources: dict[str, Any]) -> None:
    policies = [
        p
        for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": "BedrockEventsDeadLetterQueue"}]
    ]
    (policy,) = policies
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    # A rule of the default bus is rule/<name>: exactly the rule's name.
    rule_name = resources["PollFunction"]["Properties"]["Events"]["BedrockJobEnded"]["Properties"]["RuleName"]
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
        + rule_name["Fn::Sub"]
    }


def test_expanded_rule_invokes_poll_with_a_permission_scoped_to_it(expanded: dict[str, Any]) -> None:
    resources = expanded["Resources"]
    rules = {
        lid: r["Properties"]
        for lid, r in of_type(resources, "AWS::Events::Rule").items()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.bedrock"]
    }
    ((rule_id, rule),) = rules.items()
    assert "EventBusName" not in rule  # the default bus
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PollFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["BedrockEventsDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 86400}
    permissions = [
        p["Properties"]
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_id, "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "PollFunction"},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        }
    ]


# ---------------------------------------------------------------- the local stack reads the same template


def test_the_local_stack_hands_every_function_a_role_arn_the_emulator_takes() -> None:
    # The local stack provisions from template.yaml (batchdrop_local.provision): the role becomes
    # an IAM role ARN (created in moto's IAM), and the rule one on the default bus.
    from batchdrop_local.bedrock_emulator.requests import ROLE_ARN
    from batchdrop_local.provision import plan

    stack, _, _ = plan("http://127.0.0.1:1")
    (arn,) = {fn.environment["BEDROCK_SERVICE_ROLE_ARN"] for fn in stack.functions.values()}
    assert ROLE_ARN.fullmatch(arn), arn
    assert stack.names["BedrockServiceRole"] == arn.rsplit("/", 1)[1]
    rule = stack.functions["PollFunction"].events["BedrockJobEnded"]
    assert rule["Type"] == "EventBridgeRule" and "EventBusName" not in rule["Properties"]
