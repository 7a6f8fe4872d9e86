"""The sentence index: BM25-weighted TF-IDF matrices (scikit-learn + SciPy), saved atomically.

Scoring: for sentence s and query terms q with counts c_q,

    bm25(s) = sum_q c_q * idf(q) * tf(q,s) * (k1 + 1) / (tf(q,s) + k1 * (1 - b + b * |s| / avg|s|))
    idf(q)  = ln(1 + (N - df(q) + 0.5) / (df(q) + 0.5))

computed on scikit-learn's term-count matrix. The weights are stored term-major (CSC), so a query
touches only the columns of its own terms.

On disk (`models/index-<id>/`): `matrix.npz` (CSC arrays), `sentences.npz` (int32 columns),
`vocab.json`, `docs.jsonl`, `meta.json`; `models/CURRENT` names the live folder and is replaced
atomically. Nothing is pickled.
"""
from __future__ import annotations

import json
import operator
import os
import shutil
import tempfile
import time
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from .domain import Document, Section, Sentence

INDEX_FORMAT = 3
CURRENT = "CURRENT"
_SENTENCE_COLUMNS = ("doc", "start", "end", "section", "paragraph", "raw_start", "raw_end", "indexed")
_SENTENCE_FIELDS = ("start", "end", "section", "paragraph", "raw_start", "raw_end")  # Sentence's field order


class IndexError_(RuntimeError):
    """The index on disk is missing or unusable."""


@dataclass
class Index:
    docs: list[Document]
    vocab: dict[str, int]
    idf: np.ndarray  # float32, per term
    matrix: sparse.csc_matrix  # float32 BM25 weights, sentences x terms
    sentences: dict[str, np.ndarray]  # columns of the sentence table
    meta: dict = field(default_factory=dict)
    # encoder name -> (n_sentences, dim) float32 unit vectors of every sentence (zeros where unindexed)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    doc_rows: np.ndarray = field(init=False)  # sentence row range per document: [doc_rows[d], doc_rows[d+1])
    doc_by_id: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counts = np.bincount(self.sentences["doc"], minlength=len(self.docs)) if len(self.docs) else np.zeros(0, int)
        self.doc_rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.doc_by_id = {d.id: i for i, d in enumerate(self.docs)}

    @property
    def n_sentences(self) -> int:
        return int(self.matrix.shape[0])

    def sentence(self, row: int) -> Sentence:
        s = self.sentences
        return Sentence(int(s["start"][row]), int(s["end"][row]), int(s["section"][row]),
                        int(s["paragraph"][row]), int(s["raw_start"][row]), int(s["raw_end"][row]))

    def score(self, term_weights: dict[str, float], rows: slice | None = None) -> np.ndarray:
        """BM25 score of every sentence (or of the rows in `rows`) for weighted query terms."""
        cols = [self.vocab[t] for t in term_weights if t in self.vocab]
        n = self.n_sentences if rows is None else rows.stop - rows.start
        if not cols:
            return np.zeros(n, dtype=np.float32)
        weights = np.array([term_weights[t] for t in term_weights if t in self.vocab], dtype=np.float32)
        sub = self.matrix[:, cols]
        if rows is not None:
            sub = sub[rows]
        return np.asarray(sub @ weights).ravel()

    def doc_scores(self, term_weights: dict[str, float], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        """BM25 of whole documents, with a term's frequency in a document counted as the number of its
        sentences holding the term and a document's length as its number of sentences. Computed from
        the query's own columns only, so the cost follows the query, not the corpus."""
        n_docs = len(self.docs)
        out = np.zeros(n_docs, dtype=np.float64)
        if n_docs == 0:
            return out
        lengths = np.diff(self.doc_rows).astype(np.float64)
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))
        doc_of = self.sentences["doc"]
        for term, qw in term_weights.items():
            col = self.vocab.get(term)
            if col is None:
                continue
            rows = self.matrix.indices[self.matrix.indptr[col]:self.matrix.indptr[col + 1]]
            counts = np.bincount(doc_of[rows], minlength=n_docs)
            docs = np.flatnonzero(counts)
            tf = counts[docs]
            idf = np.log1p((n_docs - len(docs) + 0.5) / (len(docs) + 0.5))
            out[docs] += qw * idf * tf * (k1 + 1) / (tf + norm[docs])
        return out

    def doc_has_term(self, d: int, term: str) -> bool:
        """Whether any sentence of document d holds the term (a look at one CSC column)."""
        col = self.vocab.get(term)
        if col is None:
            return False
        rows = self.matrix.indices[self.matrix.indptr[col]:self.matrix.indptr[col + 1]]
        lo, hi = self.doc_rows[d], self.doc_rows[d + 1]
        i = np.searchsorted(rows, lo)
        return bool(i < len(rows) and rows[i] < hi)

    def term_idf(self, term: str) -> float:
        col = self.vocab.get(term)
        return float(self.idf[col]) if col is not None else float(self.meta.get("max_idf", 10.0))


