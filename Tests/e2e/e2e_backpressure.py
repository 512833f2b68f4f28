"""Backpressure measurements after a known amount of data moved.

A slow-reader test that sleeps and then reads the gateway's RSS passes trivially when the flood has
not started yet. `wait_writer_stalled` instead waits until the flooding process has written a known
number of bytes (/proc/PID/io wchar) and then blocks: everything between it and the client that does
not read is full, and only then is memory measured."""
import time
from pathlib import Path

import pytest

from e2e_util import descendant_pids, proc_state


def written_bytes(pid):
    """Bytes the process has passed to write(2) and friends (/proc/PID/io wchar); None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def find_descendant(pid, needle: str):
    """A live descendant of pid whose command line contains `needle`, or None."""
    for d in descendant_pids(pid):
        try:
            if needle.encode() in Path(f"/proc/{d}/cmdline").read_bytes() and proc_state(d) not in (None, "Z"):
                return d
        except OSError:
            pass
    return None


def wait_writer_stalled(root_pid, needle: str, at_least: int, timeout=30.0, quiet=0.5):
    """For backpressure tests: waits until the flooding process (a descendant of root_pid whose command
    line contains `needle`) has written at least `at_least` bytes and then nothing for `quiet` seconds
    - blocked on a full pipe, i.e. everything between it and the client that does not read is full.
    Measuring memory only then, after a known amount of data moved, keeps the test from passing
    because the flood had not started yet. Returns the bytes it wrote; fails the test when it never
    started, or never stalled (something in between keeps reading without bound)."""
    deadline = time.monotonic() + timeout
    writer, last, since = None, -1, time.monotonic()
    while time.monotonic() < deadline:
        writer = writer or find_descendant(root_pid, needle)
        n = written_bytes(writer) if writer else None
        if writer and n is None:
            pytest.fail(f"{needle} (pid {writer}) exited after writing {last} bytes: nothing held it back")
        if n is not None and n != last:
            last, since = n, time.monotonic()
        elif n is not None and n >= at_least and time.monotonic() - since >= quiet:
            return n
        time.sleep(0.05)
    if writer is None:
        pytest.fail(f"no process matching {needle!r} under pid {root_pid} within {timeout} s")
    pytest.fail(f"{needle} never stalled within {timeout} s: {last} bytes written "
                f"(needed {at_least}, then {quiet} s without a write)")
