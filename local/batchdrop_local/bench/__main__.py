"""``make bench``: Submit, Complete, Poll and cold starts measured, printed as tables.

Every figure comes from this run: each measurement runs in a fresh process (``worker.py``)
against the in-memory stand-in for S3 and DynamoDB with a stated latency per call, and the
Message Batches emulator over HTTP; baselines (plain boto3 at the same concurrency) run in the
same process just before or after. Ratios compare the two; nothing is compared with figures
from another machine or another day.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from batchdrop_local.provision import plan

# The network, as stated in the README: typical in-region latencies for small objects.
S3_GET = 0.015
S3_PUT = 0.020
DYNAMODB = 0.005
API = 0.050  # the Message Batches API, for Poll's ticks
CONCURRENCY = 16  # DOCUMENT_READ_CONCURRENCY and RESULT_WRITE_CONCURRENCY defaults
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
# Import time each handler module may take on this machine (issue 11); Poll has no target.
COLD_START_TARGETS = {"SubmitFunction": 0.6, "CompleteFunction": 0.5}
COLD_START_MODULES = ("SubmitFunction", "CompleteFunction", "PollFunction")


@contextmanager
def emulator() -> Iterator[str]:
    """The Message Batches emulator in its own process (its CPU is not the functions')."""
    command = [
        sys.executable,
        "-c",
        "import sys; from batchdrop_local.cli import main; sys.exit(main(sys.argv[1:]))",
        "local",
        "emulator",
        "--port",
        "0",
        "--delay",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def configure(url: str, **settings: float) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/_emulator/config",
        data=json.dumps(settings).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()  # noqa: S310


def run(spec: dict[str, Any]) -> dict[str, Any]:
    label = " ".join(f"{k}={v}" for k, v in spec.items() if k != "emulator")
    print(f"  running {label} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "batchdrop_local.bench.worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark {label} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([f"\n{title}\n", line, rule, *body])


def _per_doc(calls: dict[str, int], n: int, prefix: str) -> str:
    return f"{sum(c for k, c in calls.items() if k.startswith(prefix)) / n:.3f}"


def throughput_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        n, ours, base = r["n"], r["batchdrop"], r["baseline"]
        rows.append(
            [
                f"{n:,}",
                f"{ours['seconds']:.1f}",
                f"{n / ours['seconds']:,.0f}",
                f"{base['seconds']:.1f}",
                f"{n / base['seconds']:,.0f}",
                f"{base['seconds'] / ours['seconds']:.2f}",
                f"{ours['peak_rss_mib']:.0f} (+{ours['peak_above_start_mib']:.0f})",
                f"{base['peak_rss_mib']:.0f} (+{base['peak_above_start_mib']:.0f})",
                _per_doc(r["calls"], n, "s3:"),
                _per_doc(r["calls"], n, "dynamodb:"),
            ]
        )
    return rows


THROUGHPUT_HEADER = [
    "documents",
    "batchdrop s",
    "docs/s",
    "boto3 s",
    "docs/s",
    "ratio",
    "peak MiB (+over start)",
    "boto3 peak MiB (+over start)",
    "S3 calls/doc",
    "DynamoDB calls/doc",
]


def projection(cpu: dict[str, Any], submit_mb: int, complete_mb: int) -> list[list[str]]:
    """Time on Lambda for 100,000 documents: CPU scaled to the function's share of a vCPU, or
    the network at the stated latency and concurrency, whichever is longer."""
    n = 100_000
    rows = []
    for name, mb, cpu_ms, latency, timeout, how in (
        ("Submit, one 10,000-document window", submit_mb, cpu["submit_cpu_ms"], S3_GET, 900, 10_000),
        ("Submit, 100,000 in 1,000-document windows", submit_mb, cpu["submit_cpu_ms"], S3_GET, 900, 1_000),
        ("Complete, one 100,000-result job", complete_mb, cpu["complete_cpu_ms"], S3_PUT, 900, n),
    ):
        share = min(mb / LAMBDA_MB_PER_VCPU, 1.0)
        docs = how
        cpu_s = docs * cpu_ms / 1000 / share
        net_s = docs * latency / CONCURRENCY
        invocation = max(cpu_s, net_s)
        invocations = -(-n // docs)
        rows.append(
            [
                name,
                f"{mb} MB = {share:.2f} vCPU",
                f"{docs:,}",
                f"{cpu_s:.0f}",
                f"{net_s:.0f}",
                f"{invocation:.0f}",
                f"{timeout / invocation:.1f}x",
                f"{invocations}",
            ]
        )
    return rows


def measure_imports(runs: int) -> dict[str, Any]:
    """Each handler module's import and the Powertools baseline, each in a new interpreter,
    interleaved ``runs`` times (a slow moment on a shared machine falls on all of them alike).

    A first, uncounted round compiles the bytecode into a directory of this run's own, as a
    deployed package ships it compiled; the counted rounds read it.
    """
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    loaded: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="batchdrop-bench-pycache-") as pycache:
        for round_ in range(runs + 1):
            for target in ("powertools", *COLD_START_MODULES):
                result = run({"bench": "import", "target": target, "pycache": pycache})
                loaded.setdefault(target, set()).update(result["lazy_loaded"])
                if round_:
                    wall.setdefault(target, []).append(result["seconds"])
                    cpu.setdefault(target, []).append(result["cpu_seconds"])
    return {
        "runs": runs,
        "wall": {t: statistics.median(s) for t, s in wall.items()},
        "cpu": {t: statistics.median(s) for t, s in cpu.items()},
        "samples": {"wall": wall, "cpu": cpu},
        "lazy_loaded": {t: sorted(names) for t, names in loaded.items()},
    }


def cold_start_rows(imports: dict[str, Any]) -> list[list[str]]:
    """The baseline, then each handler: median wall-clock and CPU seconds, each also as a ratio
    to the baseline of this run, its target (if it has one) and whether it is met.

    The last column names the modules of ``worker.LAZY_MODULES`` (the SDK, the converters'
    libraries, pydantic, jsonschema, yaml) the import loaded; none should be.

    A target is judged on CPU seconds: on a shared machine the wall clock also counts the time
    other processes held the cores; on an idle one the two agree.
    """
    wall, cpu = imports["wall"], imports["cpu"]
    rows = []
    for target in ("powertools", *COLD_START_MODULES):
        limit = COLD_START_TARGETS.get(target)
        rows.append(
            [
                "Powertools Logger, Metrics, Tracer" if target == "powertools" else target,
                f"{wall[target]:.3f}",
                f"{wall[target] / wall['powertools']:.2f}",
                f"{cpu[target]:.3f}",
                f"{cpu[target] / cpu['powertools']:.2f}",
                f"{limit:.1f}" if limit is not None else "-",
                "-" if limit is None else ("yes" if cpu[target] <= limit else "NO"),
                ", ".join(imports["lazy_loaded"][target]) or "none",
            ]
        )
    return rows


COLD_START_HEADER = [
    "module",
    "wall s",
    "x Powertools",
    "CPU s",
    "x Powertools",
    "target s",
    "met (CPU)",
    "loaded that should wait",
]


def cold_start_table(imports: dict[str, Any]) -> str:
    return table(
        f"Cold start: import time, median of {imports['runs']} (a new interpreter each, bytecode "
        "compiled, as deployed), against Powertools with Logger, Metrics and Tracer created",
        COLD_START_HEADER,
        cold_start_rows(imports),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="document counts (%(default)s)")
    parser.add_argument("--cpu-size", type=int, default=5000, help="documents for CPU per document")
    parser.add_argument("--poll-jobs", default="0,10,1000", help="open jobs per Poll tick (%(default)s)")
    parser.add_argument("--import-runs", type=int, default=7, help="cold-start rounds (%(default)s)")
    parser.add_argument("--cold-start-only", action="store_true", help="only the cold-start table")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if args.cold_start_only:
        imports = measure_imports(args.import_runs)
        print(cold_start_table(imports), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"imports": imports}, indent=2) + "\n")
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    resources, _, _ = plan("http://stand-in.invalid")
    memory = {logical: fn.memory_mb for logical, fn in resources.functions.items()}
    timeouts = {logical: fn.timeout for logical, fn in resources.functions.items()}
    latency = {"s3_get": S3_GET, "s3_put": S3_PUT, "dynamodb": DYNAMODB, "concurrency": CONCURRENCY}
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    print(
        f"batchdrop benchmarks on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; stand-in latency: S3 GET {S3_GET * 1e3:.0f} ms, PUT "
        f"{S3_PUT * 1e3:.0f} ms, DynamoDB {DYNAMODB * 1e3:.0f} ms; API {API * 1e3:.0f} ms for Poll; "
        f"concurrency {CONCURRENCY}",
        flush=True,
    )
    with emulator() as url:
        configure(url, processing_delay=0, latency=0)
        figures["submit"] = [run({"bench": "submit", "n": n, "emulator": url, **latency}) for n in sizes]
        figures["complete"] = [run({"bench": "complete", "n": n, "emulator": url, **latency}) for n in sizes]
        figures["cpu"] = run({"bench": "cpu", "n": args.cpu_size, "emulator": url})
        configure(url, processing_delay=86_400, latency=API)
        figures["poll"] = [
            run({"bench": "poll", "open_jobs": int(k), "emulator": url, **latency})
            for k in args.poll_jobs.split(",")
        ]
    figures["imports"] = measure_imports(args.import_runs)

    print(
        table(
            "Submit: N documents in the inbox -> batches created",
            THROUGHPUT_HEADER,
            throughput_rows(figures["submit"]),
        )
    )
    print(
        table(
            "Complete: N results -> result objects, results.jsonl, summary",
            THROUGHPUT_HEADER,
            throughput_rows(figures["complete"]),
        )
    )
    cpu = figures["cpu"]
    print(
        table(
            f"CPU per document (ms), one thread, no latency, {cpu['n']:,} documents",
            ["", "batchdrop", "JSON floor", "x floor", "one bare boto3 GetObject"],
            [
                [
                    "Submit",
                    f"{cpu['submit_cpu_ms']:.3f}",
                    f"{cpu['floor_submit_ms']:.3f}",
                    f"{cpu['submit_cpu_ms'] / cpu['floor_submit_ms']:.0f}",
                    f"{cpu['boto3_get_cpu_ms']:.3f}",
                ],
                [
                    "Complete",
                    f"{cpu['complete_cpu_ms']:.3f}",
                    f"{cpu['floor_complete_ms']:.3f}",
                    f"{cpu['complete_cpu_ms'] / cpu['floor_complete_ms']:.0f}",
                    f"{cpu['boto3_get_cpu_ms']:.3f}",
                ],
            ],
        )
    )
    poll_rows = [
        [
            f"{p['open_jobs']:,}",
            f"{p['seconds']:.2f}",
            f"{timeouts['PollFunction'] / max(p['seconds'], 1e-9):.0f}x",
            ", ".join(f"{k} {v}" for k, v in sorted(p["aws_calls"].items())) or "-",
            ", ".join(f"{k} {v}" for k, v in sorted(p["api_calls"].items())) or "-",
            "yes" if p["anthropic_imported"] else "no",
        ]
        for p in figures["poll"]
    ]
    print(
        table(
            f"Poll: one tick (API latency {API * 1e3:.0f} ms)",
            ["open jobs", "seconds", "timeout headroom", "AWS calls", "API calls", "SDK imported"],
            poll_rows,
        )
    )
    print(cold_start_table(figures["imports"]))
    print(
        table(
            "Projection on Lambda for 100,000 documents (CPU from the table above; network at the "
            f"stated latency, concurrency {CONCURRENCY})",
            [
                "function",
                "memory",
                "docs/invocation",
                "CPU s",
                "network s",
                "invocation s",
                "timeout headroom",
                "invocations",
            ],
            projection(cpu, memory["SubmitFunction"], memory["CompleteFunction"]),
        )
    )
    print(f"\n{time.perf_counter() - started:.0f} s in all", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