def build_index(docs: Sequence[Document], featurize: Callable[[str, object], list[str]], *,
                k1: float = 1.2, b: float = 0.75, meta: dict | None = None,
                doc_context: Callable[[Document], object] = lambda d: None,
                indexable: Callable[[Section], bool] = lambda s: s.kind != "unindexed",
                encoders: dict[str, Callable[[list[str]], np.ndarray]] | None = None) -> Index:
    """Fit the BM25 sentence matrix over every sentence of indexable sections, and encode those
    sentences with each of `encoders` (name -> texts -> unit vectors).

    `featurize(sentence, context)` gives a sentence's terms; `context` is `doc_context(document)`
    (e.g. the abbreviations the document defines).
    """
    texts: list[tuple[str, object]] = []
    cols: dict[str, list[int]] = {c: [] for c in _SENTENCE_COLUMNS}
    for d, doc in enumerate(docs):
        ctx = doc_context(doc)
        for s in doc.sentences:
            ok = indexable(doc.sections[s.section])
            texts.append((doc.text[s.start:s.end] if ok else "", ctx))
            for name, value in zip(_SENTENCE_COLUMNS, (d, s.start, s.end, s.section, s.paragraph,
                                                      s.raw_start, s.raw_end, int(ok))):
                cols[name].append(value)
    table = {c: np.asarray(v, dtype=np.int32) for c, v in cols.items()}
    vectorizer = CountVectorizer(analyzer=lambda item: featurize(*item), dtype=np.float32)
    counts = None
    if any(t for t, _ in texts):
        try:
            counts = vectorizer.fit_transform(texts).tocsr()
            vocab = {t: int(i) for t, i in vectorizer.vocabulary_.items()}
        except ValueError:  # "empty vocabulary": sentences without a single term (e.g. only dashes)
            counts = None
    if counts is None:
        counts = sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        vocab = {}
    weights, idf = _bm25(counts, k1, b)
    info = dict(meta or {})
    info.update(format=INDEX_FORMAT, k1=k1, b=b, n_docs=len(docs), n_sentences=len(texts),
                n_terms=len(vocab), max_idf=float(idf.max()) if len(idf) else 10.0)
    vectors = {}
    for name, encode in (encoders or {}).items():
        vectors[name] = np.asarray(encode([t for t, _ in texts]), dtype=np.float32)
    info["encoders"] = sorted(vectors)
    return Index(list(docs), vocab, idf, weights.tocsc(), table, info, vectors)


def _bm25(counts: sparse.csr_matrix, k1: float, b: float) -> tuple[sparse.csr_matrix, np.ndarray]:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    avg = lengths[lengths > 0].mean() if (lengths > 0).any() else 1.0
    norm = k1 * (1 - b + b * lengths / avg)
    w = counts.copy().astype(np.float32)
    row_of = np.repeat(np.arange(n), np.diff(w.indptr))
    tf = w.data
    w.data = (idf[w.indices] * tf * (k1 + 1) / (tf + norm[row_of])).astype(np.float32)
    return w, idf


# ---------------------------------------------------------------- persistence

