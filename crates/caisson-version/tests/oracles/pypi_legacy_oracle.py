"""Oracle for the PyPI fallback: packaging 21.3, the last release whose
parse() returns a LegacyVersion (setuptools' pre-PEP 440 scheme, sorting
below every PEP 440 version) for what PEP 440 rejects. Reads "A\tB" lines.

OSV's reference implementation tokenises legacy versions with a findall of
digits | letters | "." | "-" and so drops every other character, where
packaging's re.split keeps them as parts; they are mapped to "." (a
separator both skip) before LegacyVersion sees them."""
import re
import sys

from packaging.version import InvalidVersion, LegacyVersion, Version


def parse(s):
    try:
        return Version(s)
    except InvalidVersion:
        return LegacyVersion(re.sub(r"[^a-z0-9.\-]", ".", s.lower()))


for line in sys.stdin:
    a, _, b = line.rstrip("\n").partition("\t")
    va, vb = parse(a), parse(b)
    print("<" if va < vb else ">" if va > vb else "=")
