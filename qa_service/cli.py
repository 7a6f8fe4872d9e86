"""Command line: `qa-service import|index|serve|eval|ask` and `qa-ask`. Thin: the logic lives in the modules."""
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
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="folder of the reports (env QA_CORPUS_DIR, default corpus/)")
    p.add_argument("--models", help="folder for the index (env QA_MODELS_DIR, default models/)")


def _progress(items, desc: str = "reports", unit: str = "report"):
    """A progress bar on stderr for long loops (hidden when stderr is not a terminal or for < 50 items)."""
    from tqdm import tqdm

    small = hasattr(items, "__len__") and len(items) < 50
    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, disable=True if small else None, mininterval=0.5)


def _print_failed(failed: list) -> None:
    if failed:
        print(f"failed reports: {len(failed)} (not indexed)")
        for e in failed:
            print(f"  {e.doc_id or '-'}\t{e.source}\t{e.message}")


def update_index(settings, force: bool = False) -> int:
    """Rebuild the index when the corpus changed since it was built (or with force); print the outcome."""
    from .service.locking import writer_lock
    from .service.build import build, failed_reports, index_is_current
    from .index.bm25 import load_index

    with writer_lock(settings):  # never at the same time as a running server's ingest
        meta = None if force else index_is_current(settings)
        if meta is not None:
            n_failed = len(meta.get("failed_reports") or [])
            print(f"index is current: {meta.get('n_docs')} reports, {meta.get('n_sentences')} sentences "
                  f"(built {meta.get('built_at', '?')}); nothing to rebuild (--force rebuilds anyway)")
            if n_failed:
                _print_failed(failed_reports(load_index(settings.models_dir)))
            return 0 if meta.get("n_docs") else 1
        print(f"indexing the reports of {settings.corpus_dir}/ ...", file=sys.stderr, flush=True)
        rep = build(settings, progress=_progress)
    meta = rep.index.meta
    print(f"indexed {meta['n_docs']} reports, {meta['n_sentences']} sentences, {meta['n_terms']} terms "
          f"in {rep.seconds:.1f} s")
    if rep.changes is not None:
        print(f"changes: {rep.changes.summary()}")
    _print_failed(rep.errors)
    return 0 if rep.index.docs else 1


def cmd_index(args) -> int:
    settings = _settings(args)
    if args.merge:
        return _merge(settings)
    return update_index(settings, force=args.force)


def cmd_import(args) -> int:
    from .service.importer import import_paths
    from .service.locking import LockTimeout

    settings = _settings(args)
    try:
        res = import_paths(settings, [Path(p) for p in args.paths], replace=args.replace,
                           progress=lambda items: _progress(items, desc="importing", unit="report"))
    except FileNotFoundError as exc:
        print(f"error: no such file or folder: {exc}", file=sys.stderr)
        return 2
    except LockTimeout as exc:
        print(f"error: {exc} (an index build or another import is running); nothing was imported", file=sys.stderr)
        return 1
    print(f"imported {res.stored} reports into {settings.corpus_dir}/ in {res.seconds:.1f} s: "
          f"{len(res.added)} new, {len(res.replaced)} replaced, {len(res.unchanged)} already there unchanged, "
          f"{len(res.duplicates)} duplicates skipped, {len(res.errors)} failed")
    if res.ignored:
        print(f"ignored {len(res.ignored)} files that are not .txt, .jsonl or .pdf "
              f"(e.g. {res.ignored[0]})")
    if res.renamed:
        print(f"ids that cannot name a file were given new ones ({len(res.renamed)}; the original is kept "
              "in the report's .meta.json):")
        for original, given in list(res.renamed.items())[:20]:
            print(f"  {original!r} -> {given}")
        if len(res.renamed) > 20:
            print(f"  ... and {len(res.renamed) - 20} more")
    if res.duplicates:
        print(f"duplicates ({len(res.duplicates)}, not imported):")
        for d in res.duplicates:
            print(f"  {d}")
    if res.errors:
        print(f"errors ({len(res.errors)}, not imported; the other reports were):")
        for e in res.errors:
            print(f"  {e}")
    code = res.exit_code
    if args.no_index:
        if res.stored:
            print("not indexed yet (--no-index): run `qa-service index`, or start the server, to index them")
        return code
    index_code = update_index(settings)
    return code or index_code


