"""Shared fixtures: the real spaCy-backed pipeline and a real index, built once per session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa_service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REPORT = ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt"
EVAL = SHARED / "eval"
ADA = SHARED / "data" / "ada_case_reports" / "case_reports.jsonl"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("qa")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    return Settings(corpus_dir=corpus, models_dir=base / "models")


@pytest.fixture(scope="session")
def built(settings):
    from qa_service.service.build import build

    return build(settings)


@pytest.fixture(scope="session")
def index(built):
    return built.index


@pytest.fixture(scope="session")
def answerer(index, settings):
    from qa_service.service.build import make_answerer

    return make_answerer(index, settings)


@pytest.fixture(scope="session")
def app(settings, answerer):
    from qa_service.web.app import create_app

    return create_app(settings, answerer)


@pytest.fixture()
def client(app):
    return app.test_client()


def imported(settings: Settings, *paths: Path) -> Settings:
    """`settings` after `qa-service import` of `paths` (JSONL, .txt, .pdf) into its corpus folder."""
    from qa_service.service.importer import import_paths

    res = import_paths(settings, list(paths))
    assert res.stored or res.unchanged or res.errors, res
    return settings


@pytest.fixture(scope="session")
def ada_answerer(tmp_path_factory):
    """The five dev 'other reports' and the rest of the ADA corpus, imported into a temp corpus."""
    if not ADA.exists():
        pytest.skip("shared ADA corpus not present")
    from qa_service.service.build import build, make_answerer

    base = tmp_path_factory.mktemp("ada")
    # Word vectors only (the "wl" fitted variant): MiniLM would encode 7,600 sentences first.
    s = imported(Settings(corpus_dir=base / "corpus", models_dir=base / "models", encoders=("wl",)), ADA)
    return make_answerer(build(s).index, s)


@pytest.fixture(scope="session")
def matcher(settings):
    """The compiled concept matcher (HPO + lay map + abbreviations) of the test index."""
    from qa_service.clinical.concepts import load_matcher

    return load_matcher(settings.models_dir)


@pytest.fixture(scope="session")
def nlp(matcher):
    from qa_service.clinical.entities import ClinicalNLP

    return ClinicalNLP(matcher)


@pytest.fixture(scope="session")
def analyse_q(answerer):
    """The answerer's question analysis, for tests that feed it questions of their own."""
    from qa_service.qa.query import analyse

    return lambda text: analyse(text, answerer.expand, answerer.concept_weight, answerer.correct)
