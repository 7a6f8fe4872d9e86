"""Every text stage completes on 1 MB of pathological input (issue 10: linear text stages).

Each input runs in its own subprocess with a generous wall-clock guard (30 s) that only signals a
hang (a quadratic stage took minutes on such inputs); no test asserts a speed. How long each stage
takes per MB, at 100 KB, 1 MB and 10 MB, is measured by benchmarks/text_stages.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from text_stages import PATHOLOGICAL  # noqa: E402

SIZE = 1_000_000
GUARD_SECONDS = 30

# Runs every stage: the cleaner; the sectioner and sentence splitter both on the raw input (they are
# public functions) and on the cleaned text, as the pipeline feeds them; document building; and the
# index of that one document.
SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1] + "/benchmarks")
sys.path.insert(0, sys.argv[1])
from text_stages import make_input
from qa_service.text.clean import clean
from qa_service.corpus.store import CorpusError, build_document
from qa_service.config import Settings
from qa_service.index.bm25 import build_index
from qa_service.clinical.rarity import is_word
from qa_service.text.passages import sentence_spans, split_sentences
from qa_service.text.sections import split_sections
from qa_service.service.build import featurizer
raw = make_input(sys.argv[2], int(sys.argv[3]))
assert len(raw) == int(sys.argv[3])
ct = clean(raw, is_word)
assert len(ct.to_raw) == len(ct.text) + 1
for text in (raw, ct.text):
    secs = split_sections(text)
    sents = split_sentences(text, secs)
    assert all(s.end - s.start <= 600 for s in sents)
spans = sentence_spans(raw, 0, len(raw))
try:
    doc = build_document("robust", raw, "robust", is_word=is_word)
except CorpusError as exc:
    doc = None
n = 0
if doc is not None and doc.sentences:
    index = build_index([doc], featurizer(Settings(models_dir=__import__("pathlib").Path(sys.argv[4]))))
    n = index.n_sentences
print(json.dumps({"clean_chars": len(ct.text), "sentences": n}))
"""


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_every_stage_completes_on_1mb(name, tmp_path):
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), name, str(SIZE), str(tmp_path / "models")],
                              capture_output=True, text=True, timeout=GUARD_SECONDS, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: the text stages did not finish on 1 MB within {GUARD_SECONDS} s (super-linear?)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    json.loads(proc.stdout.strip().splitlines()[-1])


def test_cap_length_one_long_paragraph_without_sentence_breaks():
    """The issue's case: 650 KB of lower-case OCR text in one paragraph raised RecursionError."""
    from qa_service.text.passages import MAX_SENTENCE_CHARS, sentence_spans

    text = PATHOLOGICAL["paragraph"](650_000)
    spans = sentence_spans(text, 0, len(text))
    assert all(0 < e - s <= MAX_SENTENCE_CHARS for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    # Pieces cover the text in order, cut at spaces.
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert "".join(text[s:e] + " " for s, e in spans).split() == text.split()
    unbroken = "x" * 2000  # no space at all: hard cuts
    assert sentence_spans(unbroken, 0, 2000) == [(0, 600), (600, 1200), (1200, 1800), (1800, 2000)]


def test_hyphen_break_still_repairs_words():
    from qa_service.text.clean import clean
    from qa_service.clinical.rarity import is_word

    assert clean("The treat-\nment was given.", is_word).text == "The treatment was given."
    assert clean("soft-\n  tissue swelling", is_word).text == "soft-tissue swelling"
    # A 100,000-letter "word" is not de-hyphenated (words are at most 64 letters); the break is a space.
    assert clean("a" * 100_000 + "-\nb", is_word).text.endswith("a- b")


def test_control_characters_become_spaces_and_offsets_hold():
    from qa_service.text.clean import clean

    ct = clean("Fever\x00\x00and\x07cough.\ufeff")
    assert ct.text == "Fever and cough."
    assert len(ct.to_raw) == len(ct.text) + 1
    s, e = ct.raw_span(ct.text.index("cough"), ct.text.index("cough") + 5)
    assert "Fever\x00\x00and\x07cough.\ufeff"[s:e] == "cough"
