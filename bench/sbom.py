#!/usr/bin/env python3
"""SBOM benchmark: caisson vs syft vs trivy on the same fixture images, in one run.

Every tool reads the same input, the fixture's OCI layout directory (gzip layers), and
writes CycloneDX JSON. trivy gets a fresh cache directory per run, so it cannot
reuse a previous run's layer analysis. A sequential `zcat` of every layer blob
to /dev/null is the floor a single-threaded reader cannot beat.

Prints a Markdown table of median wall time and peak RSS over --runs runs,
and the ratios syft/caisson, trivy/caisson and zcat/caisson.

    bench/sbom.py [--runs 3] [--fixtures debian,debian-extra,alpine] [--caisson PATH]
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


def measure(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd
        r = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        if r.returncode != 0:
            sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
        secs, kb = t.read().split()[-2:]
        return float(secs), int(kb) / 1024


def layer_blobs(oci_dir: Path, tag: str):
    index = json.loads((oci_dir / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    blob = lambda d: oci_dir / "blobs" / d["digest"].replace(":", "/")
    doc = json.loads(blob(desc).read_text())
    if "manifests" in doc:  # index: take the first (amd64) manifest
        doc = json.loads(blob(doc["manifests"][0]).read_text())
    return [blob(l) for l in doc["layers"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fixtures", default="debian,debian-extra,alpine,distroless")
    ap.add_argument("--caisson", default=None)
    args = ap.parse_args()
    fx_root = Path(os.environ.get("CAISSON_FIXTURES", Path.home() / ".cache/caisson/fixtures"))
    manifest = json.loads((fx_root / "manifest.json").read_text())["fixtures"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/caisson/target"))
    caisson = args.caisson or str(target / "release/caisson")
    if not Path(caisson).exists():
        sys.exit(f"{caisson} missing: cargo build --release -p caisson")
    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    cpus = os.cpu_count()
    print(f"machine: {cpus} cores; syft {subprocess.run(['syft','version'],capture_output=True,text=True).stdout.split()[3] if shutil.which('syft') else '?'}; "
          f"trivy {subprocess.run(['trivy','--version'],capture_output=True,text=True).stdout.split()[1]}; runs per cell: {args.runs} (median)\n")
    print("| image | layers (gz MiB) | zcat s | caisson s / MiB | syft s / MiB | trivy s / MiB | syft÷caisson | trivy÷caisson | zcat÷caisson |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.fixtures.split(","):
        fx = manifest[name]
        layout = fx_root / fx["oci"]
        tag = fx["tag"]
        blobs = layer_blobs(fx_root / fx["oci"], tag)
        gz_mib = sum(b.stat().st_size for b in blobs) / 2**20
        cmds = {
            "zcat": ["sh", "-c", "zcat " + " ".join(str(b) for b in blobs) + " > /dev/null"],
            "caisson": [caisson, "sbom", f"oci:{layout}:{tag}", "-f", "cyclonedx-json", "-o", "/dev/null"],
            "syft": ["syft", "-q", f"oci-dir:{layout}", "-o", "cyclonedx-json=/dev/null"],
        }
        results = {k: [] for k in list(cmds) + ["trivy"]}
        for _ in range(args.runs):
            for k, c in cmds.items():
                results[k].append(measure(c, env))
            cache = tempfile.mkdtemp(prefix="trivy-bench-")
            try:
                results["trivy"].append(measure(["trivy", "image", "--quiet", "--cache-dir", cache, "--skip-db-update",
                                                 "--skip-java-db-update", "--offline-scan", "--skip-version-check",
                                                 "--disable-telemetry", "--format", "cyclonedx", "--output", "/dev/null",
                                                 # trivy's jar analyzer needs its Java DB, which it cannot
                                                 # fetch offline: it skips jars (less work than the others do).
                                                 "--skip-files", "**/*.jar",
                                                 "--input", str(layout)], env))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
        med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in results.items()}
        c = med["caisson"][0]
        # /usr/bin/time resolves 10 ms: below that a ratio means nothing.
        ratio = lambda k: f"{med[k][0] / c:.1f}×" if c >= 0.01 else f"> {med[k][0] / 0.01:.0f}×" if med[k][0] >= 0.01 else "n/a"
        print(f"| {name} | {len(blobs)} ({gz_mib:.1f}) | {med['zcat'][0]:.2f} | {med['caisson'][0]:.2f} / {med['caisson'][1]:.0f} | "
              f"{med['syft'][0]:.2f} / {med['syft'][1]:.0f} | {med['trivy'][0]:.2f} / {med['trivy'][1]:.0f} | "
              f"{ratio('syft')} | {ratio('trivy')} | {ratio('zcat')} |")


if __name__ == "__main__":
    main()
