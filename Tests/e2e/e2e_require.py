"""Prerequisites of e2e tests: one rule for all of them (seeds, built binaries, Debian tools, Python
modules). Missing, the test is skipped locally - saying why - and FAILS under CI=true, where
`make deps` and `make build` provide everything, so a skip would be a green test that checked nothing.
Never call pytest.skip/importorskip directly (test_prerequisites.py checks both behaviours)."""
import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"


def require(condition, why: str):
    """A prerequisite of the calling test: when `condition` is false the test is skipped locally
    (saying why) and FAILS under CI=true, where every prerequisite is installed (make deps) and a
    skip would let a test that cannot fail pass as green. Returns `condition`."""
    if not condition:
        if IN_CI:
            pytest.fail(f"prerequisite missing (CI=true, so this is a failure): {why}")
        pytest.skip(why)
    return condition


def require_module(name: str, why: str = ""):
    """`pytest.importorskip`, except that a missing module fails the test under CI=true."""
    try:
        return __import__(name)
    except ImportError:
        require(False, f"python module {name!r} not installed{': ' + why if why else ''} (make deps)")


def require_executable(path, hint="make build"):
    p = Path(path)
    require(p.is_file() and os.access(p, os.X_OK), f"{p} not found ({hint})")
    return p
