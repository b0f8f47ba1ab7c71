"""Peak resident memory of a command, measured without the test process's own size.

Linux keeps a process's peak resident size (``ru_maxrss``) across ``exec``, and a child forked from
the test runner starts with the runner's resident size as its peak: measured directly, a command
started from a pytest process that has grown to 1.1 GB would "peak" at 1.1 GB whatever it does.
So the command is started by a small launcher process (this module run with ``-m``), and the
launcher reports the peak of its own child, forked from a process of a few MB.

Usage from a test: :func:`run_with_peak`.  The launcher's command line:
``python -m tests.peak_memory REPORT_FILE COMMAND...`` (exit code: the command's).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_with_peak(command: list[str], **popen: Any) -> tuple[subprocess.Popen, int]:
    """Start ``command`` through the launcher and wait for it; the finished process (its output
    read as ``popen`` says: pass files, or read the pipes before it ends - see
    :func:`start_with_peak`) and the command's peak resident memory in bytes (its own and its
    children's, e.g. the SQLite writer process)."""
    process, report = start_with_peak(command, **popen)
    process.wait()
    return process, read_peak(report)


def start_with_peak(command: list[str], **popen: Any) -> tuple[subprocess.Popen, Path]:
    """Start ``command`` through the launcher; the process and the file its peak is written to
    when it ends (read it with :func:`read_peak` after the process has ended)."""
    handle, name = tempfile.mkstemp(prefix="peak-", suffix=".txt")
    os.close(handle)
    popen.setdefault("cwd", ROOT)
    launcher = [sys.executable, "-m", "tests.peak_memory", name, *command]
    return subprocess.Popen(launcher, **popen), Path(name)


def read_peak(report: Path) -> int:
    """The peak written by the launcher, in bytes (the file is removed)."""
    try:
        return int(report.read_text())
    finally:
        report.unlink(missing_ok=True)


def _main(report: str, command: list[str]) -> int:
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    Path(report).write_text(str(usage.ru_maxrss * 1024))  # Linux reports KiB
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2:]))
