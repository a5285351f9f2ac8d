"""The operator package reads jobs through the functions' jobs adapter only, and serves deployed
stacks as well as the local one: no DynamoDB calls of its own, nothing of the local stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import batchdrop_ops

PACKAGE = Path(batchdrop_ops.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_no_second_dynamodb_reader() -> None:
    raw_reads = re.compile(r"\.scan\(|\.query\(|get_item|batch_get_item|boto3\.dynamodb\.conditions")
    found = {
        f"{path.relative_to(PACKAGE)}:{n}": line.strip()
        for path in SOURCES
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if raw_reads.search(line)
    }
    assert len(SOURCES) > 10 and found == {}


def test_nothing_of_the_local_stack_is_imported() -> None:
    imports = re.compile(r"^\s*(from|import)\s+batchdrop_local\b", re.M)
    assert [path.name for path in SOURCES if imports.search(path.read_text())] == []
    # nor loaded by anything it imports
    code = (
        "import sys, batchdrop_ops.commands, batchdrop_ops.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('batchdrop_local')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_parser_of_the_operator_commands_loads_no_boto3() -> None:
    code = "import sys, batchdrop_ops.cli; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_modules_stay_small() -> None:
    assert {p.name: n for p in SOURCES if (n := len(p.read_text().splitlines())) > 350} == {}
