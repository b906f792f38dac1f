#!/usr/bin/env python3
"""Scan benchmark: end-to-end `caisson scan` time next to the SBOM-only time
on the same fixture images, in one run.

The advisory database is imported once from the feed snapshots in
shared/data (`caisson db import`); each image is then read from its OCI
layout with `caisson sbom` (CycloneDX to /dev/null) and with `caisson scan`
(JSON to /dev/null). The difference is what matching and reporting cost.

Prints a Markdown table of median wall time and peak RSS over --runs runs.

    bench/scan.py [--runs 3] [--fixtures lang-python-node,lang-binaries,debian-extra,alpine] [--caisson PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from sbom import measure  # noqa: E402  (same /usr/bin/time wrapper)


def shared_data():
    for cand in (ROOT.parent / "shared/data", Path("/work/shared/data")):
        if (cand / "README.md").exists():
            return cand
    sys.exit("shared/data not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fixtures", default="lang-python-node,lang-binaries,debian-extra,alpine")
    ap.add_argument("--caisson", default=None)
    args = ap.parse_args()
    fx_root = Path(os.environ.get("CAISSON_FIXTURES", Path.home() / ".cache/caisson/fixtures"))
    manifest = json.loads((fx_root / "manifest.json").read_text())["fixtures"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/caisson/target"))
    caisson = args.caisson or str(target / "release/caisson")
    if not Path(caisson).exists():
        sys.exit(f"{caisson} missing: cargo build --release -p caisson")
    data = shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        feeds = [str(p) for p in sorted((data / "osv").glob("*/all.zip"))] + [str(data / "alpine-secdb")]
        secs, rss = measure([caisson, "db", "--db", str(db), "import"] + feeds)
        print(f"machine: {os.cpu_count()} cores; database: {len(feeds)} feeds imported in {secs:.2f} s "
              f"({rss:.0f} MiB peak); runs per cell: {args.runs} (median)\n")
        print("| image | packages | findings | sbom s / MiB | scan s / MiB | scan − sbom s |")
        print("|---|---|---|---|---|---|")
        for name in args.fixtures.split(","):
            fx = manifest[name]
            src = f"oci:{fx_root / fx['oci']}:{fx['tag']}"
            sbom_cmd = [caisson, "sbom", src, "-f", "cyclonedx-json", "-o", "/dev/null"]
            scan_cmd = [caisson, "scan", src, "--db", str(db), "--max-db-age-days", "100000",
                        "-f", "json", "-o", "/dev/null"]
            sb, sc = [], []
            for _ in range(args.runs):
                sb.append(measure(sbom_cmd))
                sc.append(measure(scan_cmd))
            out = subprocess.run(scan_cmd[:-2], capture_output=True, check=True).stdout
            report = json.loads(out)
            pkgs = json.loads(subprocess.run([caisson, "sbom", src, "-f", "json"], capture_output=True,
                                             check=True).stdout)["packages"]
            med = lambda xs, i: statistics.median(x[i] for x in xs)
            print(f"| {name} | {len(pkgs)} | {len(report['findings'])} | {med(sb,0):.2f} / {med(sb,1):.0f} | "
                  f"{med(sc,0):.2f} / {med(sc,1):.0f} | {med(sc,0) - med(sb,0):+.2f} |")


if __name__ == "__main__":
    main()
