"""The sentence index: raw term counts (scikit-learn CountVectorizer, SciPy CSC) scored with BM25.

Scoring: for sentence s and query terms q with weights c_q,

    bm25(s) = sum_q c_q * idf(q) * tf(q,s) * (k1 + 1) / (tf(q,s) + k1 * (1 - b + b * |s| / avg|s|))
    idf(q)  = ln(1 + (N - df(q) + 0.5) / (df(q) + 0.5))

N is the number of sentences, df(q) the number of sentences holding q, |s| the number of terms of s
and avg|s| the mean over sentences with at least one term. The index stores only the raw counts
tf(q,s), term-major (CSC), and derives N, df, |s|, avg|s| and idf from them when it is made; the
weights are computed at query time for the query's own columns (`bm25_weights`). So statistics are
never stale: an index composed of segments (segments.py) is scored with the statistics of exactly
the sentences it holds, as a full rebuild over the same reports would be.

On disk (`models/index-<id>/`, and `models/delta-<id>/` for a delta segment): `matrix.npz` (CSC
arrays of the counts), `sentences.npz` (int32 columns), `vocab.json`, `docs.jsonl`, `meta.json`,
`vectors-<encoder>.npy`. `models/CURRENT` names the live main folder on its first line and, when
there is one, the live delta folder on its second; it is replaced atomically. Nothing is pickled.
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

from ..domain import Document, Section, Sentence
from ..text.layout import case_part_heading

INDEX_FORMAT = 4  # 4: raw counts on disk (3 stored BM25 weights)
CURRENT = "CURRENT"
_SENTENCE_COLUMNS = ("doc", "start", "end", "section", "paragraph", "raw_start", "raw_end", "indexed")
_SENTENCE_FIELDS = ("start", "end", "section", "paragraph", "raw_start", "raw_end")  # Sentence's field order
# Below this many terms in all, a float32 sum of the (integer) sentence lengths is exact, so the mean
# is the same whatever the order of the sentences.
_EXACT_FLOAT32_SUM = 2 ** 24


class IndexUnavailable(RuntimeError):
    """The index on disk is missing or unusable."""


def idf_of(df: np.ndarray, n: int) -> np.ndarray:
    """idf(q) = ln(1 + (N - df(q) + 0.5) / (df(q) + 0.5)), float32, from float64 document frequencies."""
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def mean_length(lengths: np.ndarray) -> np.float32:
    """avg|s|: the mean float32 length of the sentences that have a term (1.0 when none has).

    The lengths are integers; while their total is below 2**24 a float32 sum of them is exact, so this
    is the same number for any order of the sentences (a composed index and a rebuild agree bit for
    bit). Above that, the exact integer total divided by the count, rounded to float32."""
    pos = lengths[lengths > 0]
    if not len(pos):
        return np.float32(1.0)
    total = float(pos.sum(dtype=np.float64))
    if total < _EXACT_FLOAT32_SUM:
        return pos.mean()
    return np.float32(total / len(pos))


def length_norm(lengths: np.ndarray, avg: np.float32, k1: float, b: float) -> np.ndarray:
    """k1 * (1 - b + b * |s| / avg|s|) per sentence, float32."""
    return k1 * (1 - b + b * lengths / avg)


def bm25_weights(tf: np.ndarray, idf: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """idf(q) * tf * (k1 + 1) / (tf + norm(s)) for aligned arrays of nonzero counts (float32)."""
    return (idf * tf * (k1 + 1) / (tf + norm)).astype(np.float32)


@dataclass
class Index:
    docs: list[Document]
    vocab: dict[str, int]
    counts: sparse.csc_matrix  # float32 raw term counts, sentences x terms (sorted row indices per column)
    sentences: dict[str, np.ndarray]  # columns of the sentence table
    meta: dict = field(default_factory=dict)
    # encoder name -> (n_sentences, dim) float32 unit vectors of every sentence (zeros where unindexed);
    # an ndarray, or a segments.RowStack (row blocks of several segments, not copied)
    vectors: dict = field(default_factory=dict)
    k1: float = 1.2
    b: float = 0.75
    doc_rows: np.ndarray = field(init=False)  # sentence row range per document: [doc_rows[d], doc_rows[d+1])
    doc_by_id: dict[str, int] = field(init=False)
    # BM25 statistics of exactly these sentences (see the module docstring)
    lengths: np.ndarray = field(init=False)  # float32 |s| per sentence
    df: np.ndarray = field(init=False)  # float64 sentences per term
    idf: np.ndarray = field(init=False)  # float32 per term
    norm: np.ndarray = field(init=False)  # float32 length normalisation per sentence
    max_idf: float = field(init=False)

    def __post_init__(self) -> None:
        counts = np.bincount(self.sentences["doc"], minlength=len(self.docs)) if len(self.docs) else np.zeros(0, int)
        self.doc_rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.doc_by_id = {d.id: i for i, d in enumerate(self.docs)}
        m = self.counts
        n = m.shape[0]
        self.lengths = np.bincount(m.indices, weights=m.data, minlength=n).astype(np.float32)
        self.df = np.diff(m.indptr).astype(np.float64)  # no explicit zeros are stored
        self.idf = idf_of(self.df, n)
        self.norm = length_norm(self.lengths, mean_length(self.lengths), self.k1, self.b)
        self.max_idf = float(self.idf.max()) if len(self.idf) else 10.0

    @property
    def matrix(self) -> sparse.csc_matrix:
        """The term counts. Readers of term presence (which sentences hold a term) use its sparsity."""
        return self.counts

    @property
    def n_sentences(self) -> int:
        return int(self.counts.shape[0])

    def sentence(self, row: int) -> Sentence:
        s = self.sentences
        return Sentence(int(s["start"][row]), int(s["end"][row]), int(s["section"][row]),
                        int(s["paragraph"][row]), int(s["raw_start"][row]), int(s["raw_end"][row]))

    def weights(self, cols: list[int]) -> sparse.csc_matrix:
        """The BM25 weights of the given columns (in that order), sentences x len(cols)."""
        sub = self.counts[:, cols]
        col_of = np.repeat(np.arange(len(cols)), np.diff(sub.indptr))
        sub.data = bm25_weights(sub.data, self.idf[np.asarray(cols, dtype=np.int64)][col_of],
                                self.norm[sub.indices], self.k1)
        return sub

    def score(self, term_weights: dict[str, float], rows: slice | None = None) -> np.ndarray:
        """BM25 score of every sentence (or of the rows in `rows`) for weighted query terms."""
        cols = [self.vocab[t] for t in term_weights if t in self.vocab]
        n = self.n_sentences if rows is None else rows.stop - rows.start
        if not cols:
            return np.zeros(n, dtype=np.float32)
        weights = np.array([term_weights[t] for t in term_weights if t in self.vocab], dtype=np.float32)
        sub = self.weights(cols)
        if rows is not None:
            sub = sub[rows]
        return np.asarray(sub @ weights).ravel()

    def doc_scores(self, term_weights: dict[str, float]) -> np.ndarray:
        """BM25 of whole documents (the index's k1 and b), with a term's frequency in a document counted
        as the number of its sentences holding the term and a document's length as its number of
        sentences. Computed from the query's own columns only, so the cost follows the query, not the corpus."""
        k1, b = self.k1, self.b
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
            rows = self.counts.indices[self.counts.indptr[col]:self.counts.indptr[col + 1]]
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
        rows = self.counts.indices[self.counts.indptr[col]:self.counts.indptr[col + 1]]
        lo, hi = self.doc_rows[d], self.doc_rows[d + 1]
        i = np.searchsorted(rows, lo)
        return bool(i < len(rows) and rows[i] < hi)

    def term_idf(self, term: str) -> float:
        col = self.vocab.get(term)
        return float(self.idf[col]) if col is not None else self.max_idf


def story_heading(section: Section) -> str:
    """The heading of a part of the patient's story ("Physical examination "), with which the part's
    first sentence is indexed and encoded, as if it were written on the same line; "" for others."""
    heading = section.heading or ""
    return f"{heading} " if section.kind == "body" and case_part_heading(heading) else ""


def build_index(docs: Sequence[Document], featurize: Callable[[str, object], list[str]], *,
                k1: float = 1.2, b: float = 0.75, meta: dict | None = None,
                doc_context: Callable[[Document], object] = lambda d: None,
                indexable: Callable[[Section], bool] = lambda s: s.kind != "unindexed",
                encoders: dict[str, Callable[[list[str]], np.ndarray]] | None = None) -> Index:
    """Fit the BM25 sentence matrix over every sentence of indexable sections, and encode those
    sentences with each of `encoders` (name -> texts -> unit vectors); the first sentence of a part
    of the story carries its heading (`story_heading`).

    `featurize(sentence, context)` gives a sentence's terms; `context` is `doc_context(document)`
    (e.g. the abbreviations the document defines).
    """
    texts: list[tuple[str, object]] = []
    cols: dict[str, list[int]] = {c: [] for c in _SENTENCE_COLUMNS}
    for d, doc in enumerate(docs):
        ctx = doc_context(doc)
        headed: set[int] = set()
        for s in doc.sentences:
            ok = indexable(doc.sections[s.section])
            text = doc.text[s.start:s.end] if ok else ""
            if ok and s.section not in headed:
                headed.add(s.section)
                text = f"{story_heading(doc.sections[s.section])}{text}"
            texts.append((text, ctx))
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
    info = dict(meta or {})
    info.update(format=INDEX_FORMAT, k1=k1, b=b, n_docs=len(docs), n_sentences=len(texts), n_terms=len(vocab))
    vectors = {}
    for name, encode in (encoders or {}).items():
        vectors[name] = stored_vectors(encode([t for t, _ in texts]))
    info["encoders"] = sorted(vectors)
    index = Index(list(docs), vocab, counts.tocsc(), table, info, vectors, k1=k1, b=b)
    info["max_idf"] = index.max_idf
    return index


def stored_vectors(vecs) -> np.ndarray:
    """Sentence vectors as an index keeps them: float16 on disk (half the size; cosines move < 1e-3),
    float32 in memory. Rounded here already, so the process that builds an index answers exactly as
    every process that loads it."""
    return np.asarray(vecs, dtype=np.float32).astype(np.float16).astype(np.float32)


# ---------------------------------------------------------------- persistence

def write_folder(index: Index, folder: Path, meta: dict) -> None:
    """Write the index's files into an existing (temporary) folder and fsync them."""
    m = index.counts
    np.savez(folder / "matrix.npz", data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
    np.savez(folder / "sentences.npz", **index.sentences)  # type: ignore[arg-type]  # numpy stubs: **arrays
    for name, vecs in index.vectors.items():
        np.save(folder / f"vectors-{name}.npy", np.asarray(vecs).astype(np.float16), allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps(index.vocab, separators=(",", ":")))
    with (folder / "docs.jsonl").open("w", encoding="utf-8") as fh:
        for doc in index.docs:
            fh.write(json.dumps({"id": doc.id, "title": doc.title, "text": doc.text, "source": doc.source,
                                 "sections": [s.to_dict() for s in doc.sections]}, ensure_ascii=False) + "\n")
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    for f in folder.iterdir():
        with f.open("rb") as fh:
            os.fsync(fh.fileno())


def save_folder(index: Index, models_dir: Path, prefix: str, meta: dict) -> Path:
    """Write the index into `models_dir/<prefix>-<time>-<fingerprint>`, all or nothing (a temp folder
    renamed into place); CURRENT is not touched."""
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{prefix}-", dir=models_dir))
    try:
        write_folder(index, tmp, meta)
        final = models_dir / f"{prefix}-{time.time_ns()}-{meta.get('fingerprint', 'x')}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def switch_current(models_dir: Path, main: str, delta: str | None = None) -> None:
    """Point CURRENT at a main folder (and a delta folder) in one atomic rename: a reader sees the old
    pair or the new pair, never half of each."""
    pointer = models_dir / f".{CURRENT}.tmp-{os.getpid()}-{time.time_ns()}"
    pointer.write_text(main + (f"\n{delta}" if delta else ""))
    os.replace(pointer, models_dir / CURRENT)


def save_index(index: Index, models_dir: Path) -> Path:
    """Write the index into a fresh folder, then switch CURRENT to it (no delta) atomically; old folders go."""
    meta = dict(index.meta, built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    final = save_folder(index, models_dir, "index", meta)
    switch_current(models_dir, final.name)
    index.meta = meta
    clean_stale(models_dir, keep=(final.name,))
    return final


def clean_stale(models_dir: Path, keep: Sequence[str] | None = None) -> None:
    """Remove index and delta folders that CURRENT does not name and temp leftovers of interrupted
    writes. Call under the writer lock (a writer's folder is not named by CURRENT until it switches)."""
    kept = set(keep if keep is not None else current_pointer(models_dir))
    for pattern in ("index-*", "delta-*"):
        for p in models_dir.glob(pattern):
            if p.name not in kept:
                shutil.rmtree(p, ignore_errors=True)
    for pattern in (".tmp-index-*", ".tmp-delta-*"):
        for p in models_dir.glob(pattern):
            shutil.rmtree(p, ignore_errors=True)
    for p in models_dir.glob(f".{CURRENT}.tmp-*"):
        p.unlink(missing_ok=True)


def current_pointer(models_dir: Path) -> tuple[str, ...]:
    """(main folder,) or (main folder, delta folder) as CURRENT names them; () when there is none."""
    try:
        text = (models_dir / CURRENT).read_text()
    except OSError:
        return ()
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names or any("/" in n or n.startswith(".") for n in names):  # only plain folder names in models/
        return ()
    return names[:2]


def current_name(models_dir: Path) -> str | None:
    """The live main folder's name."""
    names = current_pointer(models_dir)
    return names[0] if names else None


def read_meta(models_dir: Path) -> dict | None:
    """The live main folder's metadata."""
    name = current_name(models_dir)
    if not name:
        return None
    return read_folder_meta(models_dir / name)


def read_folder_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def load_index(models_dir: Path) -> Index:
    """Load the main index CURRENT names (numpy arrays with allow_pickle=False, JSON)."""
    name = current_name(models_dir)
    if not name:
        raise IndexUnavailable(f"no index in {models_dir}; run `qa-service index`")
    return load_folder(models_dir / name)


def load_folder(folder: Path) -> Index:
    """Load the index (main or delta segment) saved in `folder`."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != INDEX_FORMAT:
            raise IndexUnavailable(f"index format {meta.get('format')} is not {INDEX_FORMAT}; rebuild it")
        with np.load(folder / "matrix.npz", allow_pickle=False) as z:
            counts = sparse.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        with np.load(folder / "sentences.npz", allow_pickle=False) as z:
            table = {c: z[c] for c in _SENTENCE_COLUMNS}
        vocab = json.loads((folder / "vocab.json").read_text())
        vectors = {name: np.load(folder / f"vectors-{name}.npy", allow_pickle=False).astype(np.float32)
                   for name in meta.get("encoders", [])}
        lines = (folder / "docs.jsonl").read_text(encoding="utf-8").splitlines()
        bounds = np.searchsorted(table["doc"], np.arange(len(lines) + 1))
        docs = [_doc_from_json(json.loads(line), table, bounds[i], bounds[i + 1]) for i, line in enumerate(lines)]
        return Index(docs, vocab, counts, table, meta, vectors, k1=float(meta.get("k1", 1.2)),
                     b=float(meta.get("b", 0.75)))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexUnavailable(f"index in {folder} is unreadable: {exc}") from exc


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
