"""Test-only entry point: `python tests/slow_swap.py ARGS...` runs `qa-service ARGS...` with every
index swap (a full build's save, a delta's or a merged main's switch) delayed by
$QA_TEST_SLOW_SWAP_SECONDS, so a test can act (kill -9, ask, write) inside that window.

The delay is a replacement of `qa_service.service.build.before_swap`, made here before the command
starts; gunicorn forks its workers from this process, so they inherit it. Production settings know
nothing of it.
"""
from __future__ import annotations

import os
import sys
import time

ENV = "QA_TEST_SLOW_SWAP_SECONDS"


def install(seconds: float) -> None:
    from qa_service.service import build

    def slow_swap() -> None:
        time.sleep(seconds)

    build.before_swap = slow_swap


if __name__ == "__main__":
    install(float(os.environ.get(ENV, "0")))
    from qa_service.cli import main

    sys.exit(main(sys.argv[1:]))
