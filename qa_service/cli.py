"""Command line: `qa-service index|serve|eval|ask` and `qa-ask`. Thin: the logic lives in the modules."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        corpus_dir=Path(args.corpus) if getattr(args, "corpus", None) else None,
        models_dir=Path(args.models) if getattr(args, "models", None) else None,
        jsonl_files=tuple(Path(p) for p in args.jsonl) if getattr(args, "jsonl", None) else None,
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="folder of .txt reports (env QA_CORPUS_DIR, default corpus/)")
    p.add_argument("--models", help="folder for the index (env QA_MODELS_DIR, default models/)")
    p.add_argument("--jsonl", action="append", help="JSONL file of reports {id, title?, text|sections}; repeatable")


def _progress(items):
    from tqdm import tqdm

    return tqdm(items, desc="reports", unit="doc", file=sys.stderr, disable=len(items) < 50)


def cmd_index(args) -> int:
    from .service import build, writer_lock

    settings = _settings(args)
    if args.merge:
        return _merge(settings)
    with writer_lock(settings):  # never at the same time as a running server's ingest
        rep = build(settings, progress=_progress)
    for e in rep.errors:
        print(f"skipped: {e}", file=sys.stderr)
    meta = rep.index.meta
    print(f"indexed {meta['n_docs']} reports, {meta['n_sentences']} sentences, {meta['n_terms']} terms "
          f"in {rep.seconds:.1f} s")
    if rep.errors:
        print(f"failed reports: {len(rep.errors)} (not indexed)")
        for e in rep.errors:
            print(f"  {e.doc_id or '-'}\t{e.source}\t{e.message}")
    return 0 if rep.index.docs else 1


def _merge(settings: Settings) -> int:
    """Fold the delta segment into a new main segment without reading any report again (the result
    is what a full build gives); a full build when the index does not match the corpus."""
    from . import live
    from .service import load_or_build

    rep = load_or_build(settings)
    segs = rep.segments
    if rep.rebuilt or segs is None or segs.delta is None:
        print(f"{'rebuilt' if rep.rebuilt else 'no delta to merge;'} {len(rep.index.docs)} reports")
        return 0 if rep.index.docs else 1
    merged = live.merge(settings, segs)
    if merged is None:
        print("another merge or build is running; nothing done", file=sys.stderr)
        return 1
    print(f"merged {len(segs.delta.docs)} added and {len(segs.deleted)} deleted reports into "
          f"{merged.main_name} ({len(merged.view.docs)} reports)")
    return 0


def _answerer(args):
    from .service import load_or_build, make_answerer

    settings = _settings(args)
    rep = load_or_build(settings)
    for e in rep.errors:
        print(f"skipped: {e}", file=sys.stderr)
    return make_answerer(rep.index, settings), settings


def cmd_eval(args) -> int:
    from .evaluate import evaluate, read_questions

    answerer, _ = _answerer(args)
    questions = read_questions(Path(args.questions))
    unanswerable = read_questions(Path(args.unanswerable)) if args.unanswerable else []
    rep = evaluate(answerer, questions, unanswerable)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(rep.summary())
        if args.verbose:
            for m in rep.misses:
                print(json.dumps(m, ensure_ascii=False))
    return 0


def _print_answers(result: dict) -> None:
    print(f"Q: {result['question']}")
    if not result["answers"]:
        print(f"   {result.get('message')}")
    for i, a in enumerate(result["answers"], 1):
        print(f"\n{i}. [{a['section']}] score {a['score']:.2f} — {a['document_title']}")
        print(f"   {a['text']}")
        print(f"   ({a['document_id']}, chars {a['start']}–{a['end']})")


def cmd_ask(args) -> int:
    from .qa import UnknownDocument

    answerer, settings = _answerer(args)
    question = " ".join(args.question).strip()
    if not question:
        print("error: the question is empty", file=sys.stderr)
        return 2
    if len(question) > settings.max_question_chars:
        print(f"error: the question is longer than {settings.max_question_chars} characters", file=sys.stderr)
        return 2
    try:
        result = answerer.ask(question, top_k=args.top_k, document_id=args.document).to_dict()
    except UnknownDocument:
        print(f"error: no document with id {args.document!r}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print_answers(result)
    return 0


def cmd_serve(args) -> int:
    from .server import serve

    return serve(_settings(args), host=args.host, port=args.port, dev=args.dev,
                 workers=args.workers, threads=args.threads)


def _ask_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", nargs="+", help="the question, in plain English")
    p.add_argument("--top-k", type=int, default=3, choices=range(1, 21), metavar="N", help="answers to show (1-20)")
    p.add_argument("--document", help="restrict to one document id")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    _common(p)


def main(argv: list[str] | None = None) -> int:
    from .logsafe import configure

    configure(logging.INFO)  # control characters in logged text are escaped
    parser = argparse.ArgumentParser(prog="qa-service", description="Question answering over clinical case reports.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("index", help="build the index from the corpus into models/")
    _common(p)
    p.add_argument("--merge", action="store_true",
                   help="only merge the reports ingested since the last build into the main index (no report "
                        "is read again); builds when the index does not match the corpus")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("serve", help="serve the web page and JSON API")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("eval", help="evaluate on a question file")
    p.add_argument("questions")
    p.add_argument("--unanswerable")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    _common(p)
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("ask", help="ask one question")
    _ask_parser(p)
    p.set_defaults(func=cmd_ask)
    args = parser.parse_args(argv)
    return args.func(args)


def ask_main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="qa-ask", description="Ask the case reports a question.")
    _ask_parser(parser)
    return cmd_ask(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
