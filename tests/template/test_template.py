"""template.yaml honours the contract the code, the local stack and the people using it rely on.

cfn-lint and `sam validate --lint` check that the template is valid; these tests check that it is
the template batchdrop needs (and cfn-lint does not catch everything on AWS::Serverless::*).
"""

from __future__ import annotations

import fnmatch
import graphlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

FUNCTIONS = {
    "SubmitFunction": ("functions/submit/", "submit.lambda_handler"),
    "PollFunction": ("functions/poll/", "poll.lambda_handler"),
    "CompleteFunction": ("functions/complete/", "complete.lambda_handler"),
}

EXPECTED_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "batchdrop",
    "POWERTOOLS_METRICS_NAMESPACE": "batchdrop",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
    "BUCKET_NAME": {"Ref": "DocumentsBucket"},
    "JOBS_TABLE_NAME": {"Ref": "JobsTable"},
    "EVENT_BUS_NAME": {"Ref": "JobEventBus"},
    "TOPIC_ARN": {"Ref": "NotificationTopic"},
    "ANTHROPIC_SECRET_NAME": {"Ref": "AnthropicSecretName"},
    "ANTHROPIC_BASE_URL": {
        "Fn::If": ["HasAnthropicBaseUrl", {"Ref": "AnthropicBaseUrl"}, {"Ref": "AWS::NoValue"}]
    },
    "DEFAULT_MODEL": {"Ref": "DefaultModel"},
    "DEFAULT_MAX_TOKENS": {"Ref": "DefaultMaxTokens"},
    "DEFAULT_INSTRUCTION": {"Ref": "DefaultInstruction"},
    "DEFAULT_SYSTEM_PROMPT": {"Ref": "DefaultSystemPrompt"},
    "PDF_MAX_PAGES": {"Ref": "PdfMaxPages"},
    "UNCOLLECTED_AFTER_HOURS": {"Ref": "UncollectedAlarmHours"},
    "MAX_ATTEMPTS": {"Ref": "MaxAttempts"},
    "MAX_JOB_COST_USD": {"Ref": "MaxJobCostUsd"},
    "QUEUE_WAIT_MAX_HOURS": {"Ref": "BatchQueueMaxWaitHours"},
    "API_KEY_MAX_AGE_SECONDS": "300",
    "DEFAULT_BACKEND": {"Ref": "DefaultBackend"},
    "BEDROCK_JOB_TIMEOUT_HOURS": {"Ref": "BedrockJobTimeoutHours"},
    "DEFAULT_BEDROCK_MODEL": {"Ref": "DefaultBedrockModel"},
    "BEDROCK_MIN_RECORDS": {"Ref": "BedrockMinRecords"},
    "BEDROCK_MAX_RECORDS": {"Ref": "BedrockMaxRecords"},
    "BEDROCK_MIN_WAIT_MINUTES": {"Ref": "BedrockMinWaitMinutes"},
    "BEDROCK_SERVICE_ROLE_ARN": {"Fn::GetAtt": ["BedrockServiceRole", "Arn"]},
}

# Services whose actions touch data: none of them may be granted on Resource "*".
DATA_SERVICES = {"s3", "dynamodb", "sns", "events", "secretsmanager", "kms", "sqs"}

# The records of a Bedrock model invocation job (domain.keys.bedrock_input_key), written by
# whichever function creates the job.
BEDROCK_INPUTS = "jobs/*/bedrock/input/"

# Per function, each S3 action and the only key prefixes it may reach.
EXPECTED_S3_OBJECT_ACCESS: dict[str, dict[str, set[str]]] = {
    "SubmitFunction": {
        "s3:GetObject": {"inbox/", "profiles/", "schemas/", "jobs/"},  # jobs/: a held job's files
        "s3:GetObjectVersion": {"inbox/", "profiles/", "schemas/"},
        "s3:PutObject": {"jobs/", "results/"},
        "s3:AbortMultipartUpload": {BEDROCK_INPUTS},  # a large Bedrock input goes up in parts
    },
    "PollFunction": {  # jobs/<job-id>/requests.jsonl of a batch it creates again
        "s3:GetObject": {"jobs/"},
        # the records of a Bedrock job it creates again; a held job's answers made on demand
        "s3:PutObject": {BEDROCK_INPUTS, "jobs/*/bedrock/on-demand/"},
        "s3:AbortMultipartUpload": {BEDROCK_INPUTS},
    },
    "CompleteFunction": {  # inbox/: a workflow's next-stage documents; tables/: the documents table
        "s3:GetObject": {"jobs/", "inbox/"},
        "s3:PutObject": {"jobs/", "results/", "inbox/", "tables/documents/"},
        "s3:AbortMultipartUpload": {"jobs/", "tables/documents/"},
    },
}

# Per function, the actions other than S3 and KMS (see EXPECTED_KMS_GRANTS for those).
EXPECTED_NON_S3_ACTIONS: dict[str, set[str]] = {
    "SubmitFunction": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",  # the held jobs a window of their model takes over
        "sns:Publish",
        "secretsmanager:GetSecretValue",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        # creates Bedrock jobs, stops a cancelled one
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:StopModelInvocationJob",
        "iam:PassRole",
    },
    "PollFunction": {
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "events:PutEvents",
        "secretsmanager:GetSecretValue",
        # watches Bedrock jobs, creates one again, reconciles, stops a cancelled one, answers a
        # held job on demand
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:StopModelInvocationJob",
        "bedrock:InvokeModel",
        "iam:PassRole",
    },
    "CompleteFunction": {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "sns:Publish",
        "events:PutEvents",
        "secretsmanager:GetSecretValue",
        # reads an ended Bedrock job, creates the follow-up job (on demand after one on demand)
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:ListModelInvocationJobs",
        "bedrock:InvokeModel",
        "iam:PassRole",
    },
}

TOPIC_KEY = "${NotificationTopicKey.Arn}"
BUCKET_KEY = "${BucketKmsKeyArn}"

# Per function, each KMS action and the keys it may use, without and with BucketKmsKeyArn. With a
# bucket key, exactly the functions that read or write objects may use it (through S3 only).
EXPECTED_KMS_GRANTS: dict[str, dict[bool, dict[str, set[str]]]] = {
    "SubmitFunction": {  # it publishes the notification of a job refused for its budget
        False: {"kms:GenerateDataKey*": {TOPIC_KEY}, "kms:Decrypt": {TOPIC_KEY}},
        True: {
            "kms:GenerateDataKey*": {TOPIC_KEY},
            "kms:Decrypt": {TOPIC_KEY, BUCKET_KEY},
            "kms:GenerateDataKey": {BUCKET_KEY},
        },
    },
    "PollFunction": {  # it reads requests, and writes a Bedrock job's records
        False: {},
        True: {"kms:Decrypt": {BUCKET_KEY}, "kms:GenerateDataKey": {BUCKET_KEY}},
    },
    "CompleteFunction": {
        False: {"kms:GenerateDataKey*": {TOPIC_KEY}, "kms:Decrypt": {TOPIC_KEY}},
        True: {
            "kms:GenerateDataKey*": {TOPIC_KEY},
            "kms:Decrypt": {TOPIC_KEY, BUCKET_KEY},
            "kms:GenerateDataKey": {BUCKET_KEY},
        },
    },
}

# Parameters that IAM statements may name as their resource.
RESOURCE_PARAMETERS = {"AnthropicSecretName", "BucketKmsKeyArn"}

