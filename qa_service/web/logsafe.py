"""Log lines that a client cannot forge: control characters in logged text are escaped.

A URL such as `/api/x%0A127.0.0.1 "GET /admin HTTP/1.1" 200` decodes to a path with a newline;
logged as is, it would start a second, fake line. Every C0/C1 control character (and the Unicode
line/paragraph separators) becomes a visible `\\xNN` / `\\uNNNN` escape instead.
"""
from __future__ import annotations

import logging
import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_QUOTED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\"\\\\]")


def _esc(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 256 else f"\\u{c:04x}"


def escape_controls(text: str) -> str:
    """`text` with control characters escaped (one log record stays one line)."""
    return _UNSAFE.sub(_esc, text)


def escape_field(text: str) -> str:
    """For a quoted access-log field: control characters, `"` and `\\` escaped (unambiguous)."""
    return _UNSAFE_QUOTED.sub(_esc, text)


class SafeFormatter(logging.Formatter):
    """A Formatter that escapes control characters in the message (tracebacks keep their lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure(level: int = logging.INFO, fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
