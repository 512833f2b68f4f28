"""The per-worker cache of small static files (StaticFileCache) is never stale with
`server.stat-cache-engine = "disable"`, and at most one second stale with lighttpd's default "simple".

With "disable", Switchyard validates a cached file with ONE stat(2) per request: device, inode, size, mtime and
ctime (to the nanosecond) must all match, and only files whose timestamps are at least 2 s old are
cached at all (a write in the same clock tick could otherwise leave identical timestamps). So every
test here first lets its files settle, primes the cache with two GETs, changes the file and asserts
that the very next response reflects the change:

- in-place rewrite with the same size and the same mtime (os.utime back to the old value): only
  ctime differs, which is enough;
- replacement by rename (another inode), truncation, deletion (404);
- chmod 000 (403) - as root the server under test runs as `nobody` (server.username), since root
  opens a mode-000 file anyway (the cache rule is the same: chmod changes ctime);
- growth past the 64 KiB body limit: the file then goes out with sendfile(2), complete;
- a FIFO is refused (403) from its stat, without the open(2) that would block the worker.

test_hit_reads_nothing checks that a hit really comes from memory (no pread on the hot path), via
the read-syscall counter in /proc/PID/io.

The "simple" tests (the default, as in lighttpd) check that a file stat'ed in the current second is
served without another stat (a file deleted within that second is still served) and that the change
shows from the next second on.
"""
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from e2e_util import HTTPConnection, REFERENCE, Switchyard, get, q, require

SETTLE = 2.2  # StaticFileCache.settleSeconds + margin
SMALL = 64 * 1024  # StaticFileCache.maxBodySize


def pattern(n, seed):
    return bytes((i * 31 + seed) % 251 for i in range(n))


