#!/usr/bin/env python3
"""Scan benchmark: end-to-end `caisson scan` time next to the SBOM-only time
and a sequential `zcat` of the layers, on the same fixture images, in one run.

The advisory database is imported once from the feed snapshots in
shared/data (`caisson db import`); each image is then read from its OCI
layout with, per run:

- `zcat` of every layer blob in order to /dev/null: the floor a
  single-threaded reader cannot beat (as in bench/sbom.py),
- `caisson sbom` (CycloneDX to /dev/null),
- `caisson scan --scanners vuln` (JSON to /dev/null): SBOM plus matching,
- `caisson scan --scanners secret,misconfig`: the secret and misconfig walk
  alone; "vuln + walk" adds it to the vuln scan, the cost of two separate
  passes over the layers (what the full scan was before it became one pass),
- `caisson scan --scanners vuln,secret,misconfig`: the full scan (one pass
  over the layers shared by the catalogers, the secret scanner and the
  misconfiguration facts),
- `trivy image --scanners secret` on the same layout when trivy is
  installed (fresh cache per run, offline, as bench/sbom.py runs it).

Prints a Markdown table of median wall time and peak RSS over --runs runs
and the ratios to `zcat` (below 1: faster than decompressing the layers
one after the other).

    bench/scan.py [--runs 3] [--fixtures lang-python-node,lang-binaries,debian-extra,alpine] [--caisson PATH]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from sbom import layer_blobs, measure  # noqa: E402  (same helpers)


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
        trivy = shutil.which("trivy")
        tv = subprocess.run([trivy, "--version"], capture_output=True, text=True).stdout.split()[1] if trivy else "absent"
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} cores, load average {load} at start; trivy {tv}; database: "
              f"{len(feeds)} feeds imported in {secs:.2f} s ({rss:.0f} MiB peak); runs per cell: "
              f"{args.runs} (median)\n")
        print("| image | layers (gz MiB) | packages | findings | secrets | zcat s | sbom s / MiB | "
              "scan vuln s / MiB | secret,misconfig s / MiB | vuln + walk s | full scan s / MiB | "
              "trivy secret s / MiB | sbom÷zcat | full÷zcat | (vuln + walk)÷zcat | trivy secret÷full |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in args.fixtures.split(","):
            fx = manifest[name]
            layout = fx_root / fx["oci"]
            src = f"oci:{layout}:{fx['tag']}"
            blobs = layer_blobs(layout, fx["tag"])
            gz_mib = sum(b.stat().st_size for b in blobs) / 2**20
            scan = [caisson, "scan", src, "--db", str(db), "--max-db-age-days", "100000", "-f", "json"]
            cmds = {
                "zcat": ["sh", "-c", "zcat " + " ".join(str(b) for b in blobs) + " > /dev/null"],
                "sbom": [caisson, "sbom", src, "-f", "cyclonedx-json", "-o", "/dev/null"],
                "vuln": scan + ["--scanners", "vuln", "-o", "/dev/null"],
                "walk": scan + ["--scanners", "secret,misconfig", "-o", "/dev/null"],
                "full": scan + ["--scanners", "vuln,secret,misconfig", "-o", "/dev/null"],
            }
            res = {k: [] for k in list(cmds) + ["trivy"]}
            for _ in range(args.runs):
                for k, c in cmds.items():
                    res[k].append(measure(c))
                if trivy:
                    cache = tempfile.mkdtemp(prefix="trivy-bench-")
                    try:
                        res["trivy"].append(measure([trivy, "image", "--quiet", "--cache-dir", cache,
                                                     "--skip-db-update", "--skip-java-db-update",
                                                     "--offline-scan", "--skip-version-check",
                                                     "--disable-telemetry", "--scanners", "secret",
                                                     "--format", "json", "--output", "/dev/null",
                                                     "--input", str(layout)]))
                    finally:
                        shutil.rmtree(cache, ignore_errors=True)
            out = subprocess.run(scan + ["--scanners", "vuln,secret,misconfig"], capture_output=True,
                                 check=True).stdout
            report = json.loads(out)
            pkgs = json.loads(subprocess.run([caisson, "sbom", src, "-f", "json"], capture_output=True,
                                             check=True).stdout)["packages"]
            med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in res.items() if v}
            cell = lambda k: f"{med[k][0]:.2f} / {med[k][1]:.0f}" if k in med else "—"
            z = max(med["zcat"][0], 0.01)
            two = med["vuln"][0] + med["walk"][0]
            tr = f"{med['trivy'][0] / max(med['full'][0], 0.01):.2f}×" if "trivy" in med else "—"
            print(f"| {name} | {len(blobs)} ({gz_mib:.1f}) | {len(pkgs)} | {len(report['findings'])} | "
                  f"{len(report.get('secrets') or [])} | {med['zcat'][0]:.2f} | {cell('sbom')} | {cell('vuln')} | "
                  f"{cell('walk')} | {two:.2f} | {cell('full')} | {cell('trivy')} | {med['sbom'][0] / z:.2f}× | "
                  f"{med['full'][0] / z:.2f}× | {two / z:.2f}× | {tr} |")
        print(f"\nload average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
