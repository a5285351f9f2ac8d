"""End to end: one file of every supported type, two profiles and a request list, dropped into
the running local stack with plain boto3; each comes back as its answer or its error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import DEADLINE, client, running_local_stack
from tests.fixtures import files

pytestmark = pytest.mark.e2e

PROFILES = {
    "profiles/brief.yaml": b"model: claude-haiku-4-5\nmax_tokens: 200\ninstruction: Two sentences on ${name}.\n",
    "profiles/facts.json": b'{"model": "claude-sonnet-4-6", "output_format": "json", "instruction": "List the facts."}',
}
DOCUMENTS = {
    "inbox/brief/plain.txt": b"The warehouse in Lyon opened on 4 August.",
    "inbox/brief/notes.md": "# Notes\n\n- café opens at 8\n".encode(),
    "inbox/brief/latin1.txt": files.cp1252_text(),
    "inbox/brief/table.csv": b"a,b\n1,2\n",
    "inbox/brief/data.json": b'{"orders": 12}',
    "inbox/brief/script.py": b"print('hello')\n",
    "inbox/brief/page.html": files.html_page(),
    "inbox/brief/report.docx": files.docx(),
    "inbox/facts/figures.pdf": files.pdf(pages=2, text="Revenue 48.6 million euros"),
    "inbox/facts/chart.png": files.png(320, 200),
    "inbox/facts/photo.jpg": files.jpeg(200, 100),
    "inbox/facts/anim.gif": files.gif(),
    "inbox/facts/shot.webp": files.webp(),
    "inbox/default/questions.jsonl": b'{"id": "q1", "prompt": "Hello?"}\n{"id": "q2", "profile": "facts", "prompt": "Facts?"}\n',
}
ANSWERS = {
    *(
        f"results/brief/{k.removeprefix('inbox/brief/')}.md"
        for k in DOCUMENTS
        if k.startswith("inbox/brief/")
    ),
    *(
        f"results/facts/{k.removeprefix('inbox/facts/')}.json"
        for k in DOCUMENTS
        if k.startswith("inbox/facts/")
    ),
    "results/default/questions.jsonl/q1.md",
    "results/facts/questions.jsonl/q2.json",
}
ERRORS = {
    "inbox/brief/locked.pdf": (files.encrypted_pdf(), "the PDF is encrypted"),
    "inbox/brief/fake.gif": (b"GIF? no", "the file is not a PNG, JPEG, GIF or WebP image"),
    "inbox/brief/binary.txt": (files.invalid_text(), "not valid text"),
    "inbox/brief/empty.txt": (b"", "the document is empty"),
    "inbox/brief/movie.mp4": (b"\x00\x00\x00\x18ftypmp42", "unsupported file type '.mp4'"),
    "inbox/nosuch/x.txt": (b"text", "no profile named 'nosuch'"),
}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_local_stack(tmp_path_factory.mktemp("types") / "state") as state:
        yield state


def test_every_type_comes_back_as_an_answer_or_a_clear_error(local_stack: dict[str, Any]) -> None:
    s3 = client(local_stack, "s3")
    bucket = local_stack["bucket"]
    for key, body in PROFILES.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key, body in DOCUMENTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key, (body, _) in ERRORS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    expected_errors = {f"results/{k.removeprefix('inbox/')}.error.json" for k in ERRORS}
    deadline = time.monotonic() + DEADLINE
    found: set[str] = set()
    while time.monotonic() < deadline:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/")
        found = {obj["Key"] for page in pages for obj in page.get("Contents", [])}
        if found >= ANSWERS | expected_errors:
            break
        time.sleep(1)
    assert found == ANSWERS | expected_errors, (
        sorted((ANSWERS | expected_errors) - found),
        sorted(found - ANSWERS - expected_errors),
    )

    for key in ANSWERS:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        if key.endswith(".json"):
            json.loads(body)  # the JSON profile's answers are valid JSON
        assert body.strip(), key
    for key, (_, reason) in ERRORS.items():
        error_key = f"results/{key.removeprefix('inbox/')}.error.json"
        error = json.loads(s3.get_object(Bucket=bucket, Key=error_key)["Body"].read())
        assert reason in error["reason"], (key, error["reason"])
        assert error["document"] == key
