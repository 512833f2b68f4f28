"""`make install PREFIX=... DESTDIR=...`: binaries, the switchyard(8) man page, an example config
that passes `switchyard -t`, and systemd units with their paths filled in.

The static release build `make install` runs first (`install-build`) takes minutes, so here a
stand-in `swift` does nothing and INSTALL_BUILD points at the binaries this suite already tests;
the install layout, the substitutions and the never-overwrite rule are what is checked.
"""
import os
import shutil
import stat
import subprocess

from e2e_util import REPO, require, require_binary, switchyard_bin

BINARIES = ["switchyard", "scgi-cgi", "fcgi-cgi", "switchyard-bench", "switchyard-echo-app"]


def make_install(tmp_path, *extra):
    built = switchyard_bin().parent
    for b in BINARIES:
        require((built / b).is_file(), f"{built / b} not built (make build)")
    fake = tmp_path / "swift"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "--no-print-directory", "install", f"SWIFT={fake}", f"INSTALL_BUILD={built}",
                        f"DESTDIR={dest}", *extra], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def test_install_layout_under_prefix_usr(tmp_path):
    require_binary()
    dest = make_install(tmp_path, "PREFIX=/usr")
    sbin = dest / "usr/sbin/switchyard"
    assert sbin.is_file() and os.stat(sbin).st_mode & stat.S_IXUSR
    for b in BINARIES[1:]:
        assert (dest / "usr/bin" / b).is_file(), b
    # PREFIX=/usr puts the configuration in /etc, as Debian packages do.
    conf = dest / "etc/switchyard/switchyard.conf"
    assert conf.is_file()
    unit = (dest / "usr/lib/systemd/system/switchyard.service").read_text()
    assert "ExecStart=/usr/sbin/switchyard -f /etc/switchyard/switchyard.conf" in unit, unit
    assert "Type=notify" in unit and "@" not in unit.replace("@.service", ""), unit
    assert (dest / "usr/lib/systemd/system/switchyard.socket").is_file()
    man = dest / "usr/share/man/man8/switchyard.8"
    assert "@SYSCONFDIR@" not in man.read_text() and "/etc/switchyard/switchyard.conf" in man.read_text()
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", str(man)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    # The example configuration is valid (switchyard -t), using the installed binary.
    r = subprocess.run([str(sbin), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_under_usr_local_keeps_an_existing_config(tmp_path):
    require_binary()
    etc = tmp_path / "dest/usr/local/etc/switchyard"
    etc.mkdir(parents=True)
    (etc / "switchyard.conf").write_text("# mine\n")
    dest = make_install(tmp_path)
    assert (etc / "switchyard.conf").read_text() == "# mine\n", "make install overwrote a configuration"
    unit = (dest / "usr/local/lib/systemd/system/switchyard.service").read_text()
    assert "ExecStart=/usr/local/sbin/switchyard -f /usr/local/etc/switchyard/switchyard.conf" in unit, unit
    example = dest / "usr/local/share/doc/switchyard/examples/switchyard.conf"
    assert example.is_file() and "/usr/local/bin/scgi-cgi" in example.read_text()
