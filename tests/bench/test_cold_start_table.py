"""The cold-start table from given figures: ratios to the baseline of the same run, and each
target judged (no timing here; the figures belong to make bench)."""

from __future__ import annotations

from typing import Any

from batchdrop_local.bench.__main__ import COLD_START_HEADER, cold_start_rows, cold_start_table


def _imports(cpu: dict[str, float], lazy: dict[str, list[str]] | None = None) -> dict[str, Any]:
    wall = {t: 2 * s for t, s in cpu.items()}  # a busy machine: the wall clock twice the CPU
    return {
        "runs": 5,
        "wall": wall,
        "cpu": cpu,
        "lazy_loaded": {t: (lazy or {}).get(t, []) for t in cpu},
    }


def _by_module(imports: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(COLD_START_HEADER, row, strict=True)) for row in cold_start_rows(imports)}


def test_each_handler_is_a_ratio_to_the_powertools_baseline_of_the_same_run() -> None:
    rows = _by_module(
        _imports({"powertools": 0.25, "SubmitFunction": 0.5, "CompleteFunction": 0.4, "PollFunction": 0.3})
    )
    assert list(rows) == [
        "Powertools Logger, Metrics, Tracer",
        "SubmitFunction",
        "CompleteFunction",
        "PollFunction",
    ]
    assert rows["Powertools Logger, Metrics, Tracer"]["x Powertools"] == "1.00"
    assert rows["SubmitFunction"]["CPU s"] == "0.500"
    assert rows["SubmitFunction"]["wall s"] == "1.000"
    assert rows["CompleteFunction"]["x Powertools"] == "1.60"
    assert rows["PollFunction"]["x Powertools"] == "1.20"


def test_targets_are_judged_on_cpu_seconds_and_poll_has_none() -> None:
    rows = _by_module(
        _imports({"powertools": 0.3, "SubmitFunction": 0.6, "CompleteFunction": 0.51, "PollFunction": 0.9})
    )
    assert (rows["SubmitFunction"]["target s"], rows["SubmitFunction"]["met (CPU)"]) == ("0.6", "yes")
    assert (rows["CompleteFunction"]["target s"], rows["CompleteFunction"]["met (CPU)"]) == ("0.5", "NO")
    assert (rows["PollFunction"]["target s"], rows["PollFunction"]["met (CPU)"]) == ("-", "-")


def test_a_library_loaded_too_early_is_named() -> None:
    imports = _imports(
        {"powertools": 0.3, "SubmitFunction": 0.4, "CompleteFunction": 0.4, "PollFunction": 0.4},
        {"SubmitFunction": ["pypdf", "yaml"]},
    )
    rows = _by_module(imports)
    assert rows["SubmitFunction"]["loaded that should wait"] == "pypdf, yaml"
    assert rows["CompleteFunction"]["loaded that should wait"] == "none"
    assert "median of 5" in cold_start_table(imports)