def save_index(index: Index, models_dir: Path) -> Path:
    """Write the index into a fresh folder, then switch CURRENT to it atomically; old folders go."""
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-index-", dir=models_dir))
    try:
        m = index.matrix
        np.savez(tmp / "matrix.npz", data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
        np.savez(tmp / "sentences.npz", idf=index.idf, **index.sentences)
        for name, vecs in index.vectors.items():  # float16 halves the file; cosines lose < 1e-3
            np.save(tmp / f"vectors-{name}.npy", vecs.astype(np.float16), allow_pickle=False)
        (tmp / "vocab.json").write_text(json.dumps(index.vocab, separators=(",", ":")))
        with (tmp / "docs.jsonl").open("w", encoding="utf-8") as fh:
            for doc in index.docs:
                fh.write(json.dumps({"id": doc.id, "title": doc.title, "text": doc.text, "source": doc.source,
                                     "sections": [s.to_dict() for s in doc.sections]}, ensure_ascii=False) + "\n")
        meta = dict(index.meta, built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        for f in tmp.iterdir():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        final = models_dir / f"index-{time.time_ns()}-{meta.get('fingerprint', 'x')}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = models_dir / f".{CURRENT}.tmp-{os.getpid()}"
    pointer.write_text(final.name)
    os.replace(pointer, models_dir / CURRENT)
    index.meta = meta
    clean_stale(models_dir, keep=final.name)
    return final


def clean_stale(models_dir: Path, keep: str | None = None) -> None:
    """Remove index folders that CURRENT does not name and temp leftovers of interrupted writes."""
    keep = keep or current_name(models_dir)
    for p in models_dir.glob("index-*"):
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in models_dir.glob(".tmp-index-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in models_dir.glob(f".{CURRENT}.tmp-*"):
        p.unlink(missing_ok=True)


def current_name(models_dir: Path) -> str | None:
    try:
        return (models_dir / CURRENT).read_text().strip() or None
    except OSError:
        return None


def read_meta(models_dir: Path) -> dict | None:
    name = current_name(models_dir)
    if not name:
        return None
    try:
        return json.loads((models_dir / name / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def load_index(models_dir: Path) -> Index:
    """Load the index CURRENT names (numpy arrays with allow_pickle=False, JSON)."""
    name = current_name(models_dir)
    if not name:
        raise IndexError_(f"no index in {models_dir}; run `qa-service index`")
    folder = models_dir / name
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != INDEX_FORMAT:
            raise IndexError_(f"index format {meta.get('format')} is not {INDEX_FORMAT}; rebuild it")
        with np.load(folder / "matrix.npz", allow_pickle=False) as z:
            matrix = sparse.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        with np.load(folder / "sentences.npz", allow_pickle=False) as z:
            idf = z["idf"]
            table = {c: z[c] for c in _SENTENCE_COLUMNS}
        vocab = json.loads((folder / "vocab.json").read_text())
        vectors = {name: np.load(folder / f"vectors-{name}.npy", allow_pickle=False).astype(np.float32)
                   for name in meta.get("encoders", [])}
        lines = (folder / "docs.jsonl").read_text(encoding="utf-8").splitlines()
        bounds = np.searchsorted(table["doc"], np.arange(len(lines) + 1))
        docs = [_doc_from_json(json.loads(line), table, bounds[i], bounds[i + 1]) for i, line in enumerate(lines)]
    except (OSError, ValueError, KeyError) as exc:
        raise IndexError_(f"index in {folder} is unreadable: {exc}") from exc
    return Index(docs, vocab, idf, matrix, table, meta, vectors)


def _doc_from_json(row: dict, table: dict[str, np.ndarray], lo: int, hi: int) -> Document:
    return Document(row["id"], row["title"], row["text"], tuple(Section(**s) for s in row["sections"]),
                    SentenceView(table, int(lo), int(hi)), row.get("source", ""))


class SentenceView(SequenceABC):
    """A loaded document's sentences, read from the index's sentence columns when accessed.

    Behaves as the tuple of `Sentence`s it stands for (indexing, slicing, len, iteration, ==, hash)
    without one Python object per sentence: at 100k documents (650k sentences) building those
    objects was 80% of `load_index` and ~200 bytes of memory per sentence.
    """

    __slots__ = ("_table", "_lo", "_n")

    def __init__(self, table: dict[str, np.ndarray], lo: int, hi: int):
        self._table, self._lo, self._n = table, lo, max(0, hi - lo)

    def __len__(self) -> int:
        return self._n

    def _at(self, row: int) -> Sentence:
        t = self._table
        return Sentence(*(int(t[c][row]) for c in _SENTENCE_FIELDS))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self._at(self._lo + j) for j in range(*i.indices(self._n)))
        i = operator.index(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("sentence index out of range")
        return self._at(self._lo + i)

    def __iter__(self) -> Iterator[Sentence]:
        lo, hi = self._lo, self._lo + self._n
        return map(Sentence, *(self._table[c][lo:hi].tolist() for c in _SENTENCE_FIELDS))

    def __eq__(self, other) -> bool:
        if isinstance(other, (SentenceView, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SentenceView({list(self)!r})"
