"""Ingest latency: adding or deleting one report until every gunicorn worker serves the change.

    .venv/bin/python benchmarks/ingest.py [--sizes 1k,10k,100k] [--trials 5] [--workdir /tmp/casebook-bench]

For each size, the main index is built once (`qa-service index --jsonl CORPUS`, a fresh process;
its wall time is the "full rebuild" column: what every ingest cost before incremental ingest, plus
start-up), then a real server starts (`qa-service serve`: gunicorn, 2 workers x 4 threads running
waitress, tests/server_util.Server) with QA_ENCODERS=wl (MiniLM costs ~2 s per report by itself; see
the README) and the corpus as QA_JSONL. Each trial:

  add     POST /api/documents {id, text} (a PubMedQA abstract, a report the corpus does not hold);
          from the moment the request is sent, POST /api/ask {question, document_id: <id>} is probed
          on fresh connections until each of the two workers (told apart by the pid in the access
          log) has answered 200 (404 unknown_document while a worker does not have the report).
  delete  DELETE /api/documents/<id> of that report, then probes until each worker answered 404.

"visible on all" = time from sending the write until the later of the two workers' first probe
that shows the change; "write" = the write request's own time (it returns after the change is
stored, indexed, switched and one reload interval has passed, so any later request sees it);
"stale" counts probes sent after the write had returned that still showed the old state (must be
0). The delta is not merged during the trials (QA_MERGE_MIN_DOCS high); afterwards the merge of the
trials' delta into the main segment is timed in a fresh process (`live.merge`).

Corpora as in benchmarks/scale.py (`prepare`): 1k = the first 1,000 e3c rows, 10k = all 10,034 e3c
rows, 100k = 100,000 synthetic documents of e3c sentences. Derived files go to --workdir.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale import E3C, machine, prepare  # noqa: E402
from server_util import Server  # noqa: E402

PUBMEDQA = E3C.parents[1] / "pubmedqa" / "corpus.jsonl"
TOKEN = "benchmark-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
README = Path(__file__).resolve().parent / "README.md"
PROBE_QUESTION = "What was the conclusion of the study?"


def _new_reports(n: int) -> list[tuple[str, str]]:
    from qa_service.corpus.store import jsonl_text

    out = []
    with PUBMEDQA.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append((f"bench-{row['id']}", jsonl_text(row)))
            if len(out) == n:
                break
    return out


def _probe_until_both(server: Server, path: str, want: int, tag: str, t0: float, t_written: list,
                      timeout: float = 600.0, threads: int = 3) -> list[tuple[int, float, float, int]]:
    """Probe from `threads` concurrent clients (so that both workers keep getting requests; one
    client's requests tend to land on the same idle worker) until, after the write returned, both
    workers (pids in the access log) have answered `want`; (probe n, sent, answered, status) with
    times in seconds since t0."""
    probes: list[tuple[int, float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    counter = iter(range(1, 10 ** 9))
    body = {"question": PROBE_QUESTION, "top_k": 1, "document_id": path.rsplit("/", 1)[-1]}

    def client() -> None:
        while not stop.is_set():
            with lock:
                n = next(counter)
            sent = time.perf_counter() - t0
            status = server.request("POST", f"/api/ask?probe={tag}-{n}", body, timeout=120)[0]
            with lock:
                probes.append((n, sent, time.perf_counter() - t0, status))

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            time.sleep(0.05)
            if t_written and len(_pids_answering(server, tag, want)) >= 2:
                return sorted(probes)
        raise TimeoutError(f"{path}: not {want} on both workers after {timeout} s")
    finally:
        stop.set()
        for w in workers:
            w.join(130)


def _log_lines(server: Server, tag: str) -> dict[int, str]:
    """probe n -> worker pid, from the access log."""
    out = {}
    for line in server.log.read_text(errors="replace").splitlines():
        m = re.search(rf"probe={re.escape(tag)}-(\d+)\b.*?pid=<?(\d+)", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def _pids_answering(server: Server, tag: str, want: int) -> set[str]:
    pids = set()
    for line in server.log.read_text(errors="replace").splitlines():
        m = re.search(rf"probe={re.escape(tag)}-\d+\b\S* \S+\" (\d+) .*?pid=<?(\d+)", line)
        if m and int(m.group(1)) == want:
            pids.add(m.group(2))
    return pids


def _trial(server: Server, method: str, path: str, body, want: int, tag: str) -> dict:
    """One write and its probes: write seconds, visible-on-all seconds, stale probes."""
    t_written: list[float] = []
    result: dict = {}

    def write():
        status = server.request(method, path if method == "DELETE" else "/api/documents", body, AUTH,
                                timeout=600)[0]
        t_written.append(time.perf_counter() - t0)
        result["status"] = status

    doc_path = path if method == "DELETE" else f"/api/documents/{body['id']}"
    t0 = time.perf_counter()
    writer = threading.Thread(target=write)
    writer.start()
    probes = _probe_until_both(server, doc_path, want, tag, t0, t_written)
    writer.join()
    time.sleep(0.3)  # the access log is written after the response
    pid_of = _log_lines(server, tag)
    first: dict[str, float] = {}
    stale = 0
    for n, sent, done, status in sorted(probes, key=lambda x: x[2]):
        pid = pid_of.get(n)
        if status == want and pid and pid not in first:
            first[pid] = done
        if status != want and sent > t_written[0]:  # sent after the write returned, yet the old state
            stale += 1
    if result.get("status") not in (200, 201):
        raise RuntimeError(f"{method} {path} answered {result.get('status')}")
    return {"write_s": t_written[0], "visible_s": max(first.values()), "workers": len(first), "stale": stale}


def bench_size(size: str, workdir: Path, trials: int, log) -> dict:
    spec = prepare(size, workdir, 10)
    base = workdir / f"ingest-{size}"
    corpus, models = base / "corpus", base / "models"
    if base.exists():
        subprocess.run(["rm", "-rf", str(base)], check=True)
    corpus.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QA_ENCODERS="wl", QA_JSONL=spec["corpus"],
               QA_CORPUS_DIR=str(corpus), QA_MODELS_DIR=str(models), TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "qa_service.cli", "index"], env=env, capture_output=True, text=True)
    build_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    line = [x for x in proc.stdout.splitlines() if x.startswith("indexed")]
    log(f"{size}: {line[0] if line else ''} (wall {build_s:.1f} s)")
    counts = re.search(r"indexed (\d+) reports, (\d+) sentences", line[0] if line else "")
    server = Server(corpus, models, base / "server.log", token=TOKEN, workers=2, threads=4,
                    env={"QA_ENCODERS": "wl", "QA_JSONL": spec["corpus"], "QA_MERGE_MIN_DOCS": "100000",
                         "QA_MERGE_MAX_DOCS": "100000", "TOKENIZERS_PARALLELISM": "false"})
    adds, deletes = [], []
    try:
        t0 = time.perf_counter()
        server.wait_ready(timeout=1800)
        start_s = time.perf_counter() - t0
        for i in range(20):  # warm both workers (first requests load spaCy's tokenizer etc.)
            server.request("POST", "/api/ask", {"question": "What was the diagnosis?"})
        for k, (doc_id, text) in enumerate(_new_reports(trials)):
            adds.append(_trial(server, "POST", "/api/documents", {"id": doc_id, "text": text}, 200, f"a{k}"))
            log(f"{size} add {k}: {adds[-1]}")
            deletes.append(_trial(server, "DELETE", f"/api/documents/{doc_id}", None, 404, f"d{k}"))
            log(f"{size} delete {k}: {deletes[-1]}")
        # Leave `trials` reports in the delta for the merge timing.
        for doc_id, text in _new_reports(trials):
            server.request("POST", "/api/documents", {"id": doc_id, "text": text}, AUTH, timeout=600)
    finally:
        server.stop()
    merge = subprocess.run([sys.executable, "-c", (
        "import sys, time, json\n"
        "from qa_service.config import Settings\n"
        "from qa_service.index.segments import load_segments\n"
        "from qa_service.service import live\n"
        "s = Settings.from_env()\n"
        "segs = load_segments(s.models_dir)\n"
        "t = time.perf_counter(); out = live.merge(s, segs); dt = time.perf_counter() - t\n"
        "print(json.dumps({'merge_s': dt, 'delta_docs': len(segs.delta.docs), 'ok': out is not None}))\n")],
        env=env, capture_output=True, text=True)
    merged = json.loads(merge.stdout.strip().splitlines()[-1]) if merge.returncode == 0 else {"error": merge.stderr[-500:]}
    log(f"{size} merge: {merged}")
    return {"size": size, "desc": spec["desc"], "docs": int(counts.group(1)), "sentences": int(counts.group(2)),
            "build_s": build_s, "start_s": start_s, "adds": adds, "deletes": deletes, "merge": merged}


def _stats(rows: list[dict], key: str) -> str:
    xs = [r[key] for r in rows]
    return f"{statistics.median(xs):.2f} / {max(xs):.2f}"


def markdown(results: list[dict], mach: dict, args) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {mach.get('line', '')}",
        "",
        f"`benchmarks/ingest.py --sizes {args.sizes} --trials {args.trials}`: real server, 2 gunicorn workers x 4 "
        "threads (waitress), QA_ENCODERS=wl, default reload interval; each trial adds one PubMedQA abstract, "
        "then deletes it. Times in seconds, median / max over the trials.",
        "",
        "| corpus | reports | sentences | full rebuild s (before: every ingest) | add: write | add: visible on both workers | delete: write | delete: visible on both workers | stale probes | merge of the delta s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        stale = sum(x["stale"] for x in r["adds"] + r["deletes"])
        m = r["merge"]
        merge = f"{m['merge_s']:.1f} ({m['delta_docs']} docs)" if "merge_s" in m else "error"
        lines.append(f"| {r['size']}: {r['desc']} | {r['docs']:,} | {r['sentences']:,} | {r['build_s']:.1f} | "
                     f"{_stats(r['adds'], 'write_s')} | {_stats(r['adds'], 'visible_s')} | "
                     f"{_stats(r['deletes'], 'write_s')} | {_stats(r['deletes'], 'visible_s')} | {stale} | {merge} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1k,10k,100k")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--workdir", default="/tmp/casebook-bench")
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    if ROOT in workdir.parents or workdir == ROOT:
        raise SystemExit("--workdir must be outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    load_start = os.getloadavg()[0]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    for size in args.sizes.split(","):
        results.append(bench_size(size, workdir, args.trials, log))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    mach = machine()
    mach["line"] = (f"commit {mach['commit']}; {mach['nproc']} cores ({mach['cpu']}), {mach['ram']}, Python "
                    f"{mach['python']}; load average (1 min) {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} "
                    "at the end (the cores are shared with other work)")
    text = markdown(results, mach, args)
    print(text)
    if not args.no_readme and README.exists():
        body = README.read_text()
        start, end = "<!-- ingest:begin -->", "<!-- ingest:end -->"
        if start in body and end in body:
            body = body[:body.index(start) + len(start)] + "\n" + text + "\n" + body[body.index(end):]
        else:
            body += f"\n## Incremental ingest\n\n{start}\n{text}\n{end}\n"
        README.write_text(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
