#!/usr/bin/env python3
"""Secret-scanning benchmark: `caisson scan --scanners secret` vs
`trivy image --scanners secret` on the same fixture images, in one run.

Both tools read the fixture's docker archive (gzip layers) and write JSON.
trivy gets a fresh cache directory per run (no reuse of a previous run's layer
analysis) and runs offline. Prints a Markdown table of median wall time and
peak RSS over --runs runs, the number of secret findings of each, and the
ratio trivy/caisson.

    bench/secrets.py [--runs 3] [--fixtures secrets,debian,lang-python-node] [--caisson PATH]
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


def measure(cmd):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS in MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
        secs, kb = t.read().split()[-2:]
        return float(secs), int(kb) / 1024, r.stdout


def count_caisson(out):
    return len(json.loads(out).get("secrets", []))


def count_trivy(out):
    doc = json.loads(out)
    return sum(len(r.get("Secrets") or []) for r in doc.get("Results") or [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fixtures", default="secrets,debian,debian-extra,alpine,lang-python-node")
    ap.add_argument("--caisson", default=None)
    args = ap.parse_args()
    fx_root = Path(os.environ.get("CAISSON_FIXTURES", Path.home() / ".cache/caisson/fixtures"))
    manifest = json.loads((fx_root / "manifest.json").read_text())["fixtures"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/caisson/target"))
    caisson = args.caisson or str(target / "release/caisson")
    if not Path(caisson).exists():
        sys.exit(f"{caisson} missing: cargo build --release -p caisson")
    trivy = shutil.which("trivy") or sys.exit("trivy missing: scripts/install-deps")
    print("| image | caisson s | caisson MiB | caisson findings | trivy s | trivy MiB | trivy findings | trivy/caisson |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.fixtures.split(","):
        entry = manifest.get(name)
        if entry is None:
            sys.exit(f"fixture {name} not built: scripts/fixtures --only {name}")
        archive = fx_root / entry["docker_archive"]
        c_runs, t_runs = [], []
        for _ in range(args.runs):
            s, m, out = measure([caisson, "scan", "--scanners", "secret", "-f", "json", f"docker-archive:{archive}"])
            c_runs.append((s, m, count_caisson(out)))
            with tempfile.TemporaryDirectory() as cache:
                s, m, out = measure([trivy, "image", "--quiet", "--cache-dir", cache, "--skip-db-update",
                                     "--skip-java-db-update", "--offline-scan", "--skip-version-check",
                                     "--disable-telemetry", "--scanners", "secret", "--format", "json",
                                     "--input", str(archive)])
                t_runs.append((s, m, count_trivy(out)))
        cs = statistics.median(r[0] for r in c_runs)
        cm = statistics.median(r[1] for r in c_runs)
        ts = statistics.median(r[0] for r in t_runs)
        tm = statistics.median(r[1] for r in t_runs)
        print(f"| {name} | {cs:.2f} | {cm:.0f} | {c_runs[0][2]} | {ts:.2f} | {tm:.0f} | {t_runs[0][2]} | {ts / max(cs, 0.01):.2f} |")


if __name__ == "__main__":
    main()
