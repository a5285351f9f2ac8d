"""Real files of every supported type, profiles and request lists from the bucket, metadata
overrides and batch splitting: through the real Submit/Poll/Complete handlers, against moto and
the emulator, checking the exact requests that reach the emulator and the objects that come back."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.fixtures import files
from tests.integration.harness import Stack, load_event, s3_event


def _requests(stack: Stack, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The params that reached the emulator, by source key (and #item for list lines)."""
    by_custom_id = {}
    for job in result["jobs"]:
        for request in stack.emulator.engine.batch_requests(job["batch_id"]):
            by_custom_id[request["custom_id"]] = request["params"]
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    return {
        name: by_custom_id[entry["custom_id"]]
        for name, entry in manifest.items()
        if entry["status"] == "submitted"
    }


def _complete(stack: Stack, result: dict[str, Any]) -> list[dict[str, Any]]:
    stack.handler("PollFunction")(load_event("scheduled.json"))
    complete = stack.handler("CompleteFunction")
    summaries = []
    for job in result["jobs"]:
        event = load_event("batch-ended.json")
        event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
        complete(event)
        summaries.append(json.loads(stack.get_text(f"jobs/{job['job_id']}/summary.json")))
    return summaries


def test_every_supported_type_becomes_the_right_request(stack: Stack) -> None:
    pdf = files.pdf(pages=2, text="Quarterly figures")
    documents = {
        "inbox/default/notes/latin1 café.txt": files.cp1252_text(),
        "inbox/default/notes/windows.txt": files.utf16_text(),
        "inbox/default/web/menu.html": files.html_page(),
        "inbox/default/data/sales.csv": b"region,q2,q3\nEMEA,1.2,1.5\n",
        "inbox/default/code/tool.py": b"def main() -> None:\n    print('hi')\n",
        "inbox/default/reports/figures.pdf": pdf,
        "inbox/default/reports/report.docx": files.docx(),
        "inbox/default/images/chart.png": files.png(640, 480),
        "inbox/default/images/photo.jpg": files.jpeg(320, 200),
        "inbox/default/images/anim.gif": files.gif(),
        "inbox/default/images/shot.webp": files.webp(),
        "inbox/default/images/really-a-jpeg.png": files.jpeg(10, 10),
    }
    result = stack.submit(documents)
    assert (result["submitted"], result["rejected"], len(result["jobs"])) == (12, 0, 1)
    requests = _requests(stack, result)

    def first_block(key: str) -> dict[str, Any]:
        block: dict[str, Any] = requests[key]["messages"][0]["content"][0]
        return block

    text_block = first_block("inbox/default/notes/latin1 café.txt")
    assert text_block == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": files.CP1252_TEXT},
        "title": "latin1 café.txt",
    }
    assert first_block("inbox/default/notes/windows.txt")["source"]["data"] == files.UTF16_TEXT
    html = first_block("inbox/default/web/menu.html")
    assert (html["source"]["data"], html["title"]) == (files.HTML_TEXT, files.HTML_TITLE)
    assert first_block("inbox/default/data/sales.csv")["source"]["data"] == "region,q2,q3\nEMEA,1.2,1.5\n"
    assert first_block("inbox/default/reports/report.docx")["source"]["data"] == files.DOCX_TEXT
    pdf_block = first_block("inbox/default/reports/figures.pdf")
    assert pdf_block["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(pdf_block["source"]["data"]) == pdf
    images = {
        key: first_block(key)["source"]["media_type"]
        for key in documents
        if key.startswith("inbox/default/images/")
    }
    assert images == {
        "inbox/default/images/chart.png": "image/png",
        "inbox/default/images/photo.jpg": "image/jpeg",
        "inbox/default/images/anim.gif": "image/gif",
        "inbox/default/images/shot.webp": "image/webp",
        "inbox/default/images/really-a-jpeg.png": "image/jpeg",  # from the bytes, not the name
    }
    for key, params in requests.items():
        # Every request: the document first, the default profile's instruction last
        assert params["messages"][0]["content"][-1]["text"].startswith("Summarize this document"), key
    kinds = {key: entry["kind"] for key, entry in stack.manifest(result["jobs"][0]["job_id"]).items()}
    assert kinds["inbox/default/reports/figures.pdf"] == "pdf"
    assert kinds["inbox/default/images/shot.webp"] == "image"

    # When the batch ends, every document has its answer, and image/PDF usage grew with their size
    (summary,) = _complete(stack, result)
    assert summary["counts"]["succeeded"] == 12
    assert len(stack.keys("results/default/")) == 12
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    raw = stack.get_text(f"jobs/{result['jobs'][0]['job_id']}/results.jsonl").splitlines()
    usage = {json.loads(line)["custom_id"]: json.loads(line)["result"]["message"]["usage"] for line in raw}

    def input_tokens(key: str) -> int:
        return int(usage[manifest[key]["custom_id"]]["input_tokens"])

    assert input_tokens("inbox/default/images/chart.png") > input_tokens("inbox/default/images/anim.gif")
    assert input_tokens("inbox/default/reports/figures.pdf") > input_tokens("inbox/default/data/sales.csv")


def test_unusable_documents_get_clear_errors_and_the_rest_still_goes_out(stack: Stack) -> None:
    documents = {
        "inbox/default/ok.txt": b"A perfectly good document.",
        "inbox/default/locked.pdf": files.encrypted_pdf(),
        "inbox/default/broken.pdf": files.corrupt_pdf(),
        "inbox/default/long.pdf": files.pdf(pages=3),
        "inbox/default/fake.png": b"this is not an image at all",
        "inbox/default/binary.txt": files.invalid_text(),
        "inbox/default/empty.md": b"",
        "inbox/default/archive.zip": b"PK\x03\x04",
        "inbox/default/broken.docx": b"not a zip",
    }
    result = stack.submit(documents, PDF_MAX_PAGES="2")
    assert (result["submitted"], result["rejected"]) == (1, 8)
    reasons = {
        key: json.loads(stack.get_text(key))["reason"]
        for key in stack.keys("results/default/")
        if key.endswith(".error.json")
    }
    assert (
        reasons["results/default/locked.pdf.error.json"]
        == "the PDF is encrypted; the API does not accept encrypted PDFs"
    )
    assert reasons["results/default/broken.pdf.error.json"].startswith("the PDF could not be read")
    assert reasons["results/default/long.pdf.error.json"].startswith("the PDF has 3 pages")
    assert "2" in reasons["results/default/long.pdf.error.json"]
    assert reasons["results/default/fake.png.error.json"].startswith(
        "the file is not a PNG, JPEG, GIF or WebP image"
    )
    assert "0x80 at offset 16" in reasons["results/default/binary.txt.error.json"]
    assert reasons["results/default/empty.md.error.json"] == "the document is empty"
    assert reasons["results/default/archive.zip.error.json"].startswith("unsupported file type '.zip'")
    assert reasons["results/default/broken.docx.error.json"].startswith("the Word document could not be read")


def test_profiles_from_the_bucket_mix_models_and_formats_in_one_batch(stack: Stack) -> None:
    # Given two profiles (YAML and JSON), a broken one, and documents for each folder
    stack.put_document(
        "profiles/summarize.yaml",
        "model: claude-haiku-4-5\nmax_tokens: 300\nsystem_prompt: You are brief.\n"
        "instruction: Summarise ${name} in three bullets.\ncache_system_prompt: true\n",
    )
    stack.put_document(
        "profiles/extract.json",
        json.dumps(
            {
                "model": "claude-sonnet-4-6",
                "output_format": "json",
                "instruction": "Extract the totals.",
                "citations": True,
            }
        ),
    )
    stack.put_document("profiles/broken.json", '{"model": "claude-haiku-4-5", "max_tokenz": 5}')
    documents = {
        "inbox/summarize/minutes.txt": b"The board met on Monday and approved the budget.",
        "inbox/extract/invoice.txt": b"Invoice 42: total 99.50 EUR, due 1 December.",
        "inbox/broken/x.txt": b"text",
        "inbox/sumarize/typo.txt": b"text",
    }
    result = stack.submit(documents)
    assert (result["submitted"], result["rejected"], len(result["jobs"])) == (2, 2, 1)

    requests = _requests(stack, result)
    summarize = requests["inbox/summarize/minutes.txt"]
    assert (summarize["model"], summarize["max_tokens"]) == ("claude-haiku-4-5", 300)
    assert summarize["system"] == [
        {"type": "text", "text": "You are brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert summarize["messages"][0]["content"][-1]["text"] == "Summarise minutes.txt in three bullets."
    extract = requests["inbox/extract/invoice.txt"]
    assert extract["model"] == "claude-sonnet-4-6"
    assert extract["messages"][0]["content"][0]["citations"] == {"enabled": True}
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    assert manifest["inbox/extract/invoice.txt"]["model"] == "claude-sonnet-4-6"
    assert manifest["inbox/summarize/minutes.txt"]["result_key"] == "results/summarize/minutes.txt.md"
    errors = {
        key: json.loads(stack.get_text(key))["reason"]
        for key in stack.keys("results/")
        if key.endswith(".error.json")
    }
    assert errors["results/broken/x.txt.error.json"] == (
        "profile 'broken' is invalid: profiles/broken.json: max_tokenz: Extra inputs are not permitted"
    )
    assert errors["results/sumarize/typo.txt.error.json"] == (
        "no profile named 'sumarize'; profiles are: default, extract, summarize"
    )

    # When the batch completes, the JSON profile's answer is validated JSON in a .json object
    (summary,) = _complete(stack, result)
    answer = json.loads(stack.get_text("results/extract/invoice.txt.json"))
    assert isinstance(answer, dict)
    assert stack.get_text("results/summarize/minutes.txt.md")
    assert summary["documents_by_profile"] == {"broken": 1, "extract": 1, "sumarize": 1, "summarize": 1}
    assert set(summary["tokens_by_model"]) == {"claude-haiku-4-5", "claude-sonnet-4-6"}
    assert (summary["counts"]["succeeded"], summary["counts"]["rejected"]) == (2, 2)


def test_object_metadata_overrides_model_and_max_tokens_for_one_document(stack: Stack) -> None:
    s3 = stack.client("s3")
    s3.put_object(
        Bucket=stack.bucket,
        Key="inbox/default/special.txt",
        Body=b"Needs the big model.",
        Metadata={"batchdrop-model": "claude-opus-4-5", "batchdrop-max-tokens": "4096"},
    )
    s3.put_object(
        Bucket=stack.bucket, Key="inbox/default/bad.txt", Body=b"x", Metadata={"batchdrop-max-tokens": "lots"}
    )
    stack.put_document("inbox/default/plain.txt", b"Default model is fine.")
    keys = ["inbox/default/special.txt", "inbox/default/bad.txt", "inbox/default/plain.txt"]
    result = stack.handler("SubmitFunction")(s3_event(stack.bucket, keys))
    requests = _requests(stack, result)
    assert (
        requests["inbox/default/special.txt"]["model"],
        requests["inbox/default/special.txt"]["max_tokens"],
    ) == (
        "claude-opus-4-5",
        4096,
    )
    assert requests["inbox/default/plain.txt"]["model"] == "claude-haiku-5-5"
    reason = json.loads(stack.get_text("results/default/bad.txt.error.json"))["reason"]
    assert reason == "x-amz-meta-batchdrop-max-tokens must be a whole number from 1 to 128000, not 'lots'"


def test_request_list_lines_become_requests_with_results_per_line(stack: Stack) -> None:
    lines = [
        {"id": "capital-fr", "prompt": "What is the capital of France?"},
        {"id": "raw", "params": {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 50}},
        {"prompt": "I have no id"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    result = stack.submit({"inbox/default/quiz/questions.jsonl": body})
    assert (result["submitted"], result["rejected"]) == (2, 1)
    requests = _requests(stack, result)
    assert requests["inbox/default/quiz/questions.jsonl#capital-fr"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}
    ]
    assert requests["inbox/default/quiz/questions.jsonl#raw"]["max_tokens"] == 50

    (summary,) = _complete(stack, result)
    assert stack.keys("results/default/quiz/") == [
        "results/default/quiz/questions.jsonl/capital-fr.md",
        "results/default/quiz/questions.jsonl/line-3.error.json",
        "results/default/quiz/questions.jsonl/raw.md",
    ]
    error = json.loads(stack.get_text("results/default/quiz/questions.jsonl/line-3.error.json"))
    assert error["document"] == "inbox/default/quiz/questions.jsonl" and error["item"] == "line-3"
    assert summary["documents"] == 3


def test_a_window_over_the_batch_limits_is_split_and_nothing_is_sent_twice(stack: Stack) -> None:
    documents = {f"inbox/default/doc-{n:02d}.txt": f"Document number {n}. ".encode() * 20 for n in range(7)}
    documents["inbox/default/huge.txt"] = b"x" * 6000

    # a batch here may hold 3 requests and 5,000 bytes of body
    result = stack.submit(documents, BATCH_MAX_REQUESTS="3", BATCH_MAX_BYTES="5000")

    sizes = [job["requests"] for job in result["jobs"]]
    assert sum(sizes) == 7 and all(size <= 3 for size in sizes) and len(sizes) >= 3
    for job in result["jobs"]:
        sent = stack.emulator.engine.batch_requests(job["batch_id"])
        body = len(json.dumps({"requests": sent}, ensure_ascii=False).encode())
        assert body <= 5000
    submitted = [
        r["custom_id"]
        for job in result["jobs"]
        for r in stack.emulator.engine.batch_requests(job["batch_id"])
    ]
    assert len(submitted) == len(set(submitted)) == 7
    reason = json.loads(stack.get_text("results/default/huge.txt.error.json"))["reason"]
    assert "more than a whole batch may hold" in reason
    # each part is its own job, and all of them complete
    summaries = _complete(stack, result)
    assert sum(s["counts"]["succeeded"] for s in summaries) == 7
    assert len(stack.keys("results/default/doc-")) == 7


def test_a_job_over_its_budget_is_not_submitted_and_says_why(stack: Stack) -> None:
    # Given a profile with a tiny budget, and one without
    stack.put_document("profiles/frugal.json", json.dumps({"max_job_cost_usd": 0.000001}))
    notifications = stack.capture_queue("budget-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    documents = {
        "inbox/frugal/a.txt": b"Some text to summarise. " * 50,
        "inbox/frugal/b.txt": b"More text. " * 50,
        "inbox/default/c.txt": b"This one has no budget.",
    }

    result = stack.submit(documents)

    # Then the over-budget profile's documents are refused, with the estimate and the limit named
    assert (result["submitted"], result["rejected"]) == (1, 2)
    reason = json.loads(stack.get_text("results/frugal/a.txt.error.json"))["reason"]
    assert reason.startswith("not submitted: the job's estimated cost of ")
    assert "exceeds max_job_cost_usd of profile 'frugal' of 1e-06 USD" in reason
    (notice,) = stack.drain(notifications)
    assert notice["Subject"].endswith("2 documents not submitted (over budget)")
    # and the manifest carries each request's estimate
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    estimated = manifest["inbox/default/c.txt"]
    assert estimated["estimated_input_tokens"] > 0 and estimated["estimated_cost"] > 0

    # When the job completes, the summary compares the estimate with the actual cost
    (summary,) = _complete(stack, result)
    assert summary["estimate"]["complete"] is True
    assert summary["estimate"]["batch"] == pytest.approx(estimated["estimated_cost"])
    assert 0 < summary["estimate"]["actual_to_estimate"] <= 1  # output is estimated at max_tokens


def test_the_stack_budget_applies_to_every_job(stack: Stack) -> None:
    result = stack.submit({"inbox/default/c.txt": b"Anything at all."}, MAX_JOB_COST_USD="0.0000001")
    assert (result["submitted"], result["rejected"]) == (0, 1)
    reason = json.loads(stack.get_text("results/default/c.txt.error.json"))["reason"]
    assert "exceeds the stack's MaxJobCostUsd of 1e-07 USD" in reason


def test_prompt_caching_shows_in_the_summary_and_lowers_the_cost(stack: Stack) -> None:
    # Given a profile whose long shared system prompt is marked for caching (>= 1,024 tokens)
    guide = "Follow the house style guide. " * 180  # about 1,350 tokens
    stack.put_document(
        "profiles/styled.json",
        json.dumps({"model": "claude-sonnet-4-6", "system_prompt": guide, "cache_system_prompt": True}),
    )
    documents = {f"inbox/styled/doc-{n}.txt": f"Document {n} text.".encode() for n in range(3)}
    result = stack.submit(documents)

    (summary,) = _complete(stack, result)

    # Then the first request wrote the prefix to the cache and the other two read it
    tokens = summary["tokens"]
    prefix = tokens["cache_write_5m"]
    assert prefix >= 1024 and tokens["cache_read"] == 2 * prefix
    # and the summary's cost uses the cache prices (reads at a tenth of input), still at batch price
    input_price, write_price, read_price, output_price = 3, 3.75, 0.30, 15
    standard = (
        tokens["input"] * input_price
        + prefix * write_price
        + tokens["cache_read"] * read_price
        + tokens["output"] * output_price
    ) / 1e6
    assert summary["cost"]["standard"] == pytest.approx(standard)
    assert summary["cost"]["batch"] == pytest.approx(standard / 2)


def test_a_cached_instruction_is_read_from_the_cache_after_the_first_request(stack: Stack) -> None:
    instruction = "Apply every rule of this checklist to the document. " * 90  # about 1,200 tokens
    stack.put_document(
        "profiles/checklist.json",
        json.dumps(
            {"model": "claude-sonnet-4-6", "instruction": instruction.strip(), "cache_instruction": True}
        ),
    )
    result = stack.submit({f"inbox/checklist/doc-{n}.txt": f"Document {n}.".encode() for n in range(3)})
    (summary,) = _complete(stack, result)
    tokens = summary["tokens"]
    assert tokens["cache_write_5m"] >= 1024 and tokens["cache_read"] == 2 * tokens["cache_write_5m"]


def test_a_sampling_override_in_object_metadata_is_refused_and_effort_is_taken(stack: Stack) -> None:
    s3 = stack.client("s3")
    s3.put_object(
        Bucket=stack.bucket, Key="inbox/default/warm.txt", Body=b"x", Metadata={"batchdrop-temperature": "0"}
    )
    s3.put_object(
        Bucket=stack.bucket, Key="inbox/default/deep.txt", Body=b"y", Metadata={"batchdrop-effort": "high"}
    )
    keys = ["inbox/default/warm.txt", "inbox/default/deep.txt"]
    result = stack.handler("SubmitFunction")(s3_event(stack.bucket, keys))
    requests = _requests(stack, result)
    assert requests["inbox/default/deep.txt"]["output_config"] == {"effort": "high"}
    assert "inbox/default/warm.txt" not in requests
    reason = json.loads(stack.get_text("results/default/warm.txt.error.json"))["reason"]
    assert reason.startswith(
        "x-amz-meta-batchdrop-temperature: temperature: removed in Claude API version 2026-10-21"
    )
