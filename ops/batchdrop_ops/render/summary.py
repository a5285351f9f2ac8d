"""A completed job's summary (``jobs/<job-id>/summary.json``) as ``batchdrop job`` shows it.

It reads the typed summary (domain.summary.Summary) that Complete wrote; nothing here parses JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from batchdrop.domain.pricing import TokenUsage
from batchdrop.domain.summary import Summary
from batchdrop_ops.render.text import cost_text, table


def tokens_text(tokens: TokenUsage) -> str:
    """Tokens by kind; thinking is shown as the part of output it is (never added to it)."""
    names = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    counts = tokens.as_dict()
    texts = [f"{name.replace('_', ' ')} {counts[name]:,}" for name in names]
    if tokens.thinking_tokens:
        texts[1] += f" ({tokens.thinking_tokens:,} thinking)"
    return ", ".join(texts)


def prices_text(checked: Iterable[Any]) -> str | None:
    """The date(s) the prices behind some costs were checked against the official pricing page
    (``prices_checked`` of a summary or a job), or None when none was recorded."""
    dates = sorted({str(date) for date in checked if date})
    return f"prices.json checked {', '.join(dates)}" if dates else None


def summary_lines(summary: Summary, key: str) -> list[str]:
    cost = summary.cost
    share = f" ({cost.savings / cost.standard:.0%})" if cost.standard and cost.complete else ""
    lines = [
        f"Summary ({key})",
        f"  tokens  {tokens_text(summary.tokens)}",
        f"  cost    {cost_text(cost.batch, cost.complete)} at batch price, "
        f"{cost_text(cost.standard, cost.complete)} at standard price, "
        f"{cost_text(cost.savings, cost.complete)} saved{share}",
    ]
    prices = prices_text([summary.prices_checked])
    lines.append(f"  prices  {prices or 'date not recorded (a summary from before prices.json had one)'}")
    if cost.unknown_price_models:
        lines.append(f"  no known price for: {', '.join(cost.unknown_price_models)}")
    if cost.approximate:
        lines.append(
            f"  approximate for: {', '.join(cost.approximate_models)} (tokens counted before "
            "costs were kept per request, priced at the first tier: a lower bound)"
        )
    if cost.unverified_price_models:
        lines.append(f"  unverified price for: {', '.join(cost.unverified_price_models)} (prices.json)")
    if summary.cost_by_profile:
        lines += ["", "Cost by profile"]
        rows = []
        for profile, c in sorted(summary.cost_by_profile.items()):
            ok = bool(c.get("complete", True))
            rows.append(
                (
                    profile,
                    str(summary.documents_by_profile.get(profile, "-")),
                    cost_text(c.get("batch"), ok),
                    cost_text(c.get("standard"), ok),
                    cost_text(c.get("savings"), ok),
                )
            )
        lines += table(("PROFILE", "DOCUMENTS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"), rows, "  ")
    if summary.errors:
        more = " (more not listed)" if summary.errors_truncated else ""
        lines.append(f"  errors  {len(summary.errors)} listed in the summary{more}")
    return lines
