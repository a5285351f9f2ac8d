"""The template, loaded the way cfn-lint reads it, and expanded the way SAM deploys it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

# Placeholders for what `sam build`/`sam package` would upload; the translator wants S3 URIs.
PLACEHOLDER_CODE_URI = "s3://placeholder-bucket/code.zip"
PLACEHOLDER_LAYER_URI = "s3://placeholder-bucket/layer.zip"


def _plain(value: Any) -> Any:
    """cfn-lint's node types (dict_node, str_node) -> plain dicts, lists and strings."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(TEMPLATE_PATH)))


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


class _NoManagedPolicies:
    """Managed-policy loader for the translator: the template names no managed policies."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def expanded(template: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation that the AWS::Serverless transform makes of the template."""
    sam_transform = pytest.importorskip(
        "samtranslator.translator.transform",
        reason="aws-sam-translator is not installed in this environment",
    )
    fragment = copy.deepcopy(template)
    for resource in fragment["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = PLACEHOLDER_CODE_URI
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = PLACEHOLDER_LAYER_URI
    with pytest.MonkeyPatch.context() as patch:
        # The translator builds ARNs for the session's region; no AWS call is made.
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        result: dict[str, Any] = sam_transform.transform(fragment, {}, _NoManagedPolicies())
    return _plain(result)
