#!/usr/bin/env python3
"""autobahn_py3.py - port the Autobahn|Testsuite fuzzing client to Python 3.

Usage: autobahn_py3.py SUITEDIR AUTOBAHNDIR
  SUITEDIR is the `autobahntestsuite` package directory from the pinned PyPI
  sdist (autobahntestsuite 25.10.1), still in its original Python 2 form;
  AUTOBAHNDIR the `autobahn` package directory of autobahn 0.10.9 (the
  release the suite pins).  Both are rewritten in place.

Why: the suite's last release is Python-2-only code and this machine has no
Python 2.  The case modules treat Python 2 `str` as bytes throughout.  The
port keeps that model instead of rewriting ~140 case modules by hand:

1. Before 2to3: a plain (non-u) string literal with non-ASCII characters in
   the source meant "these UTF-8 bytes" in Python 2.  Such characters are
   replaced by their UTF-8 bytes as \\xNN escapes, so every case-layer `str`
   is a Latin-1 view of the intended bytes (u"" literals stay text).
2. `python3 -m lib2to3 -w` (or fissix) converts the syntax (print, except, xrange, ...).
3. A small module `py3compat` converts case-layer `str` to bytes (Latin-1)
   exactly where the suite meets Autobahn (frames sent, events compared,
   UTF-8 validator, hex dumps), plus the edits listed in PATCHES below
   (drop the TLS import, JSON-only reports, bytes in the wire log).

Each edit must match exactly once; anything else stops with an error, so a
different sdist cannot be half-patched silently.
"""
import importlib.util
import io
import os
import re
import subprocess
import sys
import tokenize

COMPAT = '''"""Python 3 shims for the ported suite (written by Switchyard's autobahn_py3.py).

Case modules use `str` as Python 2 used it: a byte string.  tob() maps such
a value (recursively inside tuples/lists) to real bytes via Latin-1; real
text that cannot be Latin-1 was a Python 2 `unicode` and goes out as UTF-8.
"""
import binascii as _binascii
import os as _os

from autobahn.websocket.utf8validator import Utf8Validator as _Utf8Validator


def tob(value):
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, list):
        return [tob(v) for v in value]
    if isinstance(value, tuple):
        return tuple(tob(v) for v in value)
    return value


def json_default(value):
    """json.dumps fallback: bytes in reports shown as Latin-1 text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return repr(value)


class binascii:
    """Hex helpers that accept case-layer str and return text (for reports)."""

    @staticmethod
    def b2a_hex(value):
        return _binascii.b2a_hex(tob(value)).decode("ascii")

    hexlify = b2a_hex


class pkg_resources:
    """The one pkg_resources call the cases make (test data files), without setuptools."""

    @staticmethod
    def resource_filename(package, name):
        return _os.path.join(_os.path.dirname(__file__), name)


class Utf8Validator(_Utf8Validator):
    def validate(self, ba):
        return _Utf8Validator.validate(self, tob(ba))
'''

INIT = '''from ._version import __version__

# Python 3 port: the original __init__ imported every tool (WAMP, wsperf,
# massconnect, ...); only the fuzzing client is ported, imported explicitly.
version = __version__
'''

