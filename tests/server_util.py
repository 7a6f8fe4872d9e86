"""Start a real `qa-service serve` (gunicorn workers running waitress) on a free 127.0.0.1 port, and talk to it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn server in its own process group (so kill() reaches the master and its workers)."""

    def __init__(self, corpus: Path, models: Path, log: Path, *, token: str | None = None, workers: int = 2,
                 threads: int = 2, env: dict | None = None, slow_swap: float | None = None):
        """`slow_swap`: seconds every index swap waits (tests/slow_swap.py) to widen the window before it."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        full_env = dict(os.environ, PYTHONPATH=str(ROOT), QA_CORPUS_DIR=str(corpus), QA_MODELS_DIR=str(models),
                        **(env or {}))
        full_env.pop("QA_ADMIN_TOKEN", None)
        if token:
            full_env["QA_ADMIN_TOKEN"] = token
        entry = ["-m", "qa_service.cli"]
        if slow_swap:
            entry = [str(ROOT / "tests" / "slow_swap.py")]
            full_env["QA_TEST_SLOW_SWAP_SECONDS"] = str(slow_swap)
        self._logfh = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *entry, "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--threads", str(threads)],
            env=full_env, stdout=self._logfh, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(ROOT))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/api/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready:\n{self.log.read_text()[-3000:]}")

    def request(self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 30.0):
        """(status, parsed JSON or None, headers) over a new connection."""
        data = None
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None), resp.headers
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, (json.loads(raw) if raw else None), err.headers

    def pids(self, marker: str) -> set[str]:
        """Worker pids of the access-log lines whose request line holds `marker`."""
        import re

        pids = set()
        for line in self.log.read_text(errors="replace").splitlines():
            if marker in line:
                m = re.search(r"pid=<?(\d+)", line)
                if m:
                    pids.add(m.group(1))
        return pids

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        self.proc.wait(30)
        self._logfh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        else:
            self._logfh.close()
