"""Command line: -t, -p, -v, -h, config diagnostics (file:line:col), the seed lighttpd configs."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from e2e_util import SEEDS, q, require_binary, switchyard_bin

pytestmark = pytest.mark.switchyard_only

SEED_CONFS = sorted(p.name for p in (SEEDS / "lighttpd").glob("*.conf")) if (SEEDS / "lighttpd").is_dir() \
    else ["(seeds missing)"]


def run(*args, timeout=15):
    require_binary()
    p = subprocess.run([str(switchyard_bin()), *map(str, args)], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


SEED_BRIDGES = {"/usr/local/bin/fcgi-cgi": "fcgi-cgi", "/usr/local/bin/scgi-cgi": "scgi-cgi"}
# The tunnel seeds spawn echo.pl from where the wiki put it; here, the seed echo.pl itself.
SEED_PROGRAMS = {'"/tmp/echo.pl"': SEEDS / "echo.pl", '"/dev/shm/echo.pl"': SEEDS / "echo.pl"}


def installed_seed(seed: Path, tmp_path: Path) -> Path:
    """The seed itself, or (when it spawns a bridge from /usr/local/bin that is not installed here) a
    copy of the same name naming the bridge this build made: -t checks that bin-path is executable."""
    text = seed.read_text()
    changed = text
    for path, name in SEED_BRIDGES.items():
        if path in changed and not os.access(path, os.X_OK):
            changed = changed.replace(path, str(switchyard_bin().parent / name))
    for path, program in SEED_PROGRAMS.items():
        if path in changed and not os.access(path.strip('"'), os.X_OK):
            changed = changed.replace(path, q(program))
    if changed == text:
        return seed
    copy = tmp_path / "seed" / seed.name
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(changed)
    return copy


def wrapper_for(seed: Path, tmp_path: Path) -> Path:
    """A config that supplies what the seed snippet lacks, then includes it (unchanged but for an
    uninstalled bin-path, see installed_seed)."""
    seed = installed_seed(seed, tmp_path)
    text = seed.read_text()
    lines = []
    if not re.search(r"^\s*server\.document-root\s*=", text, re.M):
        lines.append(f"server.document-root = {q(tmp_path)}")
    if not re.search(r"^\s*server\.port\s*=", text, re.M):
        lines.append("server.port = 0")
    lines.append(f"include {q(seed)}")
    w = tmp_path / f"wrap-{seed.stem}.conf"
    w.write_text("\n".join(lines) + "\n")
    return w


@pytest.mark.parametrize("name", SEED_CONFS)
def test_seed_configs_pass_t(seeds, tmp_path, name):
    seed = seeds / "lighttpd" / name
    code, out, err = run("-t", "-f", wrapper_for(seed, tmp_path))
    assert code == 0, f"-t failed for {name}:\n{out}{err}"


@pytest.mark.parametrize("name,line", [("scgi.conf", 5), ("fastcgi.conf", 5)])
def test_seed_missing_comma_warning(seeds, tmp_path, name, line):
    """The seeds omit the comma after "bin-path" => ...: accepted (like lighttpd), with a warning."""
    seed = seeds / "lighttpd" / name
    assert '"bin-path"' in seed.read_text().splitlines()[line - 1]
    code, out, err = run("-t", "-f", wrapper_for(seed, tmp_path))
    text = out + err
    assert code == 0, text
    assert re.search(rf"{re.escape(name)}:({line}|{line + 1})\b", text), \
        f"no warning naming {name}:{line} (or the next line):\n{text}"
    assert "comma" in text.lower() or "','" in text, text


def test_valid_config_t(tmp_path):
    conf = tmp_path / "ok.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.port = 0\n')
    code, out, err = run("-t", "-f", conf)
    assert code == 0, out + err


def test_syntax_error_file_line_col(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.tag = "x"\nserver.port = 80 }}\n')
    code, out, err = run("-t", "-f", conf)
    text = out + err
    assert code == 1, text
    assert re.search(r"bad\.conf:3:\d+", text), f"no file:line:col in:\n{text}"


def test_unterminated_string(tmp_path):
    conf = tmp_path / "unterminated.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.tag = "oops\n')
    code, out, err = run("-t", "-f", conf)
    assert code == 1, out + err
    assert re.search(r"unterminated\.conf:2:\d+", out + err), out + err


def test_missing_config_file(tmp_path):
    code, out, err = run("-t", "-f", tmp_path / "nope.conf")
    assert code == 1, out + err
    assert "nope.conf" in out + err


def test_unknown_key_warning(tmp_path):
    conf = tmp_path / "unknown.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.frobnicate = 1\nserver.port = 0\n')
    code, out, err = run("-t", "-f", conf)
    text = out + err
    assert code == 0, text
    assert "server.frobnicate" in text, text
    assert re.search(r"unknown\.conf:2\b", text), text


def test_print_config(tmp_path):
    conf = tmp_path / "print.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.port = 0\n'
                    'server.tag = "print-me-e2e"\nserver.modules += ("mod_cgi")\n'
                    '$HTTP["url"] =~ "^/ws/" {\n  cgi.assign = ("" => "")\n  cgi.upgrade = "enable"\n}\n')
    code, out, err = run("-p", "-f", conf)
    assert code == 0, out + err
    text = out + err
    assert "server.document-root" in text and str(tmp_path) in text, text
    assert "print-me-e2e" in text, text
    assert "cgi.upgrade" in text and "^/ws/" in text, text


def test_version():
    code, out, err = run("-v")
    assert code == 0, out + err
    assert re.search(r"switchyard", out + err, re.I), out + err
    assert re.search(r"\d+\.\d+", out + err), out + err


def test_help_mentions_foreground():
    code, out, err = run("-h")
    text = (out + err).lower()
    assert code == 0, text
    assert "-f" in text and "-t" in text and "-p" in text, text
    assert "foreground" in text, text
