"""Load test: start a real server (`qa-service serve`: gunicorn workers running waitress) on 127.0.0.1 and measure POST /api/ask.

For each concurrency level (default 1, 8, 64 client threads, each with its own keep-alive
http.client connection) it runs until --requests requests or --seconds seconds, whichever comes
first, and reports throughput, p50/p90/p99/max latency and errors (non-200 responses, connection
failures). Everything is bounded; the server is started on a free port and stopped at the end.

    python benchmarks/load.py                                  # the shipped report
    python benchmarks/load.py --jsonl ../shared/data/ada_case_reports/case_reports.jsonl
    python benchmarks/load.py --out benchmarks/load-results.md
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
FALLBACK_QUESTIONS = [
    "Which antibodies were positive?", "What did the renal biopsy confirm?", "What did the chest radiograph show?",
    "How was the calcinosis treated?", "What age was the woman when she presented?", "Was a colonoscopy performed?",
]


def questions() -> list[str]:
    if DEV_QUESTIONS.exists():
        qs = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text().splitlines() if line.strip()]
        if qs:
            return qs
    return FALLBACK_QUESTIONS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Client(threading.Thread):
    def __init__(self, port: int, qs: list[str], offset: int, budget: "Budget"):
        super().__init__(daemon=True)
        self.port, self.qs, self.i, self.budget = port, qs, offset, budget
        self.latencies: list[float] = []
        self.errors = 0
        self.reasons: collections.Counter = collections.Counter()
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        while self.budget.take():
            body = json.dumps({"question": self.qs[self.i % len(self.qs)], "top_k": 3})
            self.i += 1
            t0 = time.perf_counter()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                ok = resp.status == 200 and b'"answers"' in data
                if not ok:
                    self.reasons[f"HTTP {resp.status}"] += 1
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
            except (OSError, http.client.HTTPException) as exc:
                ok = False
                self.reasons[type(exc).__name__] += 1
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            if ok:
                self.latencies.append(time.perf_counter() - t0)
            else:
                self.errors += 1
        if self.conn is not None:
            self.conn.close()


class Budget:
    """At most `n` requests and `seconds` of wall time, shared by the client threads."""

    def __init__(self, n: int, seconds: float):
        self.left, self.deadline, self.lock = n, time.monotonic() + seconds, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values))) - 1))
    return sorted_values[k]


def run_level(port: int, qs: list[str], clients: int, n: int, seconds: float) -> dict:
    budget = Budget(n, seconds)
    threads = [Client(port, qs, i * 7, budget) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - t0
    lat = sorted(x for t in threads for x in t.latencies)
    errors = sum(t.errors for t in threads)
    reasons = sum((t.reasons for t in threads), collections.Counter())
    return {"clients": clients, "requests": len(lat) + errors, "ok": len(lat), "errors": errors,
            "error_kinds": dict(reasons),
            "seconds": elapsed, "rps": len(lat) / elapsed if elapsed else 0.0,
            "p50": pct(lat, 50) * 1000, "p90": pct(lat, 90) * 1000, "p99": pct(lat, 99) * 1000,
            "max": (lat[-1] * 1000) if lat else float("nan"),
            "mean": statistics.fmean(lat) * 1000 if lat else float("nan")}


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not become ready")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT / "corpus"), help="folder of .txt reports (copied to a temp dir)")
    ap.add_argument("--jsonl", action="append", default=[], help="JSONL reports to add (repeatable)")
    ap.add_argument("--concurrency", default="1,8,64")
    ap.add_argument("--requests", type=int, default=3000, help="at most this many requests per level")
    ap.add_argument("--seconds", type=float, default=20.0, help="at most this long per level")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c]
    qs = questions()

    tmp = Path(tempfile.mkdtemp(prefix="qa-load-"))
    corpus = tmp / "corpus"
    shutil.copytree(args.corpus, corpus)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), QA_CORPUS_DIR=str(corpus), QA_MODELS_DIR=str(tmp / "models"))
    env.pop("QA_ADMIN_TOKEN", None)
    if args.jsonl:  # into the temp corpus, as a user would
        subprocess.run([sys.executable, "-m", "qa_service.cli", "import", "--no-index",
                        *(str(Path(j).resolve()) for j in args.jsonl)], env=env, check=True, cwd=str(ROOT))
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "qa_service.cli", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", str(args.workers), "--threads", str(args.threads)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(ROOT))
    rows = []
    try:
        health = wait_ready(f"http://127.0.0.1:{port}", proc)
        run_level(port, qs, 4, args.warmup, 30)  # warm-up, not reported
        for c in levels:
            row = run_level(port, qs, c, args.requests, args.seconds)
            rows.append(row)
            print(f"clients={c}: {row['ok']} ok, {row['errors']} errors {row['error_kinds'] or ''}, {row['rps']:.0f} req/s, "
                  f"p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms", file=sys.stderr)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        f"Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}.",
        f"Server: gunicorn + waitress workers, {args.workers} workers x {args.threads} threads, on 127.0.0.1; "
        f"corpus {health['documents']} reports, {health['passages']} passages; {len(qs)} questions in rotation, "
        f"POST /api/ask top_k=3. Each level: at most {args.requests} requests or {args.seconds:.0f} s; "
        "clients are threads of one Python process on the same machine, each with a keep-alive connection.",
        "",
        "| clients | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.1f} | "
                     f"{r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
