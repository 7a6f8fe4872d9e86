import json
import subprocess
import sys

from conftest import EVAL


def run(*args, settings):
    env = {"QA_CORPUS_DIR": str(settings.corpus_dir), "QA_MODELS_DIR": str(settings.models_dir), "PATH": ""}
    return subprocess.run([sys.executable, "-m", "qa_service.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_ask_prints_readable_answer(settings, built):
    r = run("ask", "What did the renal biopsy confirm?", "--top-k", "1", settings=settings)
    assert r.returncode == 0, r.stderr
    assert "class 3 lupus nephritis" in r.stdout
    assert "[Case report]" in r.stdout


def test_ask_json_matches_api_shape(settings, built):
    r = run("ask", "What did the renal biopsy confirm?", "--json", settings=settings)
    body = json.loads(r.stdout)
    assert body["answers"][0]["section"] == "Case report"
    assert body["answers"][0]["document_id"] == "calcinosis-cutis-universalis-sle"


def test_ask_rejects_empty_question(settings, built):
    r = run("ask", "  ", settings=settings)
    assert r.returncode == 2 and "empty" in r.stderr


def test_eval_reports_metrics(settings, built):
    r = run("eval", str(EVAL / "dev_questions.jsonl"), "--unanswerable", str(EVAL / "dev_unanswerable.jsonl"),
            "--json", settings=settings)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["n"] == 20 and rep["n_unanswerable"] == 4
    assert 0.0 <= rep["hit1"] <= 1.0
