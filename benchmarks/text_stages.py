"""Text-stage benchmark: time per MB of each text stage on pathological inputs, at 100 KB, 1 MB, 10 MB.

    .venv/bin/python benchmarks/text_stages.py [--sizes 100k,1m,10m] [--inputs letters,digits] [--stages clean]
                                              [--timeout 120] [--no-readme]

Every stage must be linear: the seconds per MB must stay flat as the input grows. Each (input, size)
runs in a fresh process with a wall-clock limit (--timeout), so one quadratic case is reported as
"timeout" instead of hanging the run.

Stages (each timed alone, on the output of the one before):
  clean      clean.clean(raw, lexicon.is_word): repairs + offset map
  sections   sections.split_sections(cleaned)
  sentences  passages.split_sentences(cleaned, sections)
  document   corpus.build_document(...) end to end (clean + sections + sentences + raw offsets)
  index      index.build_index([document], the service's featurizer): word stems + concept ids

The inputs (PATHOLOGICAL below) are shared with tests/text/test_robust_text.py. Results are printed and
written to benchmarks/README.md between the `<!-- text-stages:* -->` markers (--no-readme to skip).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
README = Path(__file__).resolve().parent / "README.md"
sys.path.insert(0, str(ROOT))

STAGES = ("clean", "sections", "sentences", "document", "index")
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _letters(n: int) -> str:
    return _repeat("abcdefghijklmnopqrstuvwxyz")(n)


def _paragraph(n: int) -> str:
    """One long lower-case paragraph of words, no punctuation, no line break (OCR text)."""
    r = random.Random(0)
    words = ["the", "patient", "was", "admitted", "with", "fever", "and", "cough", "renal", "biopsy",
             "showed", "lupus", "nephritis", "class", "three", "treated", "prednisolone", "hydroxychloroquine"]
    out, size = [], 0
    while size < n:
        w = r.choice(words)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def _printable(n: int) -> str:
    r = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-()[]\n\n\t"
    return "".join(r.choice(alphabet) for _ in range(n))


# name -> generator of exactly n characters
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "letters": _letters,  # one run of letters, no space
    "upper": _repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "same-char": _repeat("a"),
    "digits": _repeat("0123456789"),
    "hyphens": _repeat("-"),
    "dots": _repeat("."),
    "spaces": _repeat(" "),
    "newlines": _repeat("\n"),
    "brackets": _repeat("[("),
    "open-brackets": _repeat("["),
    "cite-brackets": _repeat("[1, "),
    "cite-digits": _repeat("1,"),
    "paragraph": _paragraph,  # lower-case words, no punctuation
    "a-hyphen-nl": _repeat("a-\n"),
    "word-hyphen-nl": _repeat("treat-\nment "),
    "hyphen-nl-nl": _repeat("ab-\n\n"),
    "a-dot": _repeat("a."),
    "a-dot-space": _repeat("a. "),
    "initials": _repeat("A. "),
    "sentences": _repeat("He had a fever. "),
    "a-newline": _repeat("a\n"),
    "a-blank-line": _repeat("a\n\n"),
    "a-space": _repeat("a "),
    "comma-glue": _repeat("ab,"),
    "slash-nl": _repeat("a/\n"),
    "headings": _repeat("Abstract "),
    "heading-lines": _repeat("CASE REPORT\n"),
    "captions": _repeat("Figure 1 "),
    "caption-lines": _repeat("Fig. 1 a\n"),
    "tabs-nbsp": _repeat("\t\u00a0"),
    "printable": _printable,
}


def make_input(name: str, n: int) -> str:
    return PATHOLOGICAL[name](n)


# ================================================================== stages

def run_stages(raw: str, stages: tuple[str, ...] = STAGES, models_dir: Path | None = None) -> dict[str, float]:
    """Run the text stages on `raw`; seconds per stage."""
    from qa_service.text.clean import clean
    from qa_service.corpus.store import build_document
    from qa_service.clinical.rarity import is_word
    from qa_service.text.passages import split_sentences
    from qa_service.text.sections import split_sections

    out: dict[str, float] = {}
    t = time.perf_counter()
    ct = clean(raw, is_word)
    out["clean"] = time.perf_counter() - t
    if "sections" in stages or "sentences" in stages:
        t = time.perf_counter()
        secs = split_sections(ct.text)
        out["sections"] = time.perf_counter() - t
        t = time.perf_counter()
        split_sentences(ct.text, secs)
        out["sentences"] = time.perf_counter() - t
    doc = None
    if "document" in stages or "index" in stages:
        t = time.perf_counter()
        try:
            doc = build_document("bench", raw, "bench", is_word=is_word)
        except ValueError:  # CorpusError: nothing left after cleaning (e.g. only spaces)
            doc = None
        out["document"] = time.perf_counter() - t
    if "index" in stages:
        from qa_service.config import Settings
        from qa_service.index.bm25 import build_index
        from qa_service.service.build import featurizer

        feat = featurizer(Settings(models_dir=models_dir or ROOT / "models"))
        t = time.perf_counter()
        if doc is not None and doc.sentences:
            build_index([doc], feat)
        out["index"] = time.perf_counter() - t
    return {k: v for k, v in out.items() if k in stages}


def _worker(name: str, n: int, stages: tuple[str, ...]) -> None:
    from qa_service.clinical.rarity import is_word

    is_word("warm")  # load the word list outside the timings
    raw = make_input(name, n)
    print(json.dumps(run_stages(raw, stages)))


def measure(name: str, n: int, stages: tuple[str, ...], timeout: float) -> dict[str, float] | None:
    """Seconds per stage in a fresh process, or None when it did not finish within `timeout`."""
    cmd = [sys.executable, __file__, "--worker", name, str(n), ",".join(stages)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{name} {n}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(sec_per_mb: float | None) -> str:
    return "timeout" if sec_per_mb is None else f"{sec_per_mb:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="100k,1m,10m")
    p.add_argument("--inputs", default=",".join(PATHOLOGICAL))
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per (input, size) process")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]), tuple(args.worker[2].split(",")))
        return 0
    sizes = [s for s in args.sizes.split(",") if s]
    stages = tuple(s for s in args.stages.split(",") if s)
    inputs = [i for i in args.inputs.split(",") if i]
    header = "| input | " + " | ".join(f"{st} s/MB<br>{' / '.join(sizes)}" for st in stages) + " | max ratio |"
    rows = [header, "|---|" + "---:|" * (len(stages) + 1)]
    print(header, flush=True)
    worst = 0.0
    for name in inputs:
        per: dict[str, list[float | None]] = {st: [] for st in stages}
        for s in sizes:
            n = SIZES[s]
            res = measure(name, n, stages, args.timeout)
            for st in stages:
                per[st].append(None if res is None else res.get(st, 0.0) / (n / 1e6))
        # Linearity: the largest per-MB time over the smallest, ignoring times under 5 ms in total.
        ratios = []
        for st in stages:
            vals = [v for v, s in zip(per[st], sizes) if v is not None and v * SIZES[s] / 1e6 >= 0.005]
            if None in per[st]:
                ratios.append(float("inf"))
            elif len(vals) >= 2:
                ratios.append(max(vals) / min(vals))
        ratio = max(ratios) if ratios else 1.0
        worst = max(worst, ratio)
        row = f"| {name} | " + " | ".join(" / ".join(_fmt(v) for v in per[st]) for st in stages) + f" | {ratio:.1f} |"
        rows.append(row)
        print(row, flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}"
    table = "\n".join(rows)
    print(f"\nworst max/min per-MB ratio: {worst:.1f} ({machine})")
    if not args.no_readme and README.exists():
        _write_readme(table, machine, sizes)
    return 0


def _write_readme(table: str, machine: str, sizes: list[str]) -> None:
    start, end = "<!-- text-stages:start -->", "<!-- text-stages:end -->"
    body = (f"{start}\nSeconds per MB of input for each stage at {', '.join(sizes)} "
            f"(`benchmarks/text_stages.py`; {machine}; {time.strftime('%Y-%m-%d')}). "
            "\"max ratio\" is the largest per-MB time over the smallest for that input (stage times under "
            "5 ms left out): near 1 is linear, a quadratic stage would grow ~10x per size step.\n\n"
            f"{table}\n{end}")
    text = README.read_text()
    if start in text and end in text:
        text = text[: text.index(start)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n## Text stages on pathological input (linear time)\n\n" + body + "\n"
    README.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
