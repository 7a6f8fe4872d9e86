import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EVAL, ROOT


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


QA_ASK = ["-c", "import sys; from qa_service.cli import ask_main; sys.exit(ask_main())"]


def qa_ask(*args, settings, stdin=None, env=None):
    env = env or {"QA_CORPUS_DIR": str(settings.corpus_dir), "QA_MODELS_DIR": str(settings.models_dir), "PATH": ""}
    return subprocess.run([sys.executable, *QA_ASK, *args], capture_output=True, text=True, env=env, input=stdin,
                          timeout=300)


def test_qa_ask_prints_the_span_first(settings, built):
    r = qa_ask("--local", "--top-k", "1", "How old was she?", settings=settings)
    assert r.returncode == 0, r.stderr
    lines = [x.strip() for x in r.stdout.splitlines() if x.strip()]
    i = next(k for k, x in enumerate(lines) if x.startswith("1. ["))
    assert lines[i + 1] == "21-year-old" and "21-year-old woman" in lines[i + 2]
    assert any(x.startswith("Why:") for x in lines)


def test_qa_ask_interactive_keeps_the_conversation(settings, built):
    r = qa_ask("-i", "--local", "--top-k", "1", settings=settings,
               stdin="What did the chest radiograph show?\nWhat about the radiographs of the hips and hands?\n\n")
    assert r.returncode == 0, r.stderr
    assert "understood as: What did the radiographs of the hips and hands show?" in r.stdout
    assert "widespread calcifications in the soft tissue" in r.stdout.split("understood as")[1]


def test_qa_ask_falls_back_to_the_local_index(settings, built):
    r = qa_ask("--url", "http://127.0.0.1:9", "--top-k", "1", "What did the renal biopsy confirm?", settings=settings)
    assert r.returncode == 0, r.stderr
    assert "class 3 lupus nephritis" in r.stdout


def test_qa_ask_asks_a_running_server(app, tmp_path):
    from browser import LiveServer

    server = LiveServer(app)
    try:
        # an empty corpus here: an answer can only come from the server
        env = {"QA_CORPUS_DIR": str(tmp_path / "none"), "QA_MODELS_DIR": str(tmp_path / "models"), "PATH": ""}
        r = qa_ask("--url", server.url, "--json", "--top-k", "1", "Was a colonoscopy performed?", settings=None, env=env)
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        assert body["answers"] == [] and body["message"] == "The report never mentions a colonoscopy."
        r = qa_ask("--url", server.url, "-i", settings=None, env=env,
                   stdin="Which antibodies were positive?\nWhich criteria did that fulfil?\n")
        assert r.returncode == 0 and "understood as:" in r.stdout
        assert not (tmp_path / "models").exists()  # never loaded an index
    finally:
        server.stop()


def test_a_bad_setting_is_an_error_naming_the_variable(monkeypatch, capsys):
    from qa_service.cli import main
    from qa_service.config import Settings, SettingsError

    for name, value in (("QA_TOP_K", "three"), ("QA_WORKERS", "0"), ("QA_RELOAD_INTERVAL", "nan"),
                        ("QA_ENCODERS", "wl,bert")):
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError, match=name):
            Settings.from_env()
        assert main(["index", "--corpus", "/nonexistent"]) == 2
        assert name in capsys.readouterr().err
        monkeypatch.delenv(name)
    assert Settings.from_env().top_k == 3


def test_eval_without_the_evaluation_package_exits_2(monkeypatch, capsys, tmp_path):
    """An installed wheel has no evaluation/ (tooling of the checkout): `qa-service eval` says so."""
    from qa_service.cli import main

    monkeypatch.setitem(sys.modules, "evaluation.evaluate", None)  # the import fails as without the checkout
    assert main(["eval", str(tmp_path / "questions.jsonl"), "--corpus", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "evaluation package" in err and "not part of the installed wheel" in err


def test_the_console_script_finds_the_evaluation_package():
    """make install puts the checkout on the venv's path (casebook-checkout.pth), so the console
    script, run from anywhere, imports evaluation/ from this checkout."""
    import os

    script = Path(sys.executable).with_name("qa-service")
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    out = subprocess.run([sys.executable, "-c", "import evaluation, sys; print(evaluation.__file__)"],
                         capture_output=True, text=True, cwd="/", env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0 and Path(out.stdout.strip()).parent == ROOT / "evaluation"
