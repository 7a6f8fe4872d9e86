"""Segments: an immutable main index, a small delta index and deleted ids, searched as one Index.

The served index is a *view* composed of

    main segment   models/index-<id>/   everything as of the last full build or merge
    delta segment  models/delta-<id>/   the reports added since, and the ids of main documents
                                        deleted since ("tombstones", in the delta's meta.json)

`compose` lays the main segment's rows (without the deleted documents) and then the delta's rows
into one `Index`. It only concatenates and renumbers arrays that are already built (no text is
cleaned, tokenized or encoded again), and the BM25 statistics follow from the composed counts
(index.py), so they are exactly those of a full build over the same reports:

    N      = rows of main kept + rows of delta
    df(q)  = df_main_kept(q) + df_delta(q)
    |s|    per row, unchanged;  avg|s| = mean over the composed rows (order-independent, index.mean_length)

Term columns that only deleted documents held are dropped, so the vocabulary is the one a build
gives. A composed view differs from a build only in the order of its documents (delta documents
come last) and of its vocabulary; `canonical` puts both in build order, which is what a merge
saves: its arrays are equal to a full rebuild's, element for element.

Sentence vectors are not copied: a view holds them as a `RowStack` of row blocks of the segments'
arrays (the main segment's kept runs and the delta), which `vectors[rows] @ q` reads block by block.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Sequence

import numpy as np
from scipy import sparse

from .bm25 import INDEX_FORMAT, Index, IndexUnavailable, current_pointer, load_folder

DELTA = "delta"


class RowStack:
    """Read-only 2-D rows of several float32 arrays stacked, without copying them.

    Supports what the answerer does with sentence vectors: `len`, `shape`, slicing rows (a view, and
    a plain ndarray view when the slice lies in one block), `@` a vector or matrix (block by block),
    and `np.asarray` (copies once, e.g. to save)."""

    def __init__(self, pieces: Sequence, dim: int):
        flat: list[np.ndarray] = []
        for p in pieces:
            if isinstance(p, RowStack):
                flat.extend(p.pieces)
            elif len(p):
                flat.append(p)
        self.pieces: list[np.ndarray] = flat
        self.dim = int(dim)
        self.starts = np.concatenate([[0], np.cumsum([len(p) for p in flat])]).astype(np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.starts[-1]), self.dim

    @property
    def dtype(self):
        return self.pieces[0].dtype if self.pieces else np.dtype(np.float32)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key):
        if isinstance(key, slice):
            lo, hi, step = key.indices(len(self))
            if step != 1:
                return np.asarray(self)[key]
            out = []
            for p, s in zip(self.pieces, self.starts[:-1]):
                a, b = max(lo - s, 0), min(hi - s, len(p))
                if a < b:
                    out.append(p[a:b])
            if len(out) == 1:
                return out[0]
            return RowStack(out, self.dim)
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError("row index out of range")
            k = int(np.searchsorted(self.starts, i, side="right")) - 1
            return self.pieces[k][i - self.starts[k]]
        return np.asarray(self)[key]

    def __matmul__(self, other):
        other = np.asarray(other)
        if not self.pieces:
            return np.zeros((0,) + other.shape[1:], dtype=np.result_type(np.float32, other.dtype))
        return np.concatenate([p @ other for p in self.pieces])

    def __array__(self, dtype=None, copy=None):
        out = np.concatenate(self.pieces) if self.pieces else np.zeros((0, self.dim), dtype=np.float32)
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype) -> np.ndarray:
        return np.asarray(self).astype(dtype)


def _runs(keep: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) ranges of the True runs of a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _drop_rows(m: sparse.csc_matrix, keep: np.ndarray) -> sparse.csc_matrix:
    """The CSC matrix without the rows where `keep` is False (rows renumbered), in O(nonzeros)."""
    ok = keep[m.indices]
    new_row = np.cumsum(keep) - 1
    kept_before = np.concatenate([[0], np.cumsum(ok)])
    return sparse.csc_matrix((m.data[ok], new_row[m.indices[ok]].astype(m.indices.dtype), kept_before[m.indptr]),
                             shape=(int(keep.sum()), m.shape[1]))


def _stack_rows(blocks: Sequence[tuple[sparse.csc_matrix, int]], n_rows: int, n_cols: int) -> sparse.csc_matrix:
    """CSC blocks (each with sorted row indices per column, at most n_cols columns) stacked vertically at
    the given row offsets (increasing): each column holds the first block's entries, then the second's...
    Every entry is placed by arithmetic on the column pointers, O(nonzeros), no sort."""
    per_col = []
    for m, _ in blocks:
        c = np.zeros(n_cols, dtype=np.int64)
        c[:m.shape[1]] = np.diff(m.indptr)
        per_col.append(c)
    indptr = np.concatenate([[0], np.cumsum(np.sum(per_col, axis=0))]).astype(np.int64)
    nnz = int(indptr[-1])
    idx_dtype = np.int32 if max(nnz, n_rows) < 2 ** 31 else np.int64
    data = np.empty(nnz, dtype=np.float32)
    indices = np.empty(nnz, dtype=idx_dtype)
    before = np.zeros(n_cols, dtype=np.int64)  # entries of earlier blocks in each column
    for (m, row_off), c in zip(blocks, per_col):
        w = m.shape[1]
        start = indptr[:w] + before[:w]  # where this block's entries of each column go
        pos = np.arange(m.nnz, dtype=np.int64) + np.repeat(start - m.indptr[:-1], c[:w])
        data[pos] = m.data
        indices[pos] = m.indices + row_off
        before += c
    return sparse.csc_matrix((data, indices, indptr.astype(idx_dtype)), shape=(n_rows, n_cols))


def _dim(vecs) -> int:
    return int(vecs.shape[1]) if len(vecs.shape) == 2 else 0


def compose(parts: Sequence[tuple[Index, Collection[str]]], meta: dict | None = None) -> Index:
    """One Index of the rows of each part in order, leaving out the documents of each part whose ids
    are in that part's drop set. The vocabulary keeps the first part's column numbers, then adds the
    other parts' new terms; columns left without any row are dropped. Pure array work: O(rows +
    nonzeros) copies of existing arrays, no text processing."""
    first = parts[0][0]
    if len(parts) == 1 and not parts[0][1]:
        return Index(first.docs, first.vocab, first.counts, first.sentences, dict(meta or first.meta),
                     first.vectors, k1=first.k1, b=first.b)
    vocab = dict(first.vocab)
    docs: list = []
    tables: dict[str, list[np.ndarray]] = {c: [] for c in first.sentences}
    blocks: list[tuple[sparse.csc_matrix, int]] = []
    vec_pieces: dict[str, list] = {name: [] for name in first.vectors}
    row_off = doc_off = 0
    for k, (index, drop) in enumerate(parts):
        if set(index.vectors) != set(vec_pieces):
            raise ValueError("segments were encoded with different sentence encoders")
        drop = set(drop) & set(index.doc_by_id)
        keep_doc = np.ones(len(index.docs), dtype=bool)
        for doc_id in drop:
            keep_doc[index.doc_by_id[doc_id]] = False
        doc_of = index.sentences["doc"]
        keep_row = keep_doc[doc_of] if drop else np.ones(len(doc_of), dtype=bool)
        new_doc = (np.cumsum(keep_doc) - 1 + doc_off).astype(np.int32)
        docs.extend(d for d, keep in zip(index.docs, keep_doc) if keep)
        for c, col in index.sentences.items():
            col = col[keep_row] if drop else col
            tables[c].append(new_doc[col] if c == "doc" else col)
        m = _drop_rows(index.counts, keep_row) if drop else index.counts
        if k > 0:  # its columns in the composed vocabulary (new terms appended)
            colmap = np.empty(len(index.vocab), dtype=np.int64)
            for term, j in index.vocab.items():
                colmap[j] = vocab.setdefault(term, len(vocab))
            col_of = np.repeat(colmap, np.diff(m.indptr))
            m = sparse.csc_matrix((m.data, (m.indices, col_of)), shape=(m.shape[0], len(vocab)))
            m.sort_indices()
        blocks.append((m, row_off))
        for name, vecs in index.vectors.items():
            if drop:
                vec_pieces[name].extend(vecs[a:b] for a, b in _runs(keep_row))
            else:
                vec_pieces[name].append(vecs)
        row_off += int(keep_row.sum())
        doc_off += int(keep_doc.sum())
    counts = _stack_rows(blocks, row_off, len(vocab))
    df = np.diff(counts.indptr)
    if (df == 0).any():  # terms only deleted documents held: gone, as in a build without them
        keep_cols = np.flatnonzero(df > 0)
        new_col = np.full(len(df), -1, dtype=np.int64)
        new_col[keep_cols] = np.arange(len(keep_cols))
        vocab = {t: int(new_col[j]) for t, j in vocab.items() if new_col[j] >= 0}
        counts = sparse.csc_matrix((counts.data, counts.indices, np.concatenate([[0], counts.indptr[1:][keep_cols]])),
                                   shape=(row_off, len(keep_cols)))
    table = {c: np.concatenate(v).astype(np.int32) if v else np.zeros(0, np.int32) for c, v in tables.items()}
    vectors = {name: RowStack(p, _dim(first.vectors[name])) for name, p in vec_pieces.items()}
    info = dict(meta if meta is not None else first.meta)
    info.update(n_docs=len(docs), n_sentences=row_off, n_terms=len(vocab))
    return Index(docs, vocab, counts, table, info, vectors, k1=first.k1, b=first.b)


def canonical(index: Index, order: Sequence[int], meta: dict | None = None) -> Index:
    """The index with its documents in `order` (positions in index.docs) and its vocabulary sorted,
    vectors in one array: the arrays `build_index` gives for those documents in that order."""
    rows = np.asarray(order, dtype=np.int64)
    lo, hi = index.doc_rows[rows], index.doc_rows[rows + 1]
    lens = hi - lo
    n = int(lens.sum())
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    row_perm = np.repeat(lo - starts, lens) + np.arange(n)  # new row -> old row
    table = {c: col[row_perm] for c, col in index.sentences.items()}
    table["doc"] = np.repeat(np.arange(len(rows)), lens).astype(np.int32)
    terms = sorted(index.vocab)  # CountVectorizer numbers its vocabulary in sorted rows
    new_col = np.empty(len(terms), dtype=np.int64)
    new_col[np.fromiter((index.vocab[t] for t in terms), dtype=np.int64, count=len(terms))] = np.arange(len(terms))
    new_row = np.empty(n, dtype=np.int64)
    new_row[row_perm] = np.arange(n)
    m = index.counts
    col_of = np.repeat(np.arange(m.shape[1], dtype=np.int64), np.diff(m.indptr))
    counts = sparse.csc_matrix((m.data, (new_row[m.indices], new_col[col_of])), shape=(n, len(terms)))
    counts.sort_indices()
    vectors = {name: np.asarray(v)[row_perm] for name, v in index.vectors.items()}
    info = dict(meta if meta is not None else index.meta)
    info.update(n_docs=len(rows), n_sentences=n, n_terms=len(terms))
    out = Index([index.docs[i] for i in rows], {t: i for i, t in enumerate(terms)}, counts, table, info,
                vectors, k1=index.k1, b=index.b)
    out.meta["max_idf"] = out.max_idf
    return out


# ---------------------------------------------------------------- the live state

@dataclass
class Segments:
    """What models/CURRENT names, loaded: the main segment, the delta (None: none), the ids of main
    documents the delta deletes, and the composed view the answerer serves."""
    main: Index
    main_name: str | None
    delta: Index | None = None
    delta_name: str | None = None
    view: Index = field(init=False)

    def __post_init__(self) -> None:
        self.view = view_of(self.main, self.delta)

    @property
    def deleted(self) -> frozenset[str]:
        return deleted_ids(self.delta)

    @property
    def pointer(self) -> tuple[str, ...]:
        return tuple(n for n in (self.main_name, self.delta_name) if n)

    @property
    def delta_size(self) -> int:
        """Documents added plus documents deleted since the main segment was written."""
        return 0 if self.delta is None else len(self.delta.docs) + len(self.deleted)


def deleted_ids(delta: Index | None) -> frozenset[str]:
    return frozenset(delta.meta.get("deleted") or ()) if delta is not None else frozenset()


def view_meta(main: Index, delta: Index | None) -> dict:
    """The view's metadata: the main segment's, with the delta's fingerprint and failure list (the
    corpus it stands for) and how big the delta is."""
    meta = dict(main.meta)
    if delta is not None:
        for key in ("fingerprint", "fingerprint_base", "corpus_sum", "failed_reports", "errors"):
            if key in delta.meta:
                meta[key] = delta.meta[key]
        meta["delta"] = {"documents": len(delta.docs), "deleted": len(deleted_ids(delta))}
        gone = deleted_ids(delta)
        meta["reports"] = {**{d: r for d, r in (main.meta.get("reports") or {}).items() if d not in gone},
                           **(delta.meta.get("reports") or {})}
    return meta


def view_of(main: Index, delta: Index | None) -> Index:
    """main without the delta's deleted documents, then the delta's documents, as one Index (the main
    Index itself when there is no delta)."""
    if delta is None:
        return main
    return compose([(main, deleted_ids(delta)), (delta, ())], view_meta(main, delta))


def load_segments(models_dir: Path, loaded: Segments | None = None,
                  pointer: tuple[str, ...] | None = None) -> Segments:
    """Load what CURRENT (or `pointer`) names. When `loaded` already holds that main segment, only the
    delta folder is read."""
    names = current_pointer(models_dir) if pointer is None else pointer
    if not names:
        raise IndexUnavailable(f"no index in {models_dir}; run `qa-service index`")
    main_name = names[0]
    delta_name = names[1] if len(names) > 1 else None
    if loaded is not None and loaded.main_name == main_name:
        main = loaded.main
    else:
        main = load_folder(models_dir / main_name)
    delta = None
    if delta_name:
        delta = load_folder(models_dir / delta_name)
        if delta.meta.get("segment") != DELTA or delta.meta.get("base") != main_name:
            raise IndexUnavailable(f"{delta_name} is not a delta of {main_name}")
    return Segments(main, main_name, delta, delta_name)


def delta_meta(main: Index, main_name: str, delta_docs: int, deleted: Collection[str], stamps: dict[str, int],
               corpus: dict) -> dict:
    """meta.json of a delta folder: what it is a delta of, the deleted main documents, when each of its
    documents was added (to tell a re-added id from the one merged), and the corpus it stands for."""
    meta = {key: main.meta[key] for key in ("k1", "b", "encoders", "pipeline") if key in main.meta}
    meta.update(format=INDEX_FORMAT, segment=DELTA, base=main_name, n_docs=delta_docs,
                deleted=sorted(deleted), stamps=stamps)
    meta.update(corpus)
    return meta


def empty_like(index: Index, meta: dict) -> Index:
    """An index without documents, with the same sentence encoders (a delta that only deletes)."""
    table = {c: np.zeros(0, dtype=np.int32) for c in index.sentences}
    counts = sparse.csc_matrix((0, 0), dtype=np.float32)
    vectors = {name: RowStack([], _dim(v)) for name, v in index.vectors.items()}
    return Index([], {}, counts, table, meta, vectors, k1=index.k1, b=index.b)


__all__ = ["RowStack", "Segments", "compose", "canonical", "view_of", "load_segments", "delta_meta",
           "deleted_ids", "empty_like"]
