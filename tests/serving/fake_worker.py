"""A stand-in for a router worker, for the supervisor's tests: ``python fake_worker.py
MODE_FILE REPORT_FD``. It behaves as the file says when it starts (so a test can change
what the next worker does): ``serve`` reports ready and exits 0 on SIGTERM, ``fail``
reports a startup failure and exits 3, ``stubborn`` reports ready and ignores SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import time

REASON = "no database"


def main(mode_file: str, report_fd: str) -> int:
    with open(mode_file) as file:
        mode = file.read().strip()
    report = int(report_fd)
    if mode == "fail":
        os.write(report, f"failed: {REASON}\n".encode())
        return 3
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.write(report, b"ready\n")
    os.close(report)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
