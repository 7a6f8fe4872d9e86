"""HTTP front end: waitress inside each gunicorn worker process.

gunicorn stays the process manager (it binds the socket, forks N workers after the index is
prepared, restarts a dead worker, handles signals); each worker runs waitress on the shared
listening socket instead of gunicorn's gthread loop. waitress reads a whole request (request line,
headers and body) in its asyncore loop before it hands it to one of its N threads, so a client that
sends half a header and waits holds a socket, never a thread. Slow reads are timed out:
a connection silent for `read_timeout` seconds is closed, and a header still incomplete
`read_timeout` seconds after its first byte (a client dripping bytes) is answered 408.

Errors the server answers before the app sees the request (malformed request line or headers, a
request line longer than MAX_REQUEST_LINE → 414, headers over MAX_HEADER_BYTES → 431, a bad chunk
size, a body over the limit → 413, a slow header → 408) are JSON like the API's own errors, with
the same security headers; waitress's defaults are text/plain.
"""
from __future__ import annotations

import json
import logging
import os
import time

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import Error, find_double_newline

from .logsafe import escape_field

# The request line ("GET /path?query HTTP/1.1") at most this long, else 414.
MAX_REQUEST_LINE = 8192
# Request line + headers at most this long, else 431.
MAX_HEADER_BYTES = 32 * 1024
# Open connections per worker process (beyond it waitress stops accepting until some close).
CONNECTION_LIMIT = 500

SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)

ERROR_CODES = {400: "bad_request", 408: "request_timeout", 413: "payload_too_large", 414: "uri_too_long",
               431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}

access_log = logging.getLogger("qa_service.access")


class UriTooLong(Error):
    code = 414
    reason = "URI Too Long"


class RequestTimeout(Error):
    code = 408
    reason = "Request Timeout"


class GuardedParser(HTTPRequestParser):
    """waitress's parser plus a request-line limit (414) and a deadline for the whole header (408)."""

    header_deadline = 15.0
    started: float | None = None

    def received(self, data: bytes) -> int:
        if not self.completed and self.body_rcv is None and self.error is None:
            now = time.monotonic()
            if self.started is None:
                self.started = now
            head = (self.header_plus + data).lstrip(b"\r\n")
            nl = head.find(b"\n")
            if (nl if nl >= 0 else len(head)) > MAX_REQUEST_LINE:
                return self._refuse(UriTooLong(f"the request line is longer than {MAX_REQUEST_LINE} bytes"), data)
            if now - self.started > self.header_deadline and find_double_newline(head) < 0:
                return self._refuse(RequestTimeout(f"the request header took longer than "
                                                   f"{self.header_deadline:.0f} s to arrive"), data)
        return super().received(data)

    def _refuse(self, error: Error, data: bytes) -> int:
        self.parse_header(b"GET / HTTP/1.0\r\n")
        self.error = error
        self.completed = True
        return len(data)


class JsonErrorTask(ErrorTask):
    """waitress's error response as JSON {"error": {"code", "message"}}, with the security headers."""

    def execute(self):
        e = self.request.error
        code = int(getattr(e, "code", 500))
        message = str(getattr(e, "body", "") or getattr(e, "reason", "error"))
        if code >= 500:
            message = "the server failed to handle this request"  # never a traceback
        body = json.dumps({"error": {"code": ERROR_CODES.get(code, "bad_request"), "message": message}}).encode()
        self.status = f"{code} {e.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                      *SECURITY_HEADERS])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        _log_access(self.channel.addr[0] if self.channel.addr else "-", "-", code, len(body), 0.0)


class GuardedChannel(HTTPChannel):
    parser_class = GuardedParser
    error_task_class = JsonErrorTask


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel


def _log_access(host: str, request_line: str, status, size: int, ms: float) -> None:
    access_log.info('%s "%s" %s %d pid=%d %.1fms', host, request_line, status, size, os.getpid(), ms)


class AccessLog:
    """WSGI middleware: one access-log line per response, request line escaped (no forged lines).
    Format: host "METHOD URI PROTOCOL" status bytes pid=N milliseconds."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()
        status = ["-"]

        def _start(s, headers, exc_info=None):
            status[0] = s.split(" ", 1)[0]
            return start_response(s, headers, exc_info)

        line = escape_field(f"{environ.get('REQUEST_METHOD', '-')} {environ.get('REQUEST_URI') or environ.get('PATH_INFO', '')}"
                            f" {environ.get('SERVER_PROTOCOL', '-')}")
        host = environ.get("REMOTE_ADDR", "-")
        return _Logged(self.app(environ, _start), lambda size: _log_access(
            host, line, status[0], size, (time.perf_counter() - t0) * 1000))


class _Logged:
    def __init__(self, body, done):
        self.body, self.done, self.size = body, done, 0

    def __iter__(self):
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.size)


def adjustments(threads: int, read_timeout: float, max_body_bytes: int) -> Adjustments:
    return Adjustments(
        threads=threads, ident="casebook-qa", asyncore_use_poll=True, connection_limit=CONNECTION_LIMIT,
        channel_timeout=max(1, int(read_timeout)), cleanup_interval=max(1, min(5, int(read_timeout) // 3)),
        max_request_header_size=MAX_HEADER_BYTES,
        # the app answers 413 itself below its own limit; this only stops a huge body being buffered
        max_request_body_size=max_body_bytes + 64 * 1024,
        expose_tracebacks=False, log_socket_errors=False)


def make_servers(app, sockets, adj: Adjustments, read_timeout: float):
    """waitress servers on already-bound listening sockets, sharing one socket map and thread pool."""
    GuardedParser.header_deadline = read_timeout
    socket_map: dict = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    servers = [GuardedServer(AccessLog(app), socket_map, True, sock, dispatcher=dispatcher, adj=adj,
                             bind_socket=False, sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
               for sock in sockets]
    return servers, socket_map, dispatcher


class WaitressWorker(Worker):
    """A gunicorn worker that serves with waitress (see the module docstring). `options` is set by
    server.serve before gunicorn forks: {"read_timeout": s, "max_body_bytes": n}."""

    options: dict = {"read_timeout": 15.0, "max_body_bytes": 2 * 1024 * 1024}

    def run(self):
        opts = self.options
        adj = adjustments(self.cfg.threads, opts["read_timeout"], opts["max_body_bytes"])
        servers, socket_map, dispatcher = make_servers(self.wsgi, [s.sock for s in self.sockets], adj,
                                                       opts["read_timeout"])
        self.log.info("waitress in worker %s: %d threads, read timeout %.0f s", self.pid, adj.threads,
                      opts["read_timeout"])
        last_notify = 0.0
        try:
            while self.alive:
                now = time.monotonic()
                if now - last_notify >= 1.0:
                    self.notify()
                    last_notify = now
                    if self.ppid != os.getppid():
                        self.log.info("Parent changed, shutting down: %s", self)
                        break
                wasyncore.loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
            # Graceful stop: accept nothing new, finish what was read, then stop the threads.
            for srv in servers:
                srv.accepting = False
            deadline = time.monotonic() + min(10.0, self.cfg.graceful_timeout)
            while time.monotonic() < deadline and any(
                    getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0)
                    for ch in list(socket_map.values())):
                self.notify()
                wasyncore.loop(timeout=0.2, map=socket_map, use_poll=True, count=1)
        finally:
            dispatcher.shutdown(cancel_pending=True, timeout=5)