SECRET_ARN = (
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:${AnthropicSecretName}-??????"  # the name, then "-" and Secrets Manager's six random characters
)
# A prefix of the bucket: a first folder named, then folders named or one level of "*"
# (jobs/*/bedrock/input/: every job's Bedrock input folder).
BUCKET_OBJECT_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:s3:::\$\{DocumentsBucket\}/(?P<prefix>[a-z]+/(?:(?:[a-z][a-z-]*|\*)/)*)\*$"
)

# Bedrock ARNs (Service Authorization Reference: model-invocation-job is
# arn:${Partition}:bedrock:${Region}:${Account}:model-invocation-job/${JobIdentifier}, foundation-model
# has no account, inference-profile is the account's). Claude only: batchdrop's records are
# Anthropic Messages bodies.
BEDROCK_JOBS = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:model-invocation-job/*"
CLAUDE_MODELS = "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.*"
CLAUDE_PROFILES = (
    "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/*.anthropic.*"
)
# What each Bedrock action (and iam:PassRole) may be granted on.
BEDROCK_RESOURCES = {
    "bedrock:CreateModelInvocationJob": {BEDROCK_JOBS, CLAUDE_MODELS, CLAUDE_PROFILES},
    "bedrock:GetModelInvocationJob": {BEDROCK_JOBS},
    "bedrock:StopModelInvocationJob": {BEDROCK_JOBS},
    # No resource-level permission: the reference lists no resource type for it.
    "bedrock:ListModelInvocationJobs": {"*"},
    "bedrock:InvokeModel": {CLAUDE_MODELS, CLAUDE_PROFILES},
    "iam:PassRole": {"${BedrockServiceRole.Arn}"},
}

EXPECTED_OUTPUTS = {
    "BucketName": {"Ref": "DocumentsBucket"},
    "IngestQueueUrl": {"Ref": "IngestQueue"},
    "IngestDeadLetterQueueUrl": {"Ref": "IngestDeadLetterQueue"},
    "JobsTableName": {"Ref": "JobsTable"},
    "JobEventBusName": {"Ref": "JobEventBus"},
    "NotificationTopicArn": {"Ref": "NotificationTopic"},
    "CompleteDeadLetterQueueUrl": {"Ref": "CompleteDeadLetterQueue"},
    "SubmitFunctionName": {"Ref": "SubmitFunction"},
    "PollFunctionName": {"Ref": "PollFunction"},
    "CompleteFunctionName": {"Ref": "CompleteFunction"},
    "AnthropicSecretName": {"Ref": "AnthropicSecretName"},
    "SubmitLogGroupName": {"Ref": "SubmitLogGroup"},
    "PollLogGroupName": {"Ref": "PollLogGroup"},
    "CompleteLogGroupName": {"Ref": "CompleteLogGroup"},
    "DocumentsDatabaseName": {"Ref": "DocumentsDatabase"},
    "DocumentsTableName": {"Ref": "DocumentsTable"},
    "BedrockServiceRoleArn": {"Fn::GetAtt": ["BedrockServiceRole", "Arn"]},
    "BedrockEventsDeadLetterQueueUrl": {"Ref": "BedrockEventsDeadLetterQueue"},
}


# Every alarm: (namespace, metric, dimension name, dimension value) -> (statistic, threshold). All of
# them notify the topic when the statistic over one 5-minute period is above the threshold.
EXPECTED_ALARMS: dict[tuple[str, str, str, str], tuple[str, int]] = {
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${IngestQueue.QueueName}"): ("Maximum", 3600),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${IngestDeadLetterQueue.QueueName}"): (
        "Maximum",
        0,
    ),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${CompleteDeadLetterQueue.QueueName}"): (
        "Maximum",
        0,
    ),
    (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "${BedrockEventsDeadLetterQueue.QueueName}",
    ): ("Maximum", 0),
    ("AWS/Lambda", "Errors", "FunctionName", "${SubmitFunction}"): ("Sum", 0),
    ("AWS/Lambda", "Errors", "FunctionName", "${PollFunction}"): ("Sum", 0),
    ("AWS/Lambda", "Errors", "FunctionName", "${CompleteFunction}"): ("Sum", 0),
    # Published by Poll every run (EMF, Powertools' default "service" dimension).
    ("batchdrop", "OverdueJobs", "service", "batchdrop"): ("Maximum", 0),
    ("batchdrop", "UncollectedJobs", "service", "batchdrop"): ("Maximum", 0),
    # Published by Submit and Poll for each batch creation refused because the batch queue is full.
    ("batchdrop", "BatchQueueFull", "service", "batchdrop"): ("Sum", 0),
}

# Per function, the prefixes it may list (s3:ListBucket with an s3:prefix condition): the ones
# its code lists, and the ones it reads and needs a missing key's 404 for (S3 answers 403 for a
# missing key to a caller that may not list it).
EXPECTED_LISTED_PREFIXES: dict[str, set[str]] = {
    # profiles and their schemas are listed; a deleted document is gone
    "SubmitFunction": {"profiles/", "schemas/", "inbox/"},
    "PollFunction": {"jobs/"},  # a job whose requests.jsonl was never written
    "CompleteFunction": {"jobs/", "inbox/"},  # summaries and next-stage documents not written yet
}

# Each function's log group, wired through LoggingConfig.
LOG_GROUPS = {
    "SubmitFunction": "SubmitLogGroup",
    "PollFunction": "PollLogGroup",
    "CompleteFunction": "CompleteLogGroup",
}

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays).
CLOUDWATCH_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]  # fmt: skip

# What a deny-non-TLS statement looks like, whatever it covers.
DENY_INSECURE_TRANSPORT = {"Bool": {"aws:SecureTransport": "false"}}

# Every action on a topic (those of SNS's default topic policy).
SNS_TOPIC_ACTIONS = {
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
    "sns:Receive",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
}

# The conditions a test can turn on, as (id, conditions that hold).
BUCKET_KEY_CASES = pytest.mark.parametrize("bucket_key", [False, True], ids=["sse-s3", "bucket-kms-key"])


# ---------------------------------------------------------------- helpers


class _NoValue:
    """What an Fn::If branch of Ref AWS::NoValue leaves: the property or list item is dropped."""


_NO_VALUE = _NoValue()


def under_conditions(value: Any, holding: set[str]) -> Any:
    """The value as CloudFormation deploys it when exactly the conditions in `holding` are true:
    each Fn::If replaced by its branch, AWS::NoValue dropped. Other intrinsics are kept."""
    if isinstance(value, list):
        items = (under_conditions(item, holding) for item in value)
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        return under_conditions(when_true if condition in holding else when_false, holding)
    resolved = {key: under_conditions(item, holding) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not _NO_VALUE}


def conditions_for(bucket_key: bool) -> set[str]:
    return {"HasBucketKmsKey"} if bucket_key else set()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_statements(
    resources: dict[str, Any], logical_id: str, *, bucket_key: bool = False
) -> list[dict[str, Any]]:
    """The function's IAM statements as deployed with or without BucketKmsKeyArn."""
    statements: list[dict[str, Any]] = []
    for policy in resources[logical_id]["Properties"].get("Policies", []):
        statements.extend(under_conditions(policy["Statement"], conditions_for(bucket_key)))
    for statement in statements:
        assert "Effect" in statement, f"{logical_id}: statement {statement!r} is not resolved"
    return statements


def resource_text(resource: Any) -> str:
    """An IAM Resource value as one comparable string: Sub text, ${Ref} or ${Id.Attr}."""
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource:
        return str(resource["Fn::Sub"])
    if "Ref" in resource:
        return "${" + resource["Ref"] + "}"
    if "Fn::GetAtt" in resource:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected IAM resource form {resource!r}")


def grants(statements: list[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(action, resource text, statement) for every Allow in the statements."""
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                yield action, resource_text(resource), statement


def references(value: Any, logical_ids: set[str]) -> set[str]:
    """Logical ids that a value refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item, logical_ids)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and arg in logical_ids:
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name.split(".", 1)[0] in logical_ids:
                        found.add(name.split(".", 1)[0])
                if isinstance(arg, list):
                    found |= references(arg[1], logical_ids)
            else:
                found |= references(arg, logical_ids)
    return found


def dependency_graph(template: dict[str, Any], with_globals: bool) -> dict[str, set[str]]:
    resources = template["Resources"]
    logical_ids = set(resources)
    graph: dict[str, set[str]] = {}
    global_refs = references(template.get("Globals", {}).get("Function", {}), logical_ids)
    for logical_id, resource in resources.items():
        deps = references(resource.get("Properties", {}), logical_ids)
        deps |= set(as_list(resource.get("DependsOn", [])))
        if with_globals and resource["Type"] == "AWS::Serverless::Function":
            deps |= global_refs
        graph[logical_id] = deps
    return graph


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == resource_type}


def allows(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s["Effect"] == "Allow"]


def denies_insecure_transport(statement: dict[str, Any]) -> bool:
    return statement["Effect"] == "Deny" and statement.get("Condition") == DENY_INSECURE_TRANSPORT


# ---------------------------------------------------------------- layout and parameters


def test_template_reads_top_down(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert "Description" in template
    sections = [s for s in template if s in ("Parameters", "Conditions", "Globals", "Resources", "Outputs")]
    assert sections == ["Parameters", "Conditions", "Globals", "Resources", "Outputs"]


def test_parameters_have_the_agreed_defaults_and_ranges(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["DefaultModel"]["Default"] == "claude-haiku-5-5"
    assert params["DefaultMaxTokens"]["Type"] == "Number"
    assert (params["DefaultMaxTokens"]["Default"], params["DefaultMaxTokens"]["MinValue"]) == (1024, 1)
    assert params["DefaultMaxTokens"]["MaxValue"] == 128000
    assert params["DefaultInstruction"]["Default"] == (
        "Summarize this document in a few short paragraphs. Keep names, numbers and dates exact."
    )
    assert params["DefaultSystemPrompt"]["Default"] == ""
    assert params["AnthropicSecretName"]["Default"] == "batchdrop/anthropic-api-key"
    assert params["AnthropicBaseUrl"]["Default"] == ""
    window = params["IngestBatchingWindowSeconds"]
    assert (window["Type"], window["Default"], window["MinValue"], window["MaxValue"]) == (
        "Number",
        60,
        0,
        300,
    )
    size = params["IngestBatchSize"]
    assert (size["Type"], size["Default"], size["MinValue"], size["MaxValue"]) == ("Number", 1000, 1, 10000)
    # SQS refuses more than 10 records per batch without a window: the description must say so.
    assert "IngestBatchingWindowSeconds" in size["Description"]
    assert "10" in size["Description"]
    assert params["PollSchedule"]["Default"] == "rate(5 minutes)"
    assert params["LogLevel"]["Default"] == "INFO"
    assert params["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    uncollected = params["UncollectedAlarmHours"]
    assert (
        uncollected["Type"],
        uncollected["Default"],
        uncollected["MinValue"],
        uncollected["MaxValue"],
    ) == (
        "Number",
        24,
        1,
        648,
    )
    assert params["BucketKmsKeyArn"]["Default"] == ""


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", True),
        ("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        # IAM needs the key's ARN: an alias names no key in a policy.
        ("arn:aws:kms:us-east-1:123456789012:alias/batchdrop", False),
        ("alias/batchdrop", False),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", False),
        ("arn:aws:s3:::batchdrop", False),
    ],
)
def test_bucket_kms_key_parameter_takes_empty_or_a_key_arn(
    template: dict[str, Any], value: str, accepted: bool
) -> None:
    # CloudFormation matches AllowedPattern against the whole value.
    pattern = template["Parameters"]["BucketKmsKeyArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def test_every_parameter_is_in_an_interface_group(template: dict[str, Any]) -> None:
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])


@pytest.mark.parametrize(
    ("name", "default", "minimum", "maximum"),
    [
        # Lambda's range for an SQS event source's MaximumConcurrency.
        ("SubmitMaximumConcurrency", 5, 2, 1000),
        ("BatchQueueMaxWaitHours", 24, 1, 168),
    ],
)
def test_new_number_parameters_have_the_agreed_ranges(
    template: dict[str, Any], name: str, default: int, minimum: int, maximum: int
) -> None:
    param = template["Parameters"][name]
    assert (param["Type"], param["Default"], param["MinValue"], param["MaxValue"]) == (
        "Number",
        default,
        minimum,
        maximum,
    )


def test_log_retention_takes_only_what_cloudwatch_accepts(template: dict[str, Any]) -> None:
    param = template["Parameters"]["LogRetentionDays"]
    assert param["Type"] == "Number"
    assert param["Default"] == 30
    # An AllowedValues list, so a value CloudWatch would refuse fails before the stack starts.
    assert param["AllowedValues"] == CLOUDWATCH_RETENTION_DAYS


# Parameter -> the variable the functions read it from, the function whose settings model reads it,
# and where in that model, for the ones the settings validate.
SETTINGS_OF_PARAMETERS = {
    "DefaultMaxTokens": ("DEFAULT_MAX_TOKENS", "SubmitSettings", ("default_profile", "max_tokens")),
    "PdfMaxPages": ("PDF_MAX_PAGES", "SubmitSettings", ("pdf_max_pages",)),
    "UncollectedAlarmHours": ("UNCOLLECTED_AFTER_HOURS", "PollSettings", ("uncollected_after_hours",)),
    "MaxAttempts": ("MAX_ATTEMPTS", "CompleteSettings", ("max_attempts",)),
    "BatchQueueMaxWaitHours": ("QUEUE_WAIT_MAX_HOURS", "PollSettings", ("creation", "queue_wait_max_hours")),
}

# Function -> the name of its settings model in batchdrop.settings.
SETTINGS_OF_FUNCTIONS = {
    "SubmitFunction": "SubmitSettings",
    "PollFunction": "PollSettings",
    "CompleteFunction": "CompleteSettings",
}


def _settings_model(name: str) -> Any:
    import batchdrop.settings

    return getattr(batchdrop.settings, name)


def _required_env(model: Any) -> dict[str, str]:
    """A value for each variable the model requires (any non-empty string will do)."""
    return {variable.name: "x" for variable in model.variables() if variable.required}


def _function_environment(
    template: dict[str, Any], resources: dict[str, Any], logical_id: str
) -> dict[str, Any]:
    """The variables the template gives a function: the Globals', and its own if it had any."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {**variables, **own}


@pytest.mark.parametrize("name", sorted(SETTINGS_OF_PARAMETERS))
def test_parameter_ranges_are_the_ones_settings_accepts(template: dict[str, Any], name: str) -> None:
    # Given the parameter's range, When the functions read its bounds, Then they accept them, refuse
    # one past each, and default to the parameter's default: a value that deploys also cold-starts.
    from batchdrop.settings import ConfigurationError

    variable, model_name, attribute = SETTINGS_OF_PARAMETERS[name]
    model = _settings_model(model_name)
    assert template["Globals"]["Function"]["Environment"]["Variables"][variable] == {"Ref": name}
    param = template["Parameters"][name]
    base = _required_env(model)

    def read(value: str | None) -> Any:
        settings: Any = model.from_env({**base, **({variable: value} if value is not None else {})})
        for part in attribute:
            settings = getattr(settings, part)
        return settings

    assert read(str(param["MinValue"])) == param["MinValue"]
    assert read(str(param["MaxValue"])) == param["MaxValue"]
    assert read(None) == param["Default"]
    for outside in (param["MinValue"] - 1, param["MaxValue"] + 1):
        with pytest.raises(ConfigurationError, match=f"^environment variable {variable} must be in "):
            read(str(outside))


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF_FUNCTIONS))
def test_each_function_is_given_what_its_settings_model_requires(
    template: dict[str, Any], resources: dict[str, Any], logical_id: str
) -> None:
    # Given the variables the template gives the function, When its model reads only those it
    # declares, Then it starts: every required one is set, and every one it reads but the
    # template leaves unset has a default (the test-only durations and limits).
    model = _settings_model(SETTINGS_OF_FUNCTIONS[logical_id])
    given = _function_environment(template, resources, logical_id)
    reads = {variable.name: variable for variable in model.variables()}
    assert {name for name, variable in reads.items() if variable.required} <= set(given)
    for name in set(reads) - set(given):
        assert not reads[name].required, f"{logical_id} needs {name}, which the template does not set"
    # Only what the model reads, with a placeholder for each (deploy-time values are Refs).
    model.from_env({name: "x" for name in reads if name in given and reads[name].required})


def test_poll_does_not_require_what_only_submit_and_complete_use(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    from batchdrop.settings import ConfigurationError

    poll = _settings_model("PollSettings")
    given = _function_environment(template, resources, "PollFunction")
    poll_reads = {variable.name for variable in poll.variables()}
    unused = {name for name in given if not name.startswith("POWERTOOLS_")} - poll_reads
    # The template gives every function all of the stack's variables (Globals); Poll reads few.
    assert {"TOPIC_ARN", "DEFAULT_MODEL", "DEFAULT_INSTRUCTION"} <= unused
    poll.from_env(_required_env(poll))
    for other in ("SubmitSettings", "CompleteSettings"):
        with pytest.raises(ConfigurationError, match="must be set"):
            _settings_model(other).from_env(_required_env(poll))


def test_every_stack_variable_is_read_by_some_function(template: dict[str, Any]) -> None:
    given = template["Globals"]["Function"]["Environment"]["Variables"]
    read = {
        variable.name
        for name in SETTINGS_OF_FUNCTIONS.values()
        for variable in _settings_model(name).variables()
    }
    assert {name for name in given if not name.startswith("POWERTOOLS_")} <= read


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),  # the public API
        ("https://api.anthropic.com", True),
        ("https://gateway.example.com:8443/anthropic/v1", True),
        # The API key goes in a header: never in clear text, not even to a host of one's own.
        ("http://api.anthropic.com", False),
        ("http://10.0.0.5:8080", False),
        # Loopback http is for the local stack only; a deployed function has nothing listening there.
        ("http://127.0.0.1:8765", False),
        ("ftp://api.anthropic.com", False),
        ("api.anthropic.com", False),
        ("https://", False),
        ("https://user:secret@gateway.example.com", False),
        ("https://api.anthropic.com extra", False),
    ],
)
def test_anthropic_base_url_parameter_takes_empty_or_https(
    template: dict[str, Any], value: str, accepted: bool
) -> None:
    pattern = template["Parameters"]["AnthropicBaseUrl"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def test_every_url_the_base_url_parameter_takes_is_one_settings_accepts(template: dict[str, Any]) -> None:
    pattern = template["Parameters"]["AnthropicBaseUrl"]["AllowedPattern"]
    for url in ("https://api.anthropic.com", "https://gw.example.com:8443/v1", "https://[2001:db8::1]/x"):
        assert re.fullmatch(pattern, url)
        for model_name in SETTINGS_OF_FUNCTIONS.values():
            model = _settings_model(model_name)
            assert (
                model.from_env({**_required_env(model), "ANTHROPIC_BASE_URL": url}).anthropic.base_url == url
            )


def test_default_parameters_satisfy_the_batch_window_rule(template: dict[str, Any]) -> None:
    # Given the defaults, When the rule's logic is evaluated, Then it passes (1000 needs a window > 0).
    params = template["Parameters"]
    assertion = template["Rules"]["BatchSizeAboveTenNeedsWindow"]["Assertions"][0]["Assert"]
    window_not_zero, size_small = assertion["Fn::Or"]
    assert window_not_zero == {"Fn::Not": [{"Fn::Equals": [{"Ref": "IngestBatchingWindowSeconds"}, "0"]}]}
    assert size_small["Fn::Contains"][0] == [str(n) for n in range(1, 11)]
    assert size_small["Fn::Contains"][1] == {"Ref": "IngestBatchSize"}
    assert str(params["IngestBatchingWindowSeconds"]["Default"]) != "0"


# ---------------------------------------------------------------- functions and layer


def test_globals_set_runtime_architecture_tracing_and_layer(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "SharedLayer"}]


def test_no_function_overrides_the_globals(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    for logical_id, function in functions.items():
        overridden = {"Runtime", "Architectures", "Tracing", "Layers", "Environment"} & set(
            function["Properties"]
        )
        assert not overridden, f"{logical_id} overrides {overridden}"


def test_shared_layer_builds_for_python313_on_arm64(resources: dict[str, Any]) -> None:
    layer = resources["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/shared/"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    # SAM adds python/ itself: the package sits at the layer's root.
    assert (PROJECT_ROOT / "layers/shared/requirements.txt").is_file()
    assert (PROJECT_ROOT / "layers/shared/batchdrop/__init__.py").is_file()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_resolves_to_a_lambda_handler_in_the_code(resources: dict[str, Any], logical_id: str) -> None:
    code_uri, handler = FUNCTIONS[logical_id]
    props = resources[logical_id]["Properties"]
    assert (props["CodeUri"], props["Handler"]) == (code_uri, handler)
    module, _, function_name = handler.rpartition(".")
    source = PROJECT_ROOT / code_uri / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{logical_id}: {source} does not exist"
    assert re.search(rf"^def {function_name}\(", source.read_text(encoding="utf-8"), re.MULTILINE)


def test_function_sizes(resources: dict[str, Any]) -> None:
    sizes = {
        lid: (
            resources[lid]["Properties"]["Timeout"],
            resources[lid]["Properties"]["MemorySize"],
            resources[lid]["Properties"].get("EphemeralStorage", {}).get("Size", 512),
        )
        for lid in FUNCTIONS
    }
    assert sizes == {
        "SubmitFunction": (900, 1024, 512),
        "PollFunction": (300, 1024, 512),  # it may create a batch of up to 256 MB of requests
        "CompleteFunction": (900, 1024, 2048),
    }
    # Overlapping polls are handled by conditional writes; a reservation of 1 is not wanted.
    assert "ReservedConcurrentExecutions" not in resources["PollFunction"]["Properties"]


def test_every_function_gets_the_agreed_environment(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Environment"]["Variables"] == EXPECTED_ENVIRONMENT
    # An empty AnthropicBaseUrl leaves ANTHROPIC_BASE_URL unset (the public API).
    assert template["Conditions"]["HasAnthropicBaseUrl"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AnthropicBaseUrl"}, ""]}]
    }
    # Poll reads UNCOLLECTED_AFTER_HOURS; UncollectedJobsAlarm's description quotes the same hours.
    assert template["Parameters"]["UncollectedAlarmHours"]["Type"] == "Number"


# ---------------------------------------------------------------- events


def test_submit_reads_the_ingest_queue_in_windows_with_partial_failures(resources: dict[str, Any]) -> None:
    # A plain event source mapping, not a SAM SQS event (which would grant the queue actions on "*")
    assert "Events" not in resources["SubmitFunction"]["Properties"]
    mapping = resources["SubmitIngestQueueMapping"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["DependsOn"] == "SubmitFunctionRole"
    assert mapping["Properties"] == {
        "EventSourceArn": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
        "FunctionName": {"Ref": "SubmitFunction"},
        "BatchSize": {"Ref": "IngestBatchSize"},
        "MaximumBatchingWindowInSeconds": {"Ref": "IngestBatchingWindowSeconds"},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "SubmitMaximumConcurrency"}},
    }


def test_poll_runs_on_the_schedule_parameter(resources: dict[str, Any]) -> None:
    events = resources["PollFunction"]["Properties"]["Events"]
    # The schedule, and Bedrock's job-ended events (tests/template/test_bedrock.py).
    assert {name: e["Type"] for name, e in events.items()} == {
        "PollOpenJobs": "Schedule",
        "BedrockJobEnded": "EventBridgeRule",
    }
    event = events["PollOpenJobs"]
    assert event["Properties"]["Schedule"] == {"Ref": "PollSchedule"}
    assert event["Properties"].get("Enabled", True) is True


def test_complete_runs_on_batch_ended_with_retries_and_dead_letters(resources: dict[str, Any]) -> None:
    props = resources["CompleteFunction"]["Properties"]
    (event,) = props["Events"].values()
    assert event["Type"] == "EventBridgeRule"
    rule = event["Properties"]
    assert rule["EventBusName"] == {"Ref": "JobEventBus"}
    assert rule["Pattern"] == {"source": ["batchdrop"], "detail-type": ["Batch Ended"]}
    assert rule["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 86400}
    dead_letter_arn = {"Fn::GetAtt": ["CompleteDeadLetterQueue", "Arn"]}
    assert rule["DeadLetterConfig"] == {"Arn": dead_letter_arn}
    # A function error (not a delivery failure) ends up in the same queue after Lambda's retries.
    on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": dead_letter_arn}


def test_eventbridge_may_send_to_the_complete_dead_letter_queue(resources: dict[str, Any]) -> None:
    policies = [
        p
        for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "CompleteDeadLetterQueue"} in p["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    (statement,) = allows(policies[0]["Properties"]["PolicyDocument"]["Statement"])
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert "${JobEventBus}" in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


# ---------------------------------------------------------------- bucket


def test_only_inbox_uploads_and_cancel_markers_trigger_submit(resources: dict[str, Any]) -> None:
    notifications = resources["DocumentsBucket"]["Properties"]["NotificationConfiguration"]
    # No Lambda, topic or EventBridge notification may bypass the filters below.
    assert set(notifications) == {"QueueConfigurations"}
    inbox, cancel = notifications["QueueConfigurations"]
    for config in (inbox, cancel):
        assert config["Event"] == "s3:ObjectCreated:*"
        assert config["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert inbox["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}]
    # results/ never triggers; under jobs/ only the cancel marker does
    assert cancel["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": "jobs/"},
        {"Name": "suffix", "Value": "/cancel"},
    ]


def test_bucket_name_breaks_the_notification_cycle(resources: dict[str, Any]) -> None:
    bucket = resources["DocumentsBucket"]
    name = bucket["Properties"]["BucketName"]
    assert "DocumentsBucket" not in str(name)
    assert bucket["DependsOn"] == "IngestQueuePolicy"
    (statement,) = allows(resources["IngestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    source_arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert source_arn == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", name]]}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


@pytest.mark.parametrize("with_globals", [False, True], ids=["resources", "resources-and-globals"])
def test_resources_have_no_dependency_cycle(template: dict[str, Any], with_globals: bool) -> None:
    graph = dependency_graph(template, with_globals)
    order = list(graph_order(graph))
    assert order.index("IngestQueuePolicy") < order.index("DocumentsBucket")


def graph_order(graph: dict[str, set[str]]) -> Iterator[str]:
    """Creation order; raises graphlib.CycleError on a cycle."""
    yield from graphlib.TopologicalSorter(graph).static_order()


def test_bucket_is_private_encrypted_and_versioned(resources: dict[str, Any]) -> None:
    props = resources["DocumentsBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "BucketEncryption" in props
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any(r["Status"] == "Enabled" and "AbortIncompleteMultipartUpload" in r for r in rules)


@BUCKET_KEY_CASES
def test_bucket_encrypts_with_sse_s3_unless_a_kms_key_is_given(
    resources: dict[str, Any], bucket_key: bool
) -> None:
    # Given BucketKmsKeyArn empty or set, When the condition is applied, Then the default encryption switches.
    assert resources["DocumentsBucket"].get("Condition") is None
    encryption = under_conditions(
        resources["DocumentsBucket"]["Properties"]["BucketEncryption"], conditions_for(bucket_key)
    )
    by_default = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "BucketKmsKeyArn"}}
        if bucket_key
        else {"SSEAlgorithm": "AES256"}
    )
    assert encryption["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": True}
    ]


def test_bucket_kms_key_condition(template: dict[str, Any]) -> None:
    assert template["Conditions"]["HasBucketKmsKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "BucketKmsKeyArn"}, ""]}]
    }


def test_bucket_accepts_tls_only(resources: dict[str, Any]) -> None:
    policy = resources["BucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "DocumentsBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {resource_text(r) for r in statement["Resource"]} == {
        "${DocumentsBucket.Arn}",
        "${DocumentsBucket.Arn}/*",
    }


# ---------------------------------------------------------------- queues, table, bus, topic


def test_queues_are_encrypted(resources: dict[str, Any]) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    assert set(queues) == {
        "IngestQueue",
        "IngestDeadLetterQueue",
        "CompleteDeadLetterQueue",
        "BedrockEventsDeadLetterQueue",
    }
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id


QUEUE_POLICY_ALLOWS = {
    # queue -> the principals allowed to send to it (the deny statements aside)
    "IngestQueue": [{"Service": "s3.amazonaws.com"}],
    "IngestDeadLetterQueue": [],  # filled by SQS's own redrive
    "CompleteDeadLetterQueue": [{"Service": "events.amazonaws.com"}],
    "BedrockEventsDeadLetterQueue": [{"Service": "events.amazonaws.com"}],
}


@pytest.mark.parametrize("queue", sorted(QUEUE_POLICY_ALLOWS))
def test_queues_accept_tls_only(resources: dict[str, Any], queue: str) -> None:
    policies = [
        p
        for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
    ]
    # A queue has one policy: a second QueuePolicy on the same queue would replace the first.
    assert len(policies) == 1, queue
    assert policies[0]["Properties"]["Queues"] == [{"Ref": queue}]
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert denies == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
            "Condition": DENY_INSECURE_TRANSPORT,
        }
    ]
    # The allow statements that make the pipeline work are still there, and only those.
    assert [s["Principal"] for s in allows(statements)] == QUEUE_POLICY_ALLOWS[queue]
    for statement in allows(statements):
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert "aws:SourceArn" in statement["Condition"]["ArnLike"]


def test_topic_accepts_tls_only_for_every_action(resources: dict[str, Any]) -> None:
    statements = resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert denies_insecure_transport(deny)
    assert deny["Principal"] == "*"
    assert deny["Resource"] == {"Ref": "NotificationTopic"}
    assert set(as_list(deny["Action"])) == SNS_TOPIC_ACTIONS
    # CloudWatch alarms still publish (over TLS), and only they are let in by the topic policy.
    (allow,) = allows(statements)
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert set(as_list(allow["Action"])) <= SNS_TOPIC_ACTIONS


def test_ingest_queue_outlasts_submit_and_redrives_to_its_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    queue = resources["IngestQueue"]["Properties"]
    submit_timeout = resources["SubmitFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * submit_timeout
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    fourteen_days = 14 * 24 * 3600
    assert resources["IngestDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == fourteen_days
    assert resources["CompleteDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == fourteen_days


def test_jobs_table(resources: dict[str, Any]) -> None:
    props = resources["JobsTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert attribute_types == {"job_id": "S", "open_flag": "S", "created_at": "S"}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "open-jobs"
    assert index["KeySchema"] == [
        {"AttributeName": "open_flag", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_ttl", "Enabled": True}


def test_job_event_bus_is_named_after_the_stack(resources: dict[str, Any]) -> None:
    bus = resources["JobEventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-jobs"}


def test_notification_topic_is_encrypted_with_a_key_alarms_can_use(resources: dict[str, Any]) -> None:
    # alias/aws/sns would encrypt too, but CloudWatch alarms cannot publish to such a topic.
    assert resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationTopicKey"}
    key = resources["NotificationTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    topic_policy = resources["NotificationTopicPolicy"]["Properties"]
    assert topic_policy["Topics"] == [{"Ref": "NotificationTopic"}]
    allowed = [s for s in topic_policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allowed] == [{"Service": "cloudwatch.amazonaws.com"}]


# ---------------------------------------------------------------- IAM


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_policies_are_inline_statements(resources: dict[str, Any], logical_id: str) -> None:
    # Policy templates such as S3CrudPolicy would grant the whole bucket.
    policies = resources[logical_id]["Properties"]["Policies"]
    assert policies
    assert all(isinstance(p, dict) and set(p) == {"Version", "Statement"} for p in policies)


@BUCKET_KEY_CASES
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_data_action_is_granted_on_every_resource(
    resources: dict[str, Any], logical_id: str, bucket_key: bool
) -> None:
    known = set(resources) | RESOURCE_PARAMETERS
    for action, resource, _ in grants(function_statements(resources, logical_id, bucket_key=bucket_key)):
        if action.split(":", 1)[0] in DATA_SERVICES:
            assert resource != "*", f"{logical_id}: {action} on *"
            named = set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", resource))
            assert named & known, f"{logical_id}: {action} on {resource} names no resource of this stack"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_s3_object_access_is_scoped_to_the_agreed_prefixes(
    resources: dict[str, Any], logical_id: str
) -> None:
    access: dict[str, set[str]] = {}
    for action, resource, _ in grants(function_statements(resources, logical_id)):
        if not action.startswith("s3:") or action == "s3:ListBucket":
            continue
        match = BUCKET_OBJECT_ARN.match(resource)
        assert match, f"{logical_id}: {action} on {resource} is not one prefix of the documents bucket"
        access.setdefault(action, set()).add(match["prefix"])
    assert access == EXPECTED_S3_OBJECT_ACCESS[logical_id]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_list_bucket_is_limited_to_the_prefixes_the_function_reads(
    resources: dict[str, Any], logical_id: str
) -> None:
    listing = [
        s for s in function_statements(resources, logical_id) if "s3:ListBucket" in as_list(s["Action"])
    ]
    (statement,) = listing
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["s3:ListBucket"]
    assert resource_text(statement["Resource"]) == "arn:${AWS::Partition}:s3:::${DocumentsBucket}"
    # Only a condition on s3:prefix (a request without a Prefix, listing the whole bucket, is refused).
    (operator,) = statement["Condition"]
    assert operator == "StringLike"
    (patterns,) = statement["Condition"]["StringLike"].values()
    assert set(statement["Condition"]["StringLike"]) == {"s3:prefix"}
    assert all(p.endswith("/*") and p.count("*") == 1 for p in as_list(patterns)), patterns
    listed = {p.removesuffix("*") for p in as_list(patterns)}
    assert listed == EXPECTED_LISTED_PREFIXES[logical_id]
    # Nothing is listed that the function may not read anyway.
    assert listed <= EXPECTED_S3_OBJECT_ACCESS[logical_id]["s3:GetObject"]


def _string_constants() -> dict[str, str]:
    """Module-level string constants of the product code (NAME = "value")."""
    constants: dict[str, str] = {}
    for source in [
        *(PROJECT_ROOT / "layers/shared/batchdrop").rglob("*.py"),
        *(PROJECT_ROOT / "functions").rglob("*.py"),
    ]:
        for name, value in re.findall(
            r'^([A-Z][A-Z0-9_]*)\s*(?::\s*\w+\s*)?=\s*"([^"]*)"', source.read_text(), re.MULTILINE
        ):
            constants[name] = value
    return constants


def test_every_prefix_the_code_lists_is_granted() -> None:
    # Every listing goes through DocumentStore.objects_under (a prefix, then suffixes) ...
    product_code = [
        *(PROJECT_ROOT / "layers/shared/batchdrop").rglob("*.py"),
        *(PROJECT_ROOT / "functions").rglob("*.py"),
    ]
    raw_listing = [
        str(path.relative_to(PROJECT_ROOT))
        for path in product_code
        if re.search(r"list_objects|list_object_versions", path.read_text())
    ]
    assert sorted(raw_listing) == [
        "layers/shared/batchdrop/adapters/bedrock_backend.py",
        "layers/shared/batchdrop/adapters/s3_bucket.py",
    ]
    # The Bedrock backend lists only a job's own folders under jobs/ (the output folder Bedrock
    # wrote, and the input when it is a folder), when Complete reads an ended job's results.
    from batchdrop.domain.keys import bedrock_input_key as input_key
    from batchdrop.domain.keys import bedrock_output_prefix as output_prefix

    assert output_prefix("job-1").startswith("jobs/") and input_key("job-1").startswith("jobs/")
    assert "jobs/" in EXPECTED_LISTED_PREFIXES["CompleteFunction"]
    # ... so the prefixes each function lists are the first arguments of its objects_under calls.
    constants = _string_constants()
    listed: dict[str, set[str]] = {}
    for logical_id, (code_uri, _) in FUNCTIONS.items():
        prefixes = listed.setdefault(logical_id, set())
        for source in (PROJECT_ROOT / code_uri).rglob("*.py"):
            for argument in re.findall(r"objects_under\(\s*([A-Z][A-Z0-9_]*|\"[^\"]*\")", source.read_text()):
                prefixes.add(argument.strip('"') if argument.startswith('"') else constants[argument])
        assert prefixes <= EXPECTED_LISTED_PREFIXES[logical_id], f"{logical_id} lists {prefixes}"
    # Submit lists the profiles (the scan does find the calls).
    assert "profiles/" in listed["SubmitFunction"]


@BUCKET_KEY_CASES
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_other_grants_are_exactly_what_the_code_needs(
    resources: dict[str, Any], logical_id: str, bucket_key: bool
) -> None:
    granted: dict[str, set[str]] = {}
    for action, resource, _ in grants(function_statements(resources, logical_id, bucket_key=bucket_key)):
        if not action.startswith("s3:"):
            granted.setdefault(action, set()).add(resource)
    expected_kms = EXPECTED_KMS_GRANTS[logical_id][bucket_key]
    assert set(granted) == EXPECTED_NON_S3_ACTIONS[logical_id] | set(expected_kms)
    assert {a: r for a, r in granted.items() if a.startswith("kms:")} == expected_kms
    assert granted["secretsmanager:GetSecretValue"] == {SECRET_ARN}
    for action, targets in granted.items():
        if action == "dynamodb:Query":
            assert targets == {"${JobsTable.Arn}/index/open-jobs"}
        elif action.startswith("dynamodb:"):
            assert targets == {"${JobsTable.Arn}"}
        elif action == "events:PutEvents":
            assert targets == {"${JobEventBus.Arn}"}
        elif action == "sns:Publish":
            assert targets == {"${NotificationTopic}"}
        elif action.startswith("sqs:"):
            assert targets == {"${IngestQueue.Arn}"}
        elif action.startswith(("bedrock:", "iam:")):
            assert targets == BEDROCK_RESOURCES[action], action
        else:
            assert action.startswith(("kms:", "secretsmanager:")), f"{logical_id}: {action} is not checked"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_bucket_key_statement_exists_only_under_its_condition(
    resources: dict[str, Any], logical_id: str
) -> None:
    statements = [s for p in resources[logical_id]["Properties"]["Policies"] for s in p["Statement"]]
    conditional = [s for s in statements if "Fn::If" in s]
    if not EXPECTED_S3_OBJECT_ACCESS[logical_id]:
        assert not conditional, f"{logical_id} touches no object and needs no bucket key"
        return
    (statement,) = conditional
    condition, with_key, without_key = statement["Fn::If"]
    assert (condition, without_key) == ("HasBucketKmsKey", {"Ref": "AWS::NoValue"})
    assert with_key["Effect"] == "Allow"
    # Decrypt to read; GenerateDataKey only for a function that writes objects.
    bucket_key_actions = sorted(
        action for action, keys in EXPECTED_KMS_GRANTS[logical_id][True].items() if BUCKET_KEY in keys
    )
    assert sorted(as_list(with_key["Action"])) == bucket_key_actions
    writes = "s3:PutObject" in EXPECTED_S3_OBJECT_ACCESS[logical_id]
    assert bucket_key_actions == (["kms:Decrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"])
    assert with_key["Resource"] == {"Ref": "BucketKmsKeyArn"}
    # Only S3 may use the key for the function, not a direct kms:Decrypt of anything.
    assert with_key["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    }
    unconditional = [s for s in statements if "Fn::If" not in s]
    assert "BucketKmsKeyArn" not in str(unconditional)


# ---------------------------------------------------------------- logs


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_logs_to_its_own_log_group(resources: dict[str, Any], logical_id: str) -> None:
    log_group_id = LOG_GROUPS[logical_id]
    assert resources[logical_id]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    log_group = resources[log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    props = log_group["Properties"]
    assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    # Named after the stack (so two stacks never share one) under Lambda's usual prefix.
    assert re.fullmatch(r"/aws/lambda/\$\{AWS::StackName\}-[a-z]+", props["LogGroupName"]["Fn::Sub"])


def test_log_groups_are_distinct_and_all_wired(resources: dict[str, Any]) -> None:
    log_groups = of_type(resources, "AWS::Logs::LogGroup")
    assert set(log_groups) == set(LOG_GROUPS.values())
    names = [g["Properties"]["LogGroupName"]["Fn::Sub"] for g in log_groups.values()]
    assert len(set(names)) == len(names)


def test_logs_key_lets_cloudwatch_logs_use_it_for_these_log_groups_only(resources: dict[str, Any]) -> None:
    key = resources["LogsKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "Service" in s["Principal"]]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}}
    assert "kms:GenerateDataKey*" in logs["Action"] and "kms:Decrypt*" in logs["Action"]
    (context_arn,) = logs["Condition"]["ArnLike"].values()
    assert set(logs["Condition"]["ArnLike"]) == {"kms:EncryptionContext:aws:logs:arn"}
    # Every log group of the stack matches the condition; another of the account does not.
    pattern = context_arn["Fn::Sub"]
    arn_prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    for log_group in of_type(resources, "AWS::Logs::LogGroup").values():
        assert fnmatch.fnmatchcase(arn_prefix + log_group["Properties"]["LogGroupName"]["Fn::Sub"], pattern)
    assert not fnmatch.fnmatchcase(arn_prefix + "/aws/lambda/some-other-function", pattern)
    # Only the account administers the key: no other principal.
    others = [s for s in statements if s is not logs]
    assert [s["Principal"] for s in others] == [
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    ]


# ---------------------------------------------------------------- checkov suppressions


def checkov_skips(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, skip) for every Metadata.checkov.skip entry of the template."""
    for logical_id, resource in resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            yield logical_id, skip


def test_every_checkov_skip_names_a_check_and_says_why(resources: dict[str, Any]) -> None:
    skips = list(checkov_skips(resources))
    assert skips, "make security's suppressions are expected in the template"
    seen: set[tuple[str, str]] = set()
    for logical_id, skip in skips:
        assert set(skip) == {"id", "comment"}, f"{logical_id}: {skip!r}"
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), f"{logical_id}: {skip['id']!r}"
        comment = skip["comment"]
        assert isinstance(comment, str) and comment.strip(), f"{logical_id}: {skip['id']} gives no reason"
        assert (logical_id, skip["id"]) not in seen, f"{logical_id}: {skip['id']} is skipped twice"
        seen.add((logical_id, skip["id"]))


def test_checkov_runs_in_make_test_with_suppressions_only_in_the_template() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:[^#\n]*\bsecurity\b", makefile, re.MULTILINE)
    recipe = re.search(r"^security:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no security target"
    command = recipe[1]
    assert "-f template.yaml" in command
    assert "--framework cloudformation" in command
    # Skips outside the template, or a scan that cannot fail, would hide a failed check.
    for hiding in ("--skip-check", "--soft-fail", "--config-file", " -s "):
        assert hiding not in command
    for config_name in (".checkov.yaml", ".checkov.yml"):
        config = PROJECT_ROOT / config_name
        if config.is_file():
            text = config.read_text(encoding="utf-8")
            assert "skip-check" not in text and "soft-fail" not in text


# ---------------------------------------------------------------- alarms and outputs


def test_alarms_cover_queues_functions_and_late_jobs(resources: dict[str, Any]) -> None:
    watched: dict[tuple[str, str, str, str], tuple[str, int]] = {}
    for logical_id, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "NotificationTopic"}], logical_id
        assert props["ComparisonOperator"] == "GreaterThanThreshold", logical_id
        assert (props["Period"], props["EvaluationPeriods"]) == (300, 1), logical_id
        # No data means nothing happened (no message, no error, no Poll run with late jobs).
        assert props["TreatMissingData"] == "notBreaching", logical_id
        (dimension,) = props["Dimensions"]
        key = (props["Namespace"], props["MetricName"], dimension["Name"], resource_text(dimension["Value"]))
        assert key not in watched, f"{logical_id} repeats an alarm"
        watched[key] = (props["Statistic"], props["Threshold"])
    assert watched == EXPECTED_ALARMS


def test_job_alarms_watch_what_powertools_publishes(template: dict[str, Any]) -> None:
    # The code's metrics go to POWERTOOLS_METRICS_NAMESPACE with a "service" dimension set to
    # POWERTOOLS_SERVICE_NAME: an alarm on any other name would never fire.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in of_type(template["Resources"], "AWS::CloudWatch::Alarm").values()
        if not a["Properties"]["Namespace"].startswith("AWS/")
    }
    assert set(alarms) == {"OverdueJobs", "UncollectedJobs", "BatchQueueFull"}
    for props in alarms.values():
        assert props["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert props["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert "${UncollectedAlarmHours}" in alarms["UncollectedJobs"]["AlarmDescription"]["Fn::Sub"]
    # A count of refusals: any refusal in the period alarms, however few.
    assert alarms["BatchQueueFull"]["Statistic"] == "Sum"
    assert "${BatchQueueMaxWaitHours}" in alarms["BatchQueueFull"]["AlarmDescription"]["Fn::Sub"]


def test_outputs_name_everything_a_person_or_test_needs(template: dict[str, Any]) -> None:
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs.items() >= EXPECTED_OUTPUTS.items()


# ---------------------------------------------------------------- as SAM expands it


def test_expanded_template_is_plain_cloudformation(expanded: dict[str, Any]) -> None:
    types = {r["Type"] for r in expanded["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert "Transform" not in expanded
    graph = dependency_graph(expanded, with_globals=False)
    list(graph_order(graph))  # raises CycleError on a cycle


def test_expanded_ingest_queue_mapping_reports_partial_failures(expanded: dict[str, Any]) -> None:
    mappings = list(of_type(expanded["Resources"], "AWS::Lambda::EventSourceMapping").values())
    assert len(mappings) == 1
    props = mappings[0]["Properties"]
    assert props["FunctionName"] == {"Ref": "SubmitFunction"}
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == {"Ref": "IngestBatchSize"}
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "IngestBatchingWindowSeconds"}
    assert props["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "SubmitMaximumConcurrency"}}


def test_expanded_rules_schedule_poll_and_route_batch_ended(expanded: dict[str, Any]) -> None:
    rules = of_type(expanded["Resources"], "AWS::Events::Rule").values()
    schedules = [r["Properties"] for r in rules if "ScheduleExpression" in r["Properties"]]
    patterns = [r["Properties"] for r in rules if "EventPattern" in r["Properties"]]
    assert len(schedules) == 1
    assert schedules[0]["ScheduleExpression"] == {"Ref": "PollSchedule"}
    assert [t["Arn"] for t in schedules[0]["Targets"]] == [{"Fn::GetAtt": ["PollFunction", "Arn"]}]
    # "Batch Ended" on the job bus, and Bedrock's job-ended events on the default bus (test_bedrock.py).
    assert len(patterns) == 2
    (batch_ended,) = [p for p in patterns if p.get("EventBusName") == {"Ref": "JobEventBus"}]
    (on_default_bus,) = [p for p in patterns if "EventBusName" not in p]
    assert on_default_bus["EventPattern"]["source"] == ["aws.bedrock"]
    (target,) = batch_ended["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CompleteFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["CompleteDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 86400}


def test_expanded_functions_share_runtime_layer_and_environment(expanded: dict[str, Any]) -> None:
    resources = expanded["Resources"]
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == set(FUNCTIONS)
    (layer_id,) = of_type(resources, "AWS::Lambda::LayerVersion")
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["Handler"] == FUNCTIONS[logical_id][1]
        assert (props["Runtime"], props["Architectures"]) == ("python3.13", ["arm64"])
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": layer_id}]
        assert props["Environment"]["Variables"] == EXPECTED_ENVIRONMENT
        # The stack's log group, not the one Lambda would create on first use.
        assert props["LoggingConfig"] == {"LogGroup": {"Ref": LOG_GROUPS[logical_id]}}


@BUCKET_KEY_CASES
def test_expanded_roles_grant_no_data_action_on_every_resource(
    expanded: dict[str, Any], bucket_key: bool
) -> None:
    roles = under_conditions(of_type(expanded["Resources"], "AWS::IAM::Role"), conditions_for(bucket_key))
    # The functions' roles, and the one Bedrock assumes for its jobs (test_bedrock.py).
    assert set(roles) == {f"{lid}Role" for lid in FUNCTIONS} | {"BedrockServiceRole"}
    # Bedrock's role has its own inline policy and no managed policy at all.
    assert "ManagedPolicyArns" not in roles["BedrockServiceRole"]["Properties"]
    for logical_id, role in roles.items():
        if logical_id != "BedrockServiceRole":
            # SAM adds these itself (logs and traces); no queue policy on "*"
            managed = {arn.rsplit("/", 1)[1] for arn in role["Properties"]["ManagedPolicyArns"]}
            assert managed <= {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
            # logs:CreateLogStream and logs:PutLogEvents, which the function's own log group needs.
            assert "AWSLambdaBasicExecutionRole" in managed, logical_id
        for policy in role["Properties"]["Policies"]:
            statements = policy["PolicyDocument"]["Statement"]
            assert all("Effect" in s for s in statements), f"{logical_id}: a statement is not resolved"
            for action, resource, _ in grants(statements):
                if action.split(":", 1)[0] in DATA_SERVICES:
                    assert resource != "*", f"{logical_id}: {action} on *"


# ---------------------------------------------------------------- the documents table (Glue, Athena)


def test_documents_table_is_a_json_table_over_the_prefix_complete_writes(resources: dict[str, Any]) -> None:
    from batchdrop.domain.documents_table import COLUMNS
    from batchdrop.domain.keys import TABLE_PREFIX, table_key

    (database_id,) = of_type(resources, "AWS::Glue::Database")
    (table_id,) = of_type(resources, "AWS::Glue::Table")
    table = resources[table_id]["Properties"]
    assert table["DatabaseName"] == {"Ref": database_id}
    assert table["CatalogId"] == {"Ref": "AWS::AccountId"}
    table_input = table["TableInput"]
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    # The rows' columns, in the code's order and nothing else; JSON Lines read by the Hive SerDe.
    assert [c["Name"] for c in storage["Columns"]] == list(COLUMNS)
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert storage["Location"] == {"Fn::Sub": f"s3://${{DocumentsBucket}}/{TABLE_PREFIX}"}
    # Where the code writes a job's copy is a partition the table projects.
    assert table_input["PartitionKeys"] == [
        {"Name": "day", "Type": "string", "Comment": "the day the job was created, YYYY-MM-DD (UTC)"}
    ]
    template_key = table_input["Parameters"]["storage.location.template"]["Fn::Sub"]
    assert template_key == f"s3://${{DocumentsBucket}}/{TABLE_PREFIX}day=${{!day}}/"
    assert table_key("2026-11-25", "job-1") == f"{TABLE_PREFIX}day=2026-11-25/job-1.jsonl"


def test_documents_table_projects_every_day_so_queries_over_all_jobs_need_no_filter(
    resources: dict[str, Any],
) -> None:
    (table_id,) = of_type(resources, "AWS::Glue::Table")
    parameters = resources[table_id]["Properties"]["TableInput"]["Parameters"]
    assert parameters["projection.enabled"] == "true"
    # A date projection up to NOW (never "injected", which needs an equality filter in every query).
    assert parameters["projection.day.type"] == "date"
    assert parameters["projection.day.format"] == "yyyy-MM-dd"
    start, end = parameters["projection.day.range"].split(",")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", start) and end == "NOW"
    assert (parameters["projection.day.interval"], parameters["projection.day.interval.unit"]) == (
        "1",
        "DAYS",
    )
    assert not any(value == "injected" for name, value in parameters.items() if name.endswith(".type"))


def test_documents_database_name_is_one_athena_accepts(resources: dict[str, Any]) -> None:
    (database_id,) = of_type(resources, "AWS::Glue::Database")
    # Athena names allow lowercase letters, digits and underscores: the stack name's hyphens go.
    assert resources[database_id]["Properties"]["DatabaseInput"]["Name"] == {
        "Fn::Join": ["_", {"Fn::Split": ["-", {"Ref": "AWS::StackName"}]}]
    }


def test_no_function_may_touch_the_glue_catalog(resources: dict[str, Any]) -> None:
    # Complete writes the rows to S3; the table is the template's: no function needs glue:*.
    for logical_id in FUNCTIONS:
        actions = {action for action, _, _ in grants(function_statements(resources, logical_id))}
        assert not {a for a in actions if a.startswith(("glue:", "athena:"))}, logical_id
