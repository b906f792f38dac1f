"""Differential oracle: packaging.version.Version. Reads "A\tB" lines."""
import sys
from packaging.version import InvalidVersion, Version

for line in sys.stdin:
    a, _, b = line.rstrip("\n").partition("\t")
    try:
        va, vb = Version(a), Version(b)
    except (InvalidVersion, ValueError):
        print("error")
        continue
    print("<" if va < vb else ">" if va > vb else "=")
