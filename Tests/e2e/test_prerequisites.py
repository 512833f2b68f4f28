"""The prerequisite helpers themselves: a missing prerequisite skips a test locally and FAILS it with
CI=true (where `make deps` installs everything, so a skip would be a green test that checked nothing).
Run in a child pytest on a throw-away test file, once per environment."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

PROBE = '''
from e2e_require import require, require_module, require_executable

def test_require():
    require(False, "probe: missing thing")

def test_module():
    require_module("no_such_module_for_the_probe")

def test_executable():
    require_executable("/nonexistent/probe-binary")

def test_present():
    assert require(True, "present") and require_module("os")
'''


@pytest.mark.parametrize("ci,expect", [("", "1 passed, 3 skipped"), ("true", "3 failed, 1 passed")])
def test_missing_prerequisite_skips_locally_fails_in_ci(tmp_path, ci, expect):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = dict(os.environ, CI=ci, PYTHONPATH=str(HERE))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                        str(tmp_path / "test_probe.py")], env=env, capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert expect in p.stdout, p.stdout + p.stderr