def _merge(settings: Settings) -> int:
    """Fold the delta segment into a new main segment without reading any report again (the result
    is what a full build gives); a full build when the index does not match the corpus."""
    from .service import live
    from .service.build import load_or_build

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
    from .service.build import load_or_build, make_answerer

    settings = _settings(args)
    rep = load_or_build(settings)
    if rep.rebuilt and rep.changes is not None:  # the corpus changed since the index was built: say what
        print(f"rebuilt the index ({len(rep.index.docs)} reports): {rep.changes.summary()}", file=sys.stderr)
    for e in rep.errors:
        print(f"skipped: {e}", file=sys.stderr)
    return make_answerer(rep.index, settings), settings


def cmd_eval(args) -> int:
    # The evaluation tooling lives in the checkout (evaluation/), not in the wheel: this is the one
    # import of it by the package (tests/test_architecture.py allows exactly this one).
    try:
        from evaluation.evaluate import evaluate, read_questions
    except ModuleNotFoundError as exc:
        if exc.name not in ("evaluation", "evaluation.evaluate"):
            raise
        print("qa-service eval needs the evaluation package of a casebook-qa checkout (it is not part of the "
              "installed wheel): run it from the checkout's .venv (make install) or with the checkout on PYTHONPATH",
              file=sys.stderr)
        return 2
    answerer, _ = _answerer(args)
    # Load the lazily loaded parts first (as a serving worker does), so latency is per question.
    answerer.warm_up()
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


def _bold(text: str) -> str:
    return f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text