# (file, old, new): exact text edits applied after 2to3.
PATCHES = [
    ("fuzzing.py",
     "import os, json, binascii, time, textwrap, pkg_resources\n",
     "import os, json, time, textwrap\n"
     "from .py3compat import tob, binascii, json_default\n"),
    ("fuzzing.py", "from twisted.internet import reactor, ssl\n", "from twisted.internet import reactor\n"),
    ("fuzzing.py", "from twisted.web.static import File\n", ""),
    # report.py needs jinja2 and only feeds the HTML reports (not produced)
    ("fuzzing.py",
     """from .report import CSS_COMMON, \\
                   CSS_DETAIL_REPORT, \\
                   CSS_MASTER_REPORT, \\
                   JS_MASTER_REPORT
""",
     "CSS_COMMON = CSS_DETAIL_REPORT = CSS_MASTER_REPORT = JS_MASTER_REPORT = ''\n"),
    ("fuzzing.py",
     """         if hostname:
            self.contextFactory = ssl.optionsForClientTLS(hostname)
         else:
            self.contextFactory = ssl.ClientContextFactory()""",
     "         self.contextFactory = None  # Python 3 port: plain ws:// only"),
    ("fuzzing.py",
     """   ellipses = " ..."
   if len(data) > maxlen - len(ellipses):
      dd = binascii.b2a_hex(data[:maxlen]) + ellipses
   else:
      dd = binascii.b2a_hex(data)
   return dd""",
     """   data = tob(data)
   if len(data) > maxlen - 4:
      return binascii.b2a_hex(data[:maxlen]) + " ..."
   return binascii.b2a_hex(data)"""),
    ("fuzzing.py",
     """   ellipses = " ..."
   try:
      if len(data) > maxlen - len(ellipses):
         dd = data[:maxlen] + ellipses
      else:
         dd = data
      return dd.decode('utf8', errors = 'replace' if replace else 'strict')""",
     """   data = tob(data)
   try:
      if len(data) > maxlen - 4:
         return data[:maxlen].decode('utf8', errors = 'replace' if replace else 'strict') + " ..."
      return data.decode('utf8', errors = 'replace' if replace else 'strict')"""),
    ("fuzzing.py", "         p = ''.join(payload)\n", "         p = b''.join(tob(payload))\n"),
    # bytes boundary: every frame/message the cases send goes through these
    ("fuzzing.py",
     "   MAX_WIRE_LOG_DATA = 256\n",
     """   MAX_WIRE_LOG_DATA = 256

   # Python 3 port: case modules pass Python-2-style str; Autobahn wants bytes.
   def sendFrame(self, opcode, payload = b"", fin = True, rsv = 0, mask = None, **kw):
      return super(FuzzingProtocol, self).sendFrame(opcode, tob(payload), fin, rsv, tob(mask), **kw)

   def sendMessage(self, payload, *args, **kw):
      return super(FuzzingProtocol, self).sendMessage(tob(payload), *args, **kw)

   def sendMessageFrameData(self, payload, *args, **kw):
      return super(FuzzingProtocol, self).sendMessageFrameData(tob(payload), *args, **kw)

   def sendCloseFrame(self, code = None, reasonUtf8 = None, isReply = False):
      return super(FuzzingProtocol, self).sendCloseFrame(code, tob(reasonUtf8), isReply)

   def sendPing(self, payload = None):
      return super(FuzzingProtocol, self).sendPing(tob(payload))
"""),
    ("fuzzing.py",
     "      f.write(json.dumps(case, sort_keys = True, indent = 3, separators = (',', ': ')))\n",
     "      f.write(json.dumps(case, sort_keys = True, indent = 3, separators = (',', ': '), default = json_default))\n"),
    # JSON reports only: the HTML writers are Python-2 byte/text code
    ("fuzzing.py",
     "   def createReports(self, produceHtml = True, produceJson = True):\n",
     "   def createReports(self, produceHtml = False, produceJson = True):\n"),
    ("case/case.py", "import pickle\n", "from ..py3compat import tob\n"),
    ("case/case.py",
     "      return pickle.dumps(obj1) == pickle.dumps(obj2)\n",
     "      return tob(obj1) == tob(obj2)\n"),
    ("case/case6_x_x.py",
     "from autobahn.websocket.utf8validator import Utf8Validator\n",
     "from ..py3compat import Utf8Validator\n"),
    # 9.9.1 is not in the suite's case list, but is imported: drop the
    # zope.interface class advice Python 3 no longer has
    ("case/case9_9_1.py", "from zope.interface import implements\n", ""),
    ("case/case9_9_1.py", "   implements(interfaces.IPushProducer)\n", ""),
    ("case/case12_x_x.py",
     "import copy, os, pkg_resources, hashlib, binascii\n",
     "import copy, os, hashlib\nfrom ..py3compat import binascii, pkg_resources\n"),
    # Python 2 integer division (2to3 leaves `/` alone)
    ("case/case10_1_1.py",
     "frames_expected[0] = len(self.payload) / self.p.autoFragmentSize",
     "frames_expected[0] = len(self.payload) // self.p.autoFragmentSize"),
]

