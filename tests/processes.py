"""Child processes of the test suite: started so that they always end, and found if not.

The session sets ``MARK`` in its own environment before anything starts, so every
process the suite starts — and every process those start — carries it. A process left
behind is found by that mark in ``/proc`` even after its parent has gone and it has
been re-parented, or, if it rewrote its environment (redis-server does, for its process
title), by being a child of the test process. Processes meant to outlive one test (the
session's redis-server) are registered with ``outlives_tests``; the check after each
test spares them, the check at the end of the session does not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "PYTEST_BATON_SUITE"
_lasting: set[int] = set()  # pids of processes that session fixtures started


@dataclass(frozen=True)
class Leftover:
    """A live process that the suite started and did not end."""

    pid: int
    lasting: bool
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.command}"


def mark_session(token: str) -> None:
    """Give every process started from now on the mark of this session."""
    os.environ[MARK] = token


def outlives_tests(proc: subprocess.Popen[Any]) -> None:
    """Spare ``proc`` from the check after each test (not from the one at the end)."""
    _lasting.add(proc.pid)


def end(proc: subprocess.Popen[Any], grace: float = 30.0) -> int:
    """End ``proc`` whatever its state: SIGTERM, ``grace`` seconds to exit, then SIGKILL.

    Its pipes are closed and it is reaped. Returns its exit status (a negative number is
    the signal that ended it), so a caller can still assert a clean exit."""
    _lasting.discard(proc.pid)
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return proc.returncode


@contextlib.contextmanager
def running(
    command: Sequence[str], *, grace: float = 30.0, **popen: Any
) -> Iterator[subprocess.Popen[str]]:
    """A process that is ended (see ``end``) when the block exits, however it exits."""
    proc: subprocess.Popen[str] = subprocess.Popen(command, text=True, **popen)
    try:
        yield proc
    finally:
        end(proc, grace)


def left_behind(*, lasting_too: bool) -> list[Leftover]:
    """Live processes carrying this session's mark (or children of this process). Linux
    only: elsewhere, none are found."""
    token = os.environ.get(MARK)
    found: list[Leftover] = []
    if not os.path.isdir("/proc"):
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        leftover = _ours(int(entry.name), token)
        if leftover is not None and (lasting_too or not leftover.lasting):
            found.append(leftover)
    return found


def kill(leftovers: Sequence[Leftover], wait: float = 10.0) -> None:
    """SIGKILL each process, reap those that are children of this one, and wait until
    all are gone."""
    for leftover in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leftover.pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    pending = {leftover.pid for leftover in leftovers}
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if _state(pid) in (None, "Z"):
                pending.discard(pid)
        time.sleep(0.05)


def _ours(pid: int, token: str | None) -> Leftover | None:
    state = _state(pid)
    if state is None or state == "Z":
        return None
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # gone meanwhile, or another user's
        return None
    marked = token is not None and f"{MARK}={token}".encode() in environ
    if marked or _parent(pid) == os.getpid():
        return Leftover(pid=pid, lasting=pid in _lasting, command=command.strip())
    return None


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, ...


def _state(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[0] if fields else None


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None
