"""Which PDF library gives cleaner case-report text: pypdf or pdfminer.six (issue 10 item 4).

    python benchmarks/pdf_extract.py [--reports 6]

Each report (the shipped one, then ADA case reports) is rendered to PDF two ways: one and two text
columns by tests/pdfgen.py (Helvetica, positioned lines), and two columns by headless Chromium's
print-to-PDF of the report as HTML with CSS columns (embedded subset fonts, as real journal PDFs
have; skipped when `chromium` is missing). Each PDF's text is extracted by both libraries and then
goes through the service's own cleaning, sectioning and sentence splitting (corpus.build_document).
Sentence recall = the share of the source report's sentences found intact (the same words in the same
order, case and punctuation ignored) in the cleaned extracted text. pdfminer.six is not a
dependency: `pip install pdfminer.six` to run this.
"""
from __future__ import annotations

import argparse
import html
import io
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from pdfgen import make_pdf, report_paragraphs  # noqa: E402
from qa_service.corpus.store import build_document  # noqa: E402
from qa_service.clinical.rarity import is_word  # noqa: E402

ADA = ROOT.parent / "shared" / "data" / "ada_case_reports" / "case_reports.jsonl"
_WORDS = re.compile(r"[^\W_]+")


def norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def sentences(text: str) -> list[str]:
    doc = build_document("r", text, is_word=is_word)
    return [norm(doc.text[s.start:s.end]) for s in doc.sentences if len(norm(doc.text[s.start:s.end])) > 20]


def recall(source: str, extracted: str) -> float:
    want = sentences(source)
    got = norm(build_document("x", extracted, is_word=is_word).text)
    return sum(s in got for s in want) / max(len(want), 1)


def by_pypdf(data: bytes) -> str:
    from qa_service.corpus.pdf import pdf_text

    return pdf_text(data).text


def by_pdfminer(data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


def chromium_pdf(paragraphs: list[str], title: str, work: Path) -> bytes | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return None
    body = "\n".join(f"<h2>{html.escape(p)}</h2>" if len(p) < 40 and not p.endswith(".") else f"<p>{html.escape(p)}</p>"
                     for p in paragraphs)
    page = work / "report.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
                    "<style>body{font:10pt 'DejaVu Serif',serif;column-count:2;column-gap:2em;text-align:justify;"
                    f"hyphens:auto}}h2{{font-size:11pt}}</style><body lang=en>{body}", encoding="utf-8")
    out = work / "report.pdf"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", page.as_uri()], capture_output=True, timeout=120)
    return out.read_bytes() if out.exists() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=6, help="the shipped report plus this many - 1 ADA reports")
    args = ap.parse_args(argv)
    reports = [("shipped", (ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt").read_text(encoding="utf-8"))]
    if ADA.exists():
        for line in ADA.read_text(encoding="utf-8").splitlines()[: args.reports - 1]:
            row = json.loads(line)
            reports.append((row["id"][-30:], row["text"]))
    results: dict[tuple[str, str], list[float]] = {}
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in reports:
            paras = report_paragraphs(text)
            pdfs = {"pdfgen 1 column": make_pdf(paras, 1), "pdfgen 2 columns": make_pdf(paras, 2)}
            chrome = chromium_pdf(paras, name, Path(tmp))
            if chrome:
                pdfs["chromium 2 columns"] = chrome
            for layout, data in pdfs.items():
                for lib, fn in (("pypdf", by_pypdf), ("pdfminer.six", by_pdfminer)):
                    t0 = time.perf_counter()
                    extracted = fn(data)
                    times.setdefault(lib, []).append(time.perf_counter() - t0)
                    results.setdefault((layout, lib), []).append(recall(text, extracted))
    print(f"{len(reports)} reports; sentence recall (mean, min) after the service's cleaning\n")
    print("| PDF | pypdf | pdfminer.six |\n|---|---:|---:|")
    for layout in dict.fromkeys(k[0] for k in results):
        cells = [f"{statistics.mean(results[(layout, lib)]):.3f} (min {min(results[(layout, lib)]):.3f})"
                 for lib in ("pypdf", "pdfminer.six")]
        print(f"| {layout} | " + " | ".join(cells) + " |")
    print("| extraction time per PDF, median | " + " | ".join(
        f"{statistics.median(times[lib]) * 1000:.0f} ms" for lib in ("pypdf", "pdfminer.six")) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
