#!/usr/bin/env python3
"""Oracle for caisson-cvss's differential test: Red Hat's `cvss` package (PyPI).

Reads one vector per line on stdin, each prefixed by the class to use:
`2 <vector>`, `3 <vector>` or `4 <vector>`. Writes one JSON object per line:
{"scores": [...], "severities": [...]} or {"error": "..."}.

For CVSS v3.0 vectors the answer also carries "tenth_boundary": whether the exact
(decimal) value that `Round up` receives for the temporal and environmental scores
is a multiple of 0.1. There the v3.0 calculator's float ceil (`Math.ceil(x * 10) /
10`) can land 0.1 higher than the exact ceil this package computes, the defect the
v3.1 `Roundup` fixes; the test accepts exactly those differences.
"""
import json
import sys
from decimal import Decimal as D

from cvss import CVSS2, CVSS3, CVSS4

CLASSES = {"2": CVSS2, "3": CVSS3, "4": CVSS4}


def on_tenth(x):
    return x == x.quantize(D("0.1"))


def v30_boundaries(c):
    """Whether an argument of Round up in the temporal/environmental equations is
    exactly a multiple of 0.1 (recomputed from the object's exact intermediates)."""
    factor = c.get_value("E") * c.get_value("RL") * c.get_value("RC")
    temporal = on_tenth(c.base_score * factor)
    environmental = False
    if c.modified_isc > D("0.0"):
        inner = c.modified_isc + c.modified_esc
        if c.modified_scope != "U":
            inner = D("1.08") * inner
        inner = min(inner, D("10"))
        rounded = inner.quantize(D("0.1"), rounding="ROUND_CEILING")
        environmental = on_tenth(inner) or on_tenth(rounded * factor)
    return {"temporal": temporal, "environmental": environmental}


def main():
    out = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        kind, _, vector = line.partition(" ")
        try:
            c = CLASSES[kind](vector)
            answer = {"scores": list(c.scores()), "severities": list(c.severities())}
            if kind == "3" and vector.startswith("CVSS:3.0/"):
                answer["tenth_boundary"] = v30_boundaries(c)
            out.append(json.dumps(answer))
        except Exception as e:  # noqa: BLE001 - report every rejection to the test
            out.append(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


if __name__ == "__main__":
    main()