FILES = {
    "inplace.txt": pattern(1000, 1),
    "inplace2.txt": pattern(1000, 2),
    "rename.txt": pattern(1000, 3),
    "truncate.txt": pattern(3000, 4),
    "chmod.txt": pattern(500, 5),
    "delete.txt": pattern(500, 6),
    "grow.bin": pattern(2000, 7),
    "medium.bin": pattern(40 * 1024, 8),
    "edge.bin": pattern(SMALL, 9),
    "hot.txt": pattern(1024, 10),
    "ranges.txt": pattern(1000, 11),
    "dir/index.html": b"<p>index v1</p>\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("static-cache")
    doc = root / "docroot"
    (doc / "dir").mkdir(parents=True)
    for name, data in FILES.items():
        (doc / name).write_bytes(data)
    conf = f"""
server.document-root = {q(doc)}
server.event-loops = 1
server.stat-cache-engine = "disable"
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".bin" => "application/octet-stream")
"""
    s = Switchyard(conf, root)
    s.doc = doc
    time.sleep(SETTLE)  # old enough to be cached
    yield s
    s.kill()


def prime(site, target, expected):
    """Two GETs: the first caches the file, the second is served from the cache."""
    for _ in range(2):
        r = get(site.port, target)
        assert r.status == 200, r
        assert r.body == expected


def assert_served(site, target, expected):
    r = get(site.port, target)
    assert r.status == 200, r
    assert r.header("Content-Length") == str(len(expected)), r
    assert r.body == expected, f"stale or wrong body for {target}"
    return r


def rewrite_in_place(path, data):
    """Same size, same mtime to the nanosecond: only ctime tells the versions apart."""
    st = os.stat(path)
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    st2 = os.stat(path)
    assert (st2.st_ino, st2.st_size, st2.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


def test_rewrite_same_size_same_mtime(site):
    path = site.doc / "inplace.txt"
    prime(site, "/inplace.txt", FILES["inplace.txt"])
    etag = get(site.port, "/inplace.txt").header("ETag")
    new = pattern(1000, 101)
    rewrite_in_place(path, new)
    r = assert_served(site, "/inplace.txt", new)
    # Same inode, size and mtime second: lighttpd's ETag stays the same (the bytes did change).
    assert r.header("ETag") == etag
    assert_served(site, "/inplace.txt", new)


def test_rewrite_after_the_new_version_was_cached(site):
    """Version 2 settles and gets cached itself; version 3 must still replace it."""
    path = site.doc / "inplace2.txt"
    prime(site, "/inplace2.txt", FILES["inplace2.txt"])
    v2 = pattern(1000, 102)
    rewrite_in_place(path, v2)
    assert_served(site, "/inplace2.txt", v2)
    time.sleep(SETTLE)
    prime(site, "/inplace2.txt", v2)
    v3 = pattern(1000, 103)
    rewrite_in_place(path, v3)
    assert_served(site, "/inplace2.txt", v3)


def test_replace_by_rename(site):
    path = site.doc / "rename.txt"
    prime(site, "/rename.txt", FILES["rename.txt"])
    st = os.stat(path)
    new = pattern(1000, 103)
    tmp = site.doc / ".rename.tmp"
    tmp.write_bytes(new)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)
    assert os.stat(path).st_ino != st.st_ino
    assert_served(site, "/rename.txt", new)


def test_truncate(site):
    path = site.doc / "truncate.txt"
    prime(site, "/truncate.txt", FILES["truncate.txt"])
    os.truncate(path, 1000)
    assert_served(site, "/truncate.txt", FILES["truncate.txt"][:1000])
    os.truncate(path, 0)
    assert_served(site, "/truncate.txt", b"")


@pytest.fixture
def mode_site(site):
    """`site` when the tests do not run as root. As root (open(2) ignores mode 000 for root) a server
    of its own that drops to `nobody`, in a directory `nobody` can traverse (pytest's is 0700)."""
    if os.geteuid() != 0:
        yield site
        return
    try:
        pwd.getpwnam("nobody")
        has_nobody = True
    except KeyError:
        has_nobody = False
    require(has_nobody, "no user 'nobody' to run the server as (root reads mode-000 files)")
    root = Path(tempfile.mkdtemp(prefix="sy-static-cache-"))
    try:
        doc = root / "docroot"
        doc.mkdir()
        for d in (root, doc):
            os.chmod(d, 0o755)
        (doc / "chmod.txt").write_bytes(FILES["chmod.txt"])
        os.chmod(doc / "chmod.txt", 0o644)
        s = Switchyard(f"""
server.document-root = {q(doc)}
server.event-loops = 1
server.stat-cache-engine = "disable"
server.username = "nobody"
mimetype.assign = (".txt" => "text/plain")
""", root)
        s.doc = doc
        time.sleep(SETTLE)  # old enough to be cached
        yield s
        s.kill()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_chmod_000_is_403(mode_site):
    site = mode_site
    path = site.doc / "chmod.txt"
    prime(site, "/chmod.txt", FILES["chmod.txt"])
    os.chmod(path, 0)
    try:
        r = get(site.port, "/chmod.txt")
        assert r.status == 403, r
    finally:
        os.chmod(path, 0o644)
    assert_served(site, "/chmod.txt", FILES["chmod.txt"])


def test_delete_is_404(site):
    path = site.doc / "delete.txt"
    prime(site, "/delete.txt", FILES["delete.txt"])
    path.unlink()
    r = get(site.port, "/delete.txt")
    assert r.status == 404, r
    path.write_bytes(b"back again\n")
    assert_served(site, "/delete.txt", b"back again\n")


def test_grow_past_the_cache_limit(site):
    path = site.doc / "grow.bin"
    prime(site, "/grow.bin", FILES["grow.bin"])
    big = pattern(SMALL + 5000, 104)
    with open(path, "r+b") as f:
        f.write(big)
    assert_served(site, "/grow.bin", big)
    assert_served(site, "/grow.bin", big)


def test_medium_and_limit_sized_files(site):
    """Above the 8 KiB copy limit a cached body is sent by reference (gather write)."""
    prime(site, "/medium.bin", FILES["medium.bin"])
    prime(site, "/edge.bin", FILES["edge.bin"])
    data = FILES["medium.bin"]
    r = get(site.port, "/medium.bin", headers=[("Range", "bytes=10000-30000")])
    assert r.status == 206, r
    assert r.body == data[10000:30001]
    # Pipelined: the second response must follow the whole first body.
    with HTTPConnection(site.port) as c:
        c.send(b"GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /edge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        for expected in (data, data, FILES["edge.bin"]):
            r = c.read_response()
            assert r.status == 200 and r.body == expected


def test_conditional_range_head_on_cached_file(site):
    data = FILES["ranges.txt"]
    prime(site, "/ranges.txt", data)
    r = get(site.port, "/ranges.txt")
    etag, lm = r.header("ETag"), r.header("Last-Modified")
    assert get(site.port, "/ranges.txt", headers=[("If-None-Match", etag)]).status == 304
    assert get(site.port, "/ranges.txt", headers=[("If-Modified-Since", lm)]).status == 304
    r = get(site.port, "/ranges.txt", headers=[("Range", "bytes=-10")])
    assert r.status == 206 and r.body == data[-10:], r
    assert r.header("Content-Range") == f"bytes 990-999/{len(data)}"
    r = get(site.port, "/ranges.txt", headers=[("Range", "bytes=5000-")])
    assert r.status == 416, r
    with HTTPConnection(site.port) as c:
        c.request("HEAD", "/ranges.txt", close=True)
        r = c.read_response("HEAD")
        assert r.status == 200 and r.header("Content-Length") == str(len(data))
        assert c.read_to_eof() == b""


def test_index_file(site):
    prime(site, "/dir/", FILES["dir/index.html"])
    r = get(site.port, "/dir/")
    assert r.header("Content-Type") == "text/html"
    path = site.doc / "dir" / "index.html"
    rewrite_in_place(path, b"<p>index v2</p>\n")
    assert_served(site, "/dir/", b"<p>index v2</p>\n")
    path.unlink()
    assert get(site.port, "/dir/").status == 403


def read_syscalls(pid):
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("syscr:"):
            return int(line.split()[1])
    raise AssertionError("no syscr in /proc/PID/io")


@pytest.mark.switchyard_only
def test_hit_reads_nothing(site):
    """On keep-alive, a hit costs one read(2) (the request) per request; a miss adds a pread."""
    data = FILES["hot.txt"]
    prime(site, "/hot.txt", data)
    n = 200
    with HTTPConnection(site.port) as c:
        c.request("GET", "/hot.txt")
        assert c.read_response().body == data
        before = read_syscalls(site.pid)
        for _ in range(n):
            c.request("GET", "/hot.txt")
            assert c.read_response().body == data
        reads = read_syscalls(site.pid) - before
    assert reads < n * 1.5, f"{reads} read syscalls for {n} cached requests"


def test_fifo_is_403_without_blocking(site):
    """A FIFO is refused from its stat; opening it would block the worker until a writer came."""
    fifo = site.doc / "pipe.txt"
    os.mkfifo(fifo)
    try:
        r = get(site.port, "/pipe.txt", timeout=5)
        assert r.status == 403, r
        assert_served(site, "/hot.txt", FILES["hot.txt"])
    finally:
        fifo.unlink()


# ---------------------------------------------------------------- server.stat-cache-engine = "simple"

@pytest.fixture(scope="module")
def simple_site(tmp_path_factory):
    """A server with the default stat-cache engine ("simple", as lighttpd)."""
    root = tmp_path_factory.mktemp("static-cache-simple")
    doc = root / "docroot"
    doc.mkdir()
    for i in range(8):
        (doc / f"f{i}.txt").write_bytes(pattern(900 + i, 40 + i))
    s = Switchyard(f"""
server.document-root = {q(doc)}
server.event-loops = 1
mimetype.assign = (".txt" => "text/plain")
""", root)
    s.doc = doc
    time.sleep(SETTLE)  # old enough to be cached
    yield s
    s.kill()


@pytest.mark.switchyard_only
def test_simple_engine_trusts_a_stat_for_the_rest_of_its_second(simple_site):
    """A GET that stats the file, the file deleted, a GET in the same wall-clock second (the worker's
    stat-cache clock, read after each wait for events): served from memory, which proves that no
    stat(2) was made; from the next second on the deletion shows (404). An attempt that crosses a
    second boundary proves nothing and is repeated on the next settled file."""
    for name in ("f0.txt", "f1.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt", "f7.txt"):
        path = simple_site.doc / name
        data = path.read_bytes()
        prime(simple_site, f"/{name}", data)
        t0 = time.time()
        first = get(simple_site.port, f"/{name}")
        path.unlink()
        second = get(simple_site.port, f"/{name}")
        if int(time.time()) == int(t0):
            break
    else:
        raise AssertionError("every attempt crossed a second boundary")
    assert first.status == 200 and first.body == data, first
    assert second.status == 200 and second.body == data, \
        f"deleted file not served within its second: {second} (a stat per request?)"
    time.sleep(1.05 - (time.time() % 1))   # into the next second
    r = get(simple_site.port, f"/{name}")
    assert r.status == 404, f"deleted file still served in a later second: {r}"
    path.write_bytes(b"new version\n")
    assert_served(simple_site, f"/{name}", b"new version\n")


@pytest.mark.switchyard_only
def test_simple_engine_serves_changes_from_the_next_second(simple_site):
    """An in-place rewrite (only ctime differs) is served from the next second on, never later."""
    path = simple_site.doc / "f2.txt"
    data = path.read_bytes()
    prime(simple_site, "/f2.txt", data)
    new = pattern(len(data), 99)
    rewrite_in_place(path, new)
    changed_at = time.time()
    time.sleep(1.05 - (changed_at % 1))
    assert_served(simple_site, "/f2.txt", new)
