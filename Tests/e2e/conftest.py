"""pytest fixtures for the Switchyard end-to-end suite (see e2e_util.py)."""
import os
import signal

import pytest

import e2e_util
from e2e_util import REFERENCE, Switchyard

DEFAULT_TEST_TIMEOUT = 120  # seconds per test body; a hung socket read must not hang CI


def pytest_configure(config):
    config.addinivalue_line("markers", "switchyard_only: Switchyard-specific (CLI etc.); skipped in reference mode")
    config.addinivalue_line("markers", "needs_cgi: uses mod_cgi")
    config.addinivalue_line("markers", "lighttpd_differs(reason): Switchyard deliberately differs from "
                                       "lighttpd 1.4.69 here; xfail in reference mode")
    config.addinivalue_line("markers", "timeout(seconds): per-test time limit (default 120)")


def pytest_collection_modifyitems(config, items):
    if REFERENCE:
        skip = pytest.mark.skip(reason=f"Switchyard-specific; reference mode {REFERENCE}")
        for item in items:
            if item.get_closest_marker("switchyard_only"):
                item.add_marker(skip)
            m = item.get_closest_marker("lighttpd_differs")
            if m:
                item.add_marker(pytest.mark.xfail(reason=f"differs from lighttpd: {m.args[0] if m.args else ''}",
                                                  strict=False, run=m.kwargs.get("run", True)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("timeout")
    seconds = int(m.args[0]) if m else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        return (yield)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session", autouse=True)
def _kill_everything_at_exit():
    yield
    e2e_util.kill_all()


@pytest.fixture
def switchyard(tmp_path):
    """Factory: switchyard(config_text, **kw) -> started Switchyard, killed at teardown."""
    started = []

    def start(config_text, **kw):
        kw.setdefault("name", f"switchyard{len(started)}")
        s = Switchyard(config_text, kw.pop("tmp_path", tmp_path), **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


@pytest.fixture(scope="session")
def seeds():
    return e2e_util.require_seeds()


@pytest.fixture(scope="session")
def repo():
    return e2e_util.REPO


@pytest.fixture(scope="session")
def in_ci():
    return os.environ.get("CI") == "true"
