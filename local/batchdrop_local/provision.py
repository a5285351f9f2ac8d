"""Create template.yaml's resources in moto, and describe its functions for the local runtime.

Every resource type in the template is either created here or listed in ``NOT_EMULATED`` with
the reason; anything else fails, so that a template change cannot silently leave the local
stack behind.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from batchdrop_local.template import PROJECT_ROOT, Resolver, TemplateError, load_template, parameter_defaults

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"

# Types the local stack does not reproduce, and why that is safe.
NOT_EMULATED = {
    "AWS::S3::BucketPolicy": "access policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "access policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "access policies are not enforced locally",
    "AWS::KMS::Key": "encryption at rest is not emulated",
    "AWS::KMS::Alias": "encryption at rest is not emulated",
    "AWS::CloudWatch::Alarm": "alarms need CloudWatch metrics, which the local stack does not produce",
    "AWS::Serverless::LayerVersion": "the layer's package is installed in the local virtualenv",
    "AWS::Logs::LogGroup": "the local runtime writes each function's log to its own file (or the console)",
    "AWS::Glue::Database": "Athena is not emulated: `batchdrop documents` reads the rows from the bucket",
    "AWS::Glue::Table": "Athena is not emulated: `batchdrop documents` reads the rows from the bucket",
}


@dataclass(frozen=True)
class LocalFunction:
    """A function of the template, as the local runtime runs it."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    events: dict[str, dict[str, Any]]

    @property
    def module_path(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass
class LocalStackResources:
    """What was created, by logical id, and the functions to run."""

    endpoint: str
    region: str
    names: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    # AWS::Lambda::EventSourceMapping resources, resolved: run by the local stack's pollers.
    event_source_mappings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def output(self, logical_id: str) -> str:
        return self.names[logical_id]


def _physical(prefix: str, logical_id: str, resource_type: str) -> tuple[str, dict[tuple[str, str], str]]:
    """The local physical id (what Ref returns) and GetAtt attributes of a resource."""
    name = f"{prefix}-{logical_id}"
    if resource_type == "AWS::S3::Bucket":
        return prefix, {
            ("Arn", ""): f"arn:aws:s3:::{prefix}",
            ("DomainName", ""): f"{prefix}.s3.amazonaws.com",
        }
    if resource_type == "AWS::SQS::Queue":
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        return name, {("Arn", ""): arn, ("QueueName", ""): name}
    if resource_type == "AWS::DynamoDB::Table":
        return name, {("Arn", ""): f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"}
    if resource_type == "AWS::SNS::Topic":
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"
        return arn, {("TopicArn", ""): arn, ("TopicName", ""): name}
    if resource_type == "AWS::Events::EventBus":
        return name, {
            ("Arn", ""): f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}",
            ("Name", ""): name,
        }
    if resource_type == "AWS::Serverless::Function":
        return name, {("Arn", ""): f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"}
    if resource_type == "AWS::IAM::Role":
        return name, {("Arn", ""): f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", ("RoleId", ""): name}
    if resource_type == "AWS::KMS::Key":
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        return key_id, {("Arn", ""): f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}", ("KeyId", ""): key_id}
    return name, {("Arn", ""): f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{name}"}


def build_resolver(template: dict[str, Any], prefix: str, parameters: dict[str, str]) -> Resolver:
    resolver = Resolver(template)
    resolver.refs.update(
        {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": prefix,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{prefix}/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, prefix)),
        }
    )
    resolver.refs.update(parameters)
    for logical_id, resource in template["Resources"].items():
        ref, attributes = _physical(prefix, logical_id, resource["Type"])
        resolver.refs[logical_id] = ref
        for (attribute, _), value in attributes.items():
            resolver.attributes[(logical_id, attribute)] = value
    return resolver


def _function(template: dict[str, Any], resolver: Resolver, logical_id: str, name: str) -> LocalFunction:
    props = template["Resources"][logical_id]["Properties"]
    globals_ = template.get("Globals", {}).get("Function", {})
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **props.get("Environment", {}).get("Variables", {}),
    }
    environment = {key: str(value) for key, value in resolver.resolve(variables).items()}
    return LocalFunction(
        logical_id=logical_id,
        name=name,
        code_dir=PROJECT_ROOT / str(props["CodeUri"]),
        handler=str(props["Handler"]),
        environment=environment,
        timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        events={event: resolver.resolve(spec) for event, spec in props.get("Events", {}).items()},
    )


def _session_client(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        region_name=REGION,
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    return client


def plan(
    endpoint: str,
    *,
    prefix: str = "batchdrop-local",
    parameters: dict[str, str] | None = None,
    template_path: Path | None = None,
) -> tuple[LocalStackResources, Resolver, dict[str, Any]]:
    """Names, functions and environments of the local stack, without creating anything."""
    template = load_template(template_path) if template_path else load_template()
    params = {**parameter_defaults(template), **(parameters or {})}
    resolver = build_resolver(template, prefix, params)
    stack = LocalStackResources(endpoint=endpoint, region=REGION, parameters=params)
    resources = template["Resources"]
    unknown = {
        r["Type"]
        for r in resources.values()
        if r["Type"] not in _CREATORS
        and r["Type"] not in NOT_EMULATED
        and r["Type"] not in ("AWS::Serverless::Function", EVENT_SOURCE_MAPPING)
    }
    if unknown:
        raise TemplateError(f"the local stack does not know how to create {sorted(unknown)}")
    for logical_id, resource in resources.items():
        if resource["Type"] in _CREATORS:
            stack.names[logical_id] = resolver.refs[logical_id]
            if resource["Type"] == "AWS::SQS::Queue":
                stack.queue_urls[logical_id] = f"{endpoint}/{ACCOUNT_ID}/{resolver.refs[logical_id]}"
        elif resource["Type"] == "AWS::Serverless::Function":
            name = resolver.refs[logical_id]
            stack.functions[logical_id] = _function(template, resolver, logical_id, name)
            stack.names[logical_id] = name
        elif resource["Type"] == EVENT_SOURCE_MAPPING:
            stack.event_source_mappings[logical_id] = resolver.resolve(resource.get("Properties", {}))
    if params.get("AnthropicSecretName"):
        stack.names["AnthropicSecretName"] = params["AnthropicSecretName"]
    return stack, resolver, template


def provision(
    endpoint: str,
    *,
    prefix: str = "batchdrop-local",
    parameters: dict[str, str] | None = None,
    anthropic_api_key: str = "local-emulator-key",
    visibility_timeout: int | None = 30,
    template_path: Path | None = None,
) -> LocalStackResources:
    """Create the template's resources in the AWS endpoint (moto) and return their names.

    ``visibility_timeout`` replaces the queues' (hours in the template, sized for a 15-minute
    function) so that a failed message is retried within seconds on a laptop.
    """
    stack, resolver, template = plan(
        endpoint, prefix=prefix, parameters=parameters, template_path=template_path
    )
    client = _session_client(endpoint)
    resources = template["Resources"]
    # Queues first (dead-letter queues before the queues that redrive to them), buckets last,
    # since their notifications name queues.
    order = [
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::Events::EventBus",
        "AWS::S3::Bucket",
        "AWS::IAM::Role",
    ]
    for resource_type in order:
        ids = sorted(
            (lid for lid, r in resources.items() if r["Type"] == resource_type),
            key=lambda lid: "RedrivePolicy" in resources[lid].get("Properties", {}),
        )
        for logical_id in ids:
            props = resolver.resolve(resources[logical_id].get("Properties", {}))
            _CREATORS[resource_type](
                _Creation(client, stack, logical_id, resolver.refs[logical_id], props, visibility_timeout)
            )

    secret_name = stack.parameters.get("AnthropicSecretName")
    if secret_name:
        secrets = client("secretsmanager")
        try:
            secrets.create_secret(Name=secret_name, SecretString=anthropic_api_key)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_name, SecretString=anthropic_api_key)
    return stack


@dataclass(frozen=True)
class _Creation:
    """One resource to create: its resolved properties and where to record it."""

    client: Any
    stack: LocalStackResources
    logical_id: str
    name: str
    props: dict[str, Any]
    visibility_timeout: int | None


def _create_queue(c: _Creation) -> None:
    attributes: dict[str, str] = {}
    if "VisibilityTimeout" in c.props:
        attributes["VisibilityTimeout"] = str(c.visibility_timeout or c.props["VisibilityTimeout"])
    if "MessageRetentionPeriod" in c.props:
        attributes["MessageRetentionPeriod"] = str(c.props["MessageRetentionPeriod"])
    if "RedrivePolicy" in c.props:
        attributes["RedrivePolicy"] = json.dumps(c.props["RedrivePolicy"])
    response = c.client("sqs").create_queue(QueueName=c.name, Attributes=attributes)
    c.stack.queue_urls[c.logical_id] = response["QueueUrl"]


def _create_table(c: _Creation) -> None:
    dynamodb = c.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": c.name,
        "AttributeDefinitions": c.props["AttributeDefinitions"],
        "KeySchema": c.props["KeySchema"],
        "BillingMode": c.props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if c.props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = c.props["GlobalSecondaryIndexes"]
    dynamodb.create_table(**kwargs)
    ttl = c.props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=c.name, TimeToLiveSpecification=ttl)


def _create_topic(c: _Creation) -> None:
    c.client("sns").create_topic(Name=c.name.rsplit(":", 1)[1])


def _create_bus(c: _Creation) -> None:
    c.client("events").create_event_bus(Name=c.name)


def _create_bucket(c: _Creation) -> None:
    s3 = c.client("s3")
    s3.create_bucket(Bucket=c.name)
    if c.props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=c.name, VersioningConfiguration=c.props["VersioningConfiguration"])
    encryption = c.props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
            }
            for rule in encryption
        ]
        s3.put_bucket_encryption(Bucket=c.name, ServerSideEncryptionConfiguration={"Rules": rules})
    if c.props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=c.name, PublicAccessBlockConfiguration=c.props["PublicAccessBlockConfiguration"]
        )
    queue_configs = c.props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queue_configs:
        s3.put_bucket_notification_configuration(
            Bucket=c.name,
            NotificationConfiguration={
                "QueueConfigurations": [_queue_notification(config) for config in queue_configs]
            },
        )


def _queue_notification(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's notification shape -> the S3 API's."""
    rules = config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    notification: dict[str, Any] = {"QueueArn": config["Queue"], "Events": [config["Event"]]}
    if rules:
        notification["Filter"] = {
            "Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
        }
    return notification


def _create_role(c: _Creation) -> None:
    """The role and its inline policies in moto's IAM (which checks their grammar; nothing
    enforces them locally): the Bedrock emulator is handed its ARN like Bedrock would be."""
    iam = c.client("iam")
    iam.create_role(
        RoleName=c.name,
        AssumeRolePolicyDocument=json.dumps(c.props["AssumeRolePolicyDocument"]),
        Description=str(c.props.get("Description", "")),
    )
    for policy in c.props.get("Policies", []):
        iam.put_role_policy(
            RoleName=c.name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )


_CREATORS = {
    "AWS::SQS::Queue": _create_queue,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SNS::Topic": _create_topic,
    "AWS::Events::EventBus": _create_bus,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::IAM::Role": _create_role,
}


def rate_seconds(expression: str) -> float:
    """``rate(5 minutes)`` -> 300. The local stack scales it down by its own setting."""
    match = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise TemplateError(f"the local stack supports rate() schedules only, not {expression!r}")
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]
