"""The layer's roles, checked from the source: what each role may import, how long a module may
grow, and how long a handler's body may be (README: Repository layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "batchdrop"
FUNCTIONS = ROOT / "functions"

# Libraries that reach AWS or the Anthropic API, or run Lambda: only adapters and wiring use them.
OUTSIDE = ("boto3", "botocore", "anthropic", "aws_lambda_powertools", "aws_xray_sdk", "mypy_boto3_s3")
# What each role may import of batchdrop itself.
ALLOWED = {
    "domain": ("batchdrop.domain", "batchdrop.settings"),
    "ports": ("batchdrop.domain", "batchdrop.ports"),
    "usecases": ("batchdrop.domain", "batchdrop.ports", "batchdrop.usecases", "batchdrop.observability"),
}
MODULE_LINES = 350
HANDLER_BODY_LINES = 25


def _modules(role: str) -> list[Path]:
    return sorted(p for p in (LAYER / role).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING blocks and functions included)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_imports_only_what_it_may(role: str) -> None:
    modules = _modules(role)
    assert modules, f"no modules under {role}/"
    wrong = {
        f"{path.relative_to(LAYER)} imports {name}"
        for path in modules
        for name in _imports(path)
        if _under(name, OUTSIDE) or (name.startswith("batchdrop") and not _under(name, ALLOWED[role]))
    }
    assert not wrong, sorted(wrong)


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from batchdrop.adapters import x\n"
    )
    assert _imports(module) == ["typing", "batchdrop.adapters"]
    assert not _under("batchdrop.adapters", ALLOWED["usecases"])
    assert _under("botocore.exceptions", OUTSIDE)


def test_no_module_of_the_layer_exceeds_the_size_a_reader_can_hold() -> None:
    sizes = {p.relative_to(LAYER): len(p.read_text().splitlines()) for p in LAYER.rglob("*.py")}
    assert len(sizes) > 50
    assert {str(p): n for p, n in sizes.items() if n > MODULE_LINES} == {}


def _handler(path: Path) -> ast.FunctionDef:
    tree = ast.parse(path.read_text(), str(path))
    (handler,) = (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler")
    return handler


@pytest.mark.parametrize("name", ["submit", "poll", "complete"])
def test_a_handler_reads_as_a_table_of_contents(name: str) -> None:
    handler = _handler(FUNCTIONS / name / f"{name}.py")
    body_lines = (handler.end_lineno or 0) - handler.body[0].lineno + 1
    assert handler.decorator_list, "the handler's decorators (logger, tracer, metrics)"
    assert body_lines <= HANDLER_BODY_LINES
    # no loop or branch of its own: the use case decides
    assert not [n for n in ast.walk(handler) if isinstance(n, ast.For | ast.While | ast.If | ast.Try)]
