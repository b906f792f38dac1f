"""Differential oracle: rpm's Python bindings (run with the system python3).

Each line's versions are parsed by rpm's own EVR parser (rpm.ver) and
compared with its rich comparisons (rpmverCmp)."""
import sys
import rpm

for line in sys.stdin:
    a, _, b = line.rstrip("\n").partition("\t")
    try:
        va, vb = rpm.ver(a), rpm.ver(b)
        print("<" if va < vb else ">" if va > vb else "=")
    except (ValueError, TypeError):
        print("error")
