"""``make invoke``: ``sam local invoke`` where a container runtime exists; otherwise the handler
that template.yaml names, in this process, against the running local stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from batchdrop_local.provision import plan
from batchdrop_local.runtime import LambdaContext, bedrock_environment, lambda_environment, load_handler
from batchdrop_local.template import PROJECT_ROOT


def container_runtime_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, check=False, timeout=20).returncode == 0


def sam_executable() -> str | None:
    local = PROJECT_ROOT / ".venv-sam" / "bin" / "sam"
    return str(local) if local.exists() else shutil.which("sam")


def invoke(function: str, event_path: Path, state_dir: Path, force_local: bool = False) -> int:
    if not event_path.is_file():
        print(f"batchdrop invoke: no event file {event_path}", file=sys.stderr)
        return 2
    sam = sam_executable()
    if not force_local and sam and container_runtime_available():
        return subprocess.run(
            [sam, "local", "invoke", function, "-e", str(event_path)], check=False
        ).returncode

    state_file = state_dir / "state.json"
    if not state_file.exists():
        print(
            "batchdrop invoke: no container runtime for sam local invoke, and no local stack is running.\n"
            "Start one in another terminal with `make local-up`, then run this again.",
            file=sys.stderr,
        )
        return 2
    state = json.loads(state_file.read_text())
    resources, _, _ = plan(state["endpoint"], prefix=state["prefix"], parameters=state["parameters"])
    if function not in resources.functions:
        print(
            f"batchdrop invoke: {function} is not a function of template.yaml; "
            f"functions: {', '.join(sorted(resources.functions))}",
            file=sys.stderr,
        )
        return 2
    fn = resources.functions[function]
    os.environ.update(
        lambda_environment(fn, state["endpoint"], bedrock_environment(state.get("bedrock_url")))
    )
    handler = load_handler(fn)
    print(f"invoking {fn.handler} ({function}) in process against {state['endpoint']} ...", file=sys.stderr)
    try:
        result = handler(json.loads(event_path.read_text()), LambdaContext(fn, fn.timeout))
    except Exception as exc:  # what Lambda reports as a function error
        print(f"{function} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        if event_path.name == "batch-ended.json":
            print(
                "hint: put the job_id and batch_id of a job from the jobs table in the event's detail",
                file=sys.stderr,
            )
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0
