"""Settings: environment variables over casebook.toml (or $QA_CONFIG) over the defaults; bad values
and unknown keys are errors naming the variable or the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.config import Settings, SettingsError

ENV = ("QA_CONFIG", "QA_TOP_K", "QA_ENCODERS", "QA_CORPUS_DIR", "QA_WORKERS", "QA_ADMIN_TOKEN", "QA_CORS_ORIGINS")


@pytest.fixture()
def clean_env(monkeypatch, tmp_path):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no casebook.toml here unless a test writes one
    return tmp_path


def test_defaults_without_a_file_or_variables(clean_env):
    s = Settings.from_env()
    assert s == Settings() and s.top_k == 3 and s.encoders == ("wl", "lm") and s.corpus_dir == Path("corpus")


def test_casebook_toml_in_the_working_directory(clean_env):
    (clean_env / "casebook.toml").write_text('top_k = 5\ncorpus_dir = "reports"\nencoders = ["wl"]\n'
                                             'bm25_k1 = 1.5\nspelling = false\ncors_origins = ["https://a.example/"]\n')
    s = Settings.from_env()
    assert (s.top_k, s.corpus_dir, s.encoders, s.bm25_k1, s.spelling) == (5, Path("reports"), ("wl",), 1.5, False)
    assert s.cors_origins == ("https://a.example",)
    assert s.workers == 2  # not in the file: the default


def test_environment_wins_over_the_file(clean_env, monkeypatch):
    (clean_env / "casebook.toml").write_text("top_k = 5\nworkers = 3\n")
    monkeypatch.setenv("QA_TOP_K", "7")
    s = Settings.from_env()
    assert (s.top_k, s.workers) == (7, 3)
    assert Settings.from_env(top_k=9).top_k == 9  # command-line options win over both


def test_qa_config_names_another_file(clean_env, monkeypatch):
    other = clean_env / "elsewhere.toml"
    other.write_text("max_top_k = 50\n")
    monkeypatch.setenv("QA_CONFIG", str(other))
    assert Settings.from_env().max_top_k == 50
    monkeypatch.setenv("QA_CONFIG", str(clean_env / "missing.toml"))
    with pytest.raises(SettingsError, match="QA_CONFIG"):
        Settings.from_env()


@pytest.mark.parametrize("text, key", [
    ("topk = 5\n", "'topk'"),                 # unknown key
    ("top_k = 0\n", "top_k"),                 # below the minimum
    ('top_k = "five"\n', "top_k"),            # wrong type
    ("workers = true\n", "workers"),          # a bool is not a number
    ('encoders = ["wl", "bert"]\n', "encoders"),
    ("reload_interval = nan\n", "reload_interval"),
    ("top_k = \n", "casebook.toml"),          # not TOML
])
def test_a_bad_file_is_an_error_naming_the_key(clean_env, text, key):
    (clean_env / "casebook.toml").write_text(text)
    with pytest.raises(SettingsError, match=key):
        Settings.from_env()


def test_empty_variables(clean_env, monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "")
    monkeypatch.setenv("QA_ENCODERS", "")
    monkeypatch.setenv("QA_ADMIN_TOKEN", "")
    s = Settings.from_env()
    assert s.top_k == 3 and s.encoders == () and s.admin_token is None
