"""A completed job's summary (``jobs/<job-id>/summary.json``) as ``batchdrop job`` shows it.

The summary is read as its JSON dict (reading.read_summary) until the typed summary replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from batchdrop_ops.render.text import cost_text, number, table


def tokens_text(tokens: dict[str, Any]) -> str:
    """Tokens by kind; thinking is shown as the part of output it is (never added to it)."""
    names = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    texts = [f"{name.replace('_', ' ')} {number(tokens.get(name)):,}" for name in names]
    if thinking := number(tokens.get("thinking")):
        texts[1] += f" ({thinking:,} thinking)"
    return ", ".join(texts)


def prices_text(checked: Iterable[Any]) -> str | None:
    """The date(s) the prices behind some costs were checked against the official pricing page
    (``prices_checked`` of a summary or a job), or None when none was recorded."""
    dates = sorted({str(date) for date in checked if date})
    return f"prices.json checked {', '.join(dates)}" if dates else None


def summary_lines(summary: dict[str, Any], key: str) -> list[str]:
    cost = summary.get("cost") or {}
    complete = bool(cost.get("complete", True))
    standard = float(cost.get("standard") or 0)
    savings = float(cost.get("savings") or 0)
    share = f" ({savings / standard:.0%})" if standard and complete else ""
    lines = [
        f"Summary ({key})",
        f"  tokens  {tokens_text(summary.get('tokens') or {})}",
        f"  cost    {cost_text(cost.get('batch'), complete)} at batch price, "
        f"{cost_text(cost.get('standard'), complete)} at standard price, "
        f"{cost_text(cost.get('savings'), complete)} saved{share}",
    ]
    prices = prices_text([summary.get("prices_checked")])
    lines.append(f"  prices  {prices or 'date not recorded (a summary from before prices.json had one)'}")
    if cost.get("unknown_price_models"):
        lines.append(f"  no known price for: {', '.join(cost['unknown_price_models'])}")
    if cost.get("approximate"):
        lines.append(
            f"  approximate for: {', '.join(cost.get('approximate_models') or [])} (tokens counted before "
            "costs were kept per request, priced at the first tier: a lower bound)"
        )
    if cost.get("unverified_price_models"):
        lines.append(f"  unverified price for: {', '.join(cost['unverified_price_models'])} (prices.json)")
    by_profile = summary.get("cost_by_profile") or {}
    if by_profile:
        lines += ["", "Cost by profile"]
        rows = []
        for profile, c in sorted(by_profile.items()):
            ok = bool(c.get("complete", True))
            rows.append(
                (
                    profile,
                    str((summary.get("documents_by_profile") or {}).get(profile, "-")),
                    cost_text(c.get("batch"), ok),
                    cost_text(c.get("standard"), ok),
                    cost_text(c.get("savings"), ok),
                )
            )
        lines += table(("PROFILE", "DOCUMENTS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"), rows, "  ")
    errors = summary.get("errors") or []
    if errors:
        more = " (more not listed)" if summary.get("errors_truncated") else ""
        lines.append(f"  errors  {len(errors)} listed in the summary{more}")
    return lines