def _print_answers(result: dict) -> None:
    print(f"Q: {result['question']}")
    followup = result.get("followup") or {}
    if followup.get("is_followup"):
        print(f"   (understood as: {result['resolved_question']})")
    if result.get("verdict"):
        print(f"   Verdict: {_bold(result['verdict'])}")
    if not result["answers"]:
        print(f"   {result.get('message')}")
    for i, a in enumerate(result["answers"], 1):
        print(f"\n{i}. [{a['section']}] score {a['score']:.2f} — {a['document_title']}")
        if a.get("span"):  # the exact short answer first, then its sentence
            print(f"   {_bold(a['span']['text'])}")
        print(f"   {a['text']}")
        if i == 1 and a.get("reason"):
            print(f"   Why: {a['reason']['text']}")
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
    from .corpus.store import resolve_doc_id

    document = resolve_doc_id(answerer.index.doc_by_id, args.document) if args.document else None
    try:
        result = answerer.ask(question, top_k=args.top_k, document_id=document).to_dict()
    except UnknownDocument:
        print(f"error: no document with id {args.document!r}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print_answers(result)
    return 0


SERVER_TIMEOUT = 0.5  # seconds to wait for a running server's health check before loading the index


def _server(url: str | None) -> str | None:
    """The base URL of a running casebook-qa server answering at `url`, or None."""
    import urllib.request

    if not url:
        return None
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(base + "/api/health", timeout=SERVER_TIMEOUT) as r:
            body = json.loads(r.read().decode("utf-8"))
        return base if body.get("status") == "ok" else None
    except (OSError, ValueError):
        return None


def _remote_ask(base: str, payload: dict) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(base + "/api/ask", data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read().decode("utf-8"))
        except ValueError:
            return e.code, {"error": {"code": "http_error", "message": f"HTTP {e.code}"}}


class Asker:
    """Asks a running server when one answers, else an index loaded in this process; keeps the
    conversation's turns for follow-up questions."""

    def __init__(self, args):
        self.args = args
        local_index = args.local or args.corpus or args.models
        self.base = None if local_index else _server(args.url)
        self.answerer = self.settings = None
        if self.base is None:
            self.answerer, self.settings = _answerer(args)
        self.turns: list[dict] = []

    def ask(self, question: str, keep: bool = False) -> tuple[int, dict]:
        """(exit status, the API's JSON or an error body)."""
        from .qa import MAX_TURNS, Turn, UnknownDocument

        history = self.turns[-MAX_TURNS:] if keep else None
        if self.base is not None:
            payload = {"question": question, "top_k": self.args.top_k}
            if self.args.document:
                payload["document_id"] = self.args.document
            if history is not None:
                payload["history"] = history
            status, body = _remote_ask(self.base, payload)
            if status != 200:
                return 2, body
        else:
            if len(question) > self.settings.max_question_chars:
                return 2, {"error": {"message": f"the question is longer than {self.settings.max_question_chars} characters"}}
            turns = None if history is None else [
                Turn(t["question"], *(t["answer"][k] for k in ("document_id", "start", "end"))) if t["answer"]
                else Turn(t["question"]) for t in history]
            try:
                body = self.answerer.ask(question, top_k=self.args.top_k, document_id=self.args.document,
                                         history=turns).to_dict()
            except UnknownDocument:
                return 2, {"error": {"message": f"no document with id {self.args.document!r}"}}
        if keep:
            top = body["answers"][0] if body.get("answers") else None
            self.turns.append({"question": question, "answer": {k: top[k] for k in ("document_id", "start", "end")}
                               if top else None})
        return 0, body


def _show(status: int, body: dict, as_json: bool) -> int:
    if status:
        print(f"error: {body.get('error', {}).get('message', 'the request failed')}", file=sys.stderr)
        return status
    if as_json:
        print(json.dumps(body, indent=1, ensure_ascii=False))
    else:
        _print_answers(body)
    return 0


def cmd_qa_ask(args) -> int:
    """qa-ask: one question, or a conversation with -i."""
    question = " ".join(args.question).strip()
    if not args.interactive and not question:
        print("error: the question is empty", file=sys.stderr)
        return 2
    asker = Asker(args)
    where = f"server {asker.base}" if asker.base else "local index"
    if not args.interactive:
        return _show(*asker.ask(question), args.json)
    print(f"casebook-qa ({where}). Ask about the case; follow-up questions keep the conversation. "
          "Empty line or Ctrl-D to quit.", file=sys.stderr)
    pending = [question] if question else []
    while True:
        if pending:
            line = pending.pop()
        else:
            try:
                line = input("? ")
            except EOFError:
                break
        line = line.strip()
        if not line or line.lower() in ("quit", "exit", ":q"):
            break
        _show(*asker.ask(line, keep=True), args.json)
        print()
    return 0


def cmd_serve(args) -> int:
    from .web.server import serve

    return serve(_settings(args), host=args.host, port=args.port, dev=args.dev,
                 workers=args.workers, threads=args.threads)


def _ask_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", nargs="+", help="the question, in plain English")
    p.add_argument("--top-k", type=int, default=3, choices=range(1, 21), metavar="N", help="answers to show (1-20)")
    p.add_argument("--document", help="restrict to one document id")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    _common(p)


def main(argv: list[str] | None = None) -> int:
    from .web.logsafe import configure

    configure(logging.INFO)  # control characters in logged text are escaped
    parser = argparse.ArgumentParser(prog="qa-service", description="Question answering over clinical case reports.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("import", help="add reports (.txt, .jsonl, .pdf files or folders of them) to the corpus",
                       description="Store each report of the files (folders: recursively) in the corpus folder "
                                   "durably, then bring the index up to date. Exit code 0 when reports were "
                                   "imported (or none failed), 1 when reports failed and none was imported, "
                                   "2 for usage errors (e.g. a path that does not exist).")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER")
    p.add_argument("--replace", action="store_true", help="overwrite reports whose id is already in the corpus")
    p.add_argument("--no-index", action="store_true", help="store only; index later (`qa-service index`)")
    _common(p)
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("index", help="bring the index in models/ up to date with the corpus (rebuilds only "
                                     "when the corpus changed)")
    p.add_argument("--force", action="store_true", help="rebuild even when the index is current")
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
    return _run(args.func, args)


def _run(func, args) -> int:
    """Run a command; a bad setting is a one-line error naming the variable, not a traceback."""
    from .config import SettingsError

    try:
        return func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


DEFAULT_URL = "http://127.0.0.1:8000"


def ask_main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(
        prog="qa-ask", description="Ask the case reports a question. Asks a running server when one answers at "
                                   "--url (no start-up wait), else loads the index in this process.")
    parser.add_argument("question", nargs="*", help="the question, in plain English (optional with -i)")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="a conversation: keep asking, follow-up questions (\"At what dose?\") use the earlier turns")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"a running server to ask (default {DEFAULT_URL})")
    parser.add_argument("--local", action="store_true", help="never ask a server: load the index in this process")
    parser.add_argument("--top-k", type=int, default=3, choices=range(1, 21), metavar="N", help="answers to show (1-20)")
    parser.add_argument("--document", help="restrict to one document id")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    _common(parser)
    return _run(cmd_qa_ask, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