# (file, old, new) for Autobahn 0.10.9 itself: it supports Python 3, but one
# code path the fuzzer uses (repeated payloads, cases 7.1.6 and 9.x) still
# divides the Python 2 way
AUTOBAHN_PATCHES = [
    ("websocket/protocol.py",
     "range(payload_len / len(payload))",
     "range(payload_len // len(payload))"),
]

# applied to every case module: hex dumps of case-layer str; and generated
# case classes listed `object` before the (old-style in Python 2) Case base,
# an impossible MRO in Python 3
CASE_SUBS = [
    (re.compile(r"^import binascii$", re.M), "from ..py3compat import binascii"),
    (re.compile(r"\(object, Case, \)"), "(Case, )"),
]


def escape_non_ascii_literals(path):
    """Step 1: Python 2 byte-string literals with raw UTF-8 -> \\xNN escapes."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    lines = src.splitlines(keepends=True)
    edits = []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type != tokenize.STRING or tok.start[0] != tok.end[0]:
            continue
        prefix = re.match(r"[A-Za-z]*", tok.string).group(0).lower()
        if "u" in prefix or "b" in prefix or tok.string.isascii():
            continue
        fixed = "".join(c if c.isascii() else "".join("\\x%02x" % b for b in c.encode("utf-8"))
                        for c in tok.string)
        edits.append((tok.start[0] - 1, tok.start[1], tok.end[1], fixed))
    for row, start, end, fixed in reversed(edits):
        line = lines[row]
        lines[row] = line[:start] + fixed + line[end:]
    if edits:
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(lines))
    return len(edits)


def apply_patch(pkg, rel, old, new):
    path = os.path.join(pkg, rel)
    with open(path, encoding="utf-8") as f:
        src = f.read()
    count = src.count(old)
    if count != 1:
        sys.exit("autobahn_py3: %s: expected text found %d times (want 1):\n%s" % (rel, count, old))
    with open(path, "w", encoding="utf-8") as f:
        f.write(src.replace(old, new))


def main():
    if (len(sys.argv) != 3 or not os.path.isfile(os.path.join(sys.argv[1], "fuzzing.py"))
            or not os.path.isfile(os.path.join(sys.argv[2], "websocket", "protocol.py"))):
        sys.exit("usage: autobahn_py3.py SUITEDIR AUTOBAHNDIR  (the autobahntestsuite and autobahn package directories)")
    pkg, autobahn = sys.argv[1], sys.argv[2]
    casedir = os.path.join(pkg, "case")
    escaped = sum(escape_non_ascii_literals(os.path.join(casedir, n))
                  for n in sorted(os.listdir(casedir)) if n.endswith(".py"))
    if escaped == 0:
        sys.exit("autobahn_py3: no non-ASCII byte-string literals found: not the expected sdist?")
    # lib2to3 is in the standard library up to Python 3.12; fissix is its maintained copy
    # (autobahn_install.sh installs it when needed)
    fixer = "lib2to3" if importlib.util.find_spec("lib2to3") else "fissix"
    subprocess.run([sys.executable, "-W", "ignore", "-m", fixer, "-w", "-n", pkg],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(pkg, "py3compat.py"), "w") as f:
        f.write(COMPAT)
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write(INIT)
    for rel, old, new in PATCHES:
        apply_patch(pkg, rel, old, new)
    for rel, old, new in AUTOBAHN_PATCHES:
        apply_patch(autobahn, rel, old, new)
    for name in sorted(os.listdir(casedir)):
        path = os.path.join(casedir, name)
        with open(path, encoding="utf-8") as f:
            src = f.read()
        for pattern, replacement in CASE_SUBS:
            src = pattern.sub(replacement, src)
        with open(path, "w", encoding="utf-8") as f:
            f.write(src)
    print("autobahn_py3: ported %s (%d literals escaped)" % (pkg, escaped))


if __name__ == "__main__":
    main()
