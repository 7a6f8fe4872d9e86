"""Load case reports from a folder of .txt files and from JSONL, into cleaned, sectioned Documents."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .clean import clean
from .domain import Document, Sentence
from .passages import split_sentences
from .sections import guess_title, split_sections


@dataclass(frozen=True)
class LoadError:
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class CorpusError(ValueError):
    """A report that cannot be read or parsed; the message names it."""


_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def title_from_filename(path: Path) -> str:
    words = path.stem.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else path.name


def build_document(doc_id: str, raw: str, title: str | None = None, source: str = "",
                   is_word: Callable[[str], bool] | None = None, fallback_title: str | None = None) -> Document:
    """Clean, section and sentence-split one report."""
    if not raw.strip():
        raise CorpusError(f"{source or doc_id}: the report is empty")
    ct = clean(raw, is_word)
    sections = split_sections(ct.text)
    sentences = []
    for s in split_sentences(ct.text, sections):
        rs, re_ = ct.raw_span(s.start, s.end)
        sentences.append(Sentence(s.start, s.end, s.section, s.paragraph, rs, re_))
    return Document(
        id=doc_id,
        title=(title or "").strip() or guess_title(raw, fallback_title or doc_id),
        text=ct.text,
        sections=tuple(sections),
        sentences=tuple(sentences),
        source=source,
    )


def read_text_file(path: Path) -> str:
    """UTF-8 text of a report file; CorpusError naming the file when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from exc


def jsonl_text(row: dict) -> str:
    """A JSONL row's text: `text`, or `sections: [{name, text}]` joined with their headings."""
    if isinstance(row.get("text"), str):
        return row["text"]
    sections = row.get("sections")
    if isinstance(sections, list):
        parts = []
        for sec in sections:
            if isinstance(sec, dict) and isinstance(sec.get("text"), str):
                name = str(sec.get("name") or "").strip()
                parts.append(f"{name.title()}\n{sec['text']}" if name else sec["text"])
        return "\n\n".join(parts)
    raise CorpusError("row has neither 'text' (string) nor 'sections' (list)")


def iter_jsonl(path: Path) -> Iterator[tuple[str, str, str | None] | LoadError]:
    """(id, text, title) per row of a JSONL file, or a LoadError for a bad row."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield LoadError(str(path), f"cannot be read ({exc.strerror or exc})")
        return
    with handle:
        for n, line in enumerate(handle, 1):
            where = f"{path}:{n}"
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8"))
                if not isinstance(row, dict):
                    raise CorpusError("row is not a JSON object")
                text = jsonl_text(row)
            except UnicodeDecodeError:
                yield LoadError(where, "not UTF-8 text")
                continue
            except (json.JSONDecodeError, CorpusError) as exc:
                yield LoadError(where, str(exc) if isinstance(exc, CorpusError) else f"invalid JSON ({exc.msg})")
                continue
            doc_id = str(row.get("id") or f"{path.stem}-{n}")
            title = row.get("title") if isinstance(row.get("title"), str) else None
            yield doc_id, text, title


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.glob("*.txt") if p.is_file()) if corpus_dir.is_dir() else []


def fingerprint(corpus_dir: Path, jsonl_files: Iterable[Path] = (), extra: str = "") -> str:
    """Hash of every input file's name and bytes (and of `extra`, e.g. the code version)."""
    h = hashlib.sha256(extra.encode())
    for p in corpus_files(corpus_dir) + [Path(j) for j in jsonl_files]:
        h.update(str(p.name).encode() + b"\0")
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:16]


def load_corpus(corpus_dir: Path, jsonl_files: Iterable[Path] = (),
                is_word: Callable[[str], bool] | None = None,
                progress: Callable[[Iterable], Iterable] | None = None) -> tuple[list[Document], list[LoadError]]:
    """Every readable report; each unreadable one becomes a LoadError and the rest still load."""
    items: list[tuple[str, str, str | None, str] | LoadError] = []
    titles: dict[str, str] = {}
    for path in corpus_files(corpus_dir):
        try:
            items.append((path.stem, read_text_file(path), None, str(path)))
            titles[path.stem] = title_from_filename(path)
        except CorpusError as exc:
            items.append(LoadError(str(path), str(exc).split(": ", 1)[-1]))
    for jf in jsonl_files:
        for item in iter_jsonl(Path(jf)):
            items.append(item if isinstance(item, LoadError) else (*item, str(jf)))
    docs: list[Document] = []
    errors: list[LoadError] = []
    seen: set[str] = set()
    for item in (progress(items) if progress else items):
        if isinstance(item, LoadError):
            errors.append(item)
            continue
        doc_id, text, title, source = item
        if doc_id in seen:
            errors.append(LoadError(source, f"duplicate document id {doc_id!r} skipped"))
            continue
        try:
            doc = build_document(doc_id, text, title, source, is_word, titles.get(doc_id))
        except CorpusError as exc:
            errors.append(LoadError(source, str(exc)))
            continue
        seen.add(doc_id)
        docs.append(doc)
    return docs, errors


# ---------------------------------------------------------------- stored reports (ingest)
#
# A report added through the API is stored as `<corpus>/<id>.txt` (its text, exactly as sent) and
# `<corpus>/<id>.meta.json` ({"title": ...}, a sidecar: the title stays out of the report text).
# The loaders read only *.txt, so sidecars and `.`-prefixed temp files never become documents.

DOC_ID_MAX = 200
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SIDECAR_SUFFIX = ".meta.json"


def valid_doc_id(doc_id: object) -> bool:
    """An id that is a plain file stem: ASCII letters, digits, '.', '_', '-'; starts with a letter or
    digit (so never '.', '..' or a hidden file); no slashes or control characters; at most 200 chars."""
    return (isinstance(doc_id, str) and 0 < len(doc_id) <= DOC_ID_MAX
            and _DOC_ID.fullmatch(doc_id) is not None)


def report_path(corpus_dir: Path, doc_id: str) -> Path:
    if not valid_doc_id(doc_id):
        raise CorpusError(f"{doc_id!r} is not a valid document id")
    return corpus_dir / f"{doc_id}.txt"


def sidecar_path(corpus_dir: Path, doc_id: str) -> Path:
    return corpus_dir / f"{doc_id}{SIDECAR_SUFFIX}"


def sidecar_title(report: Path) -> str | None:
    """The title kept in a report's sidecar, or None (no sidecar, unreadable, or no title)."""
    try:
        data = json.loads((report.parent / f"{report.stem}{SIDECAR_SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    title = data.get("title") if isinstance(data, dict) else None
    return title if isinstance(title, str) and title.strip() else None


def sidecars_fingerprint(corpus_dir: Path) -> str:
    """Hash of the sidecars of the corpus's reports ('' when there are none, so a corpus without
    ingested reports keeps the fingerprint it had before sidecars existed)."""
    h = hashlib.sha256()
    found = False
    for report in corpus_files(corpus_dir):
        side = report.parent / f"{report.stem}{SIDECAR_SUFFIX}"
        try:
            data = side.read_bytes()
        except OSError:
            continue
        found = True
        h.update(side.name.encode() + b"\0" + data)
    return h.hexdigest()[:16] if found else ""
