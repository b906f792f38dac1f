#!/usr/bin/env python3
"""Registry benchmark: `caisson serve` (release build) next to Debian's
`docker-registry` (CNCF Distribution 2.8), same run, same machine, same
clients.

* push / pull: `skopeo copy --preserve-digests` of each fixture OCI layout
  into a fresh, empty registry (new data dir and port each repetition, so no
  blob is already there and skopeo's blob-info cache cannot mount), then back
  into a fresh OCI layout; median wall time over --runs.
* manifest GET (by tag): `wrk` with --connections over --duration seconds;
  requests/s and the p99 latency. Blob HEAD (the largest layer): ApacheBench
  (`ab -k -i`, same concurrency, ~--duration seconds; p99 in whole ms), since
  wrk 4.1 waits for a HEAD response's body and completes no request.

Distribution runs without authentication, with its in-memory blob descriptor
cache (its usual configuration); caisson authenticates every request (a
bearer token from its `/token` endpoint, as skopeo/podman/docker use) and
records pulls in the audit log per --pull-audit-every (default: caisson's
default, every pull).

    bench/registry.py [--runs 5] [--fixtures debian,lang-python-node]
                      [--duration 10] [--connections 32] [--caisson PATH]
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-admin-password"
ACCEPT = ",".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


class Server:
    """One registry process on a fresh data dir and port."""

    def __init__(self, kind, caisson, tmp, pull_audit_every):
        self.kind = kind
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{kind}-"))
        log = open(self.dir / "server.log", "wb")
        if kind == "caisson":
            cmd = [caisson, "serve", "--data-dir", str(self.dir / "data"),
                   "--listen", self.host, "--gc-interval", "0",
                   "--pull-audit-every", str(pull_audit_every)]
            env = dict(os.environ, CAISSON_ADMIN_PASSWORD=PASSWORD)
        else:
            cfg = self.dir / "config.yml"
            cfg.write_text(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n"
                "  cache:\n    blobdescriptor: inmemory\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.host}\n  secret: bench-secret\n")
            cmd = ["docker-registry", "serve", str(cfg)]
            env = None
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
        wait_port(self.port, self.proc, kind)

    def skopeo_creds(self, direction):
        if self.kind != "caisson":
            return []
        return [f"--{direction}-creds", f"admin:{PASSWORD}"]

    def auth_header(self, repo):
        """The Authorization header a client would send for pulls of repo."""
        if self.kind != "caisson":
            return None
        basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(
            f"http://{self.host}/token?service=caisson&scope=repository:{repo}:pull",
            headers={"Authorization": f"Basic {basic}"})
        with urllib.request.urlopen(req) as r:
            return "Bearer " + json.load(r)["token"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    return dt


def push_pull(kind, args, tmp, layout, tag, name):
    push, pull = [], []
    for _ in range(args.runs):
        s = Server(kind, args.caisson, tmp, args.pull_audit_every)
        try:
            dest = f"docker://{s.host}/bench/{name}:{tag}"
            push.append(timed(["skopeo", "--insecure-policy", "copy", "-q", "--preserve-digests",
                               "--dest-tls-verify=false", *s.skopeo_creds("dest"),
                               f"oci:{layout}:{tag}", dest]))
            out = Path(tempfile.mkdtemp(dir=tmp, prefix="pull-"))
            pull.append(timed(["skopeo", "--insecure-policy", "copy", "-q", "--preserve-digests",
                               "--src-tls-verify=false", *s.skopeo_creds("src"),
                               dest, f"oci:{out}:{tag}"]))
            shutil.rmtree(out, ignore_errors=True)
        finally:
            s.stop()
    return statistics.median(push), statistics.median(pull)


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    p99 = float(m.group(1)) * scale
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0, errors.group(0) if errors else ""


def wrk(url, method, header, args, tmp):
    script = Path(tmp) / f"{method.lower()}.lua"
    script.write_text(f'wrk.method = "{method}"\n')
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
           "--latency", "-s", str(script), "-H", f"Accept: {ACCEPT}"]
    if header:
        cmd += ["-H", f"Authorization: {header}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps, p99, bad, errors = parse_wrk(out)
    if bad:
        sys.exit(f"wrk got {bad} non-2xx responses from {url}:\n{out}")
    return rps, p99, errors


def ab_head(url, header, args):
    """Blob HEAD load with ApacheBench (`wrk` 4.1 waits for a HEAD response's
    body and completes none): keep-alive, --connections, a request count that
    takes about --duration seconds at the measured rate."""
    base = ["ab", "-q", "-k", "-i", "-c", str(args.connections)]
    if header:
        base += ["-H", f"Authorization: {header}"]
    # Calibrate: a short run sizes the measured one.
    probe = subprocess.run(base + ["-n", "2000", url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", probe).group(1))
    n = max(2000, int(rate * args.duration))
    out = subprocess.run(base + ["-n", str(n), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    p99 = float(re.search(r"^\s+99%\s+(\d+)", out, re.M).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        sys.exit(f"ab: failed or non-2xx responses from {url}:\n{out}")
    return rps, p99, ""


def largest_layer(layout, tag):
    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    blob = lambda d: layout / "blobs" / d["digest"].replace(":", "/")
    doc = json.loads(blob(desc).read_text())
    if "manifests" in doc:
        doc = json.loads(blob(doc["manifests"][0]).read_text())
    return max(doc["layers"], key=lambda l: l["size"])["digest"]


def throughput(kind, args, tmp, layout, tag, name):
    s = Server(kind, args.caisson, tmp, args.pull_audit_every)
    try:
        repo = f"bench/{name}"
        subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--preserve-digests",
                        "--dest-tls-verify=false", *s.skopeo_creds("dest"),
                        f"oci:{layout}:{tag}", f"docker://{s.host}/{repo}:{tag}"], check=True)
        header = s.auth_header(repo)
        base = f"http://{s.host}/v2/{repo}"
        # Warm-up (connection setup, caches) before measuring.
        wrk_args = argparse.Namespace(**{**vars(args), "duration": 2})
        wrk(f"{base}/manifests/{tag}", "GET", header, wrk_args, tmp)
        m = wrk(f"{base}/manifests/{tag}", "GET", header, args, tmp)
        b = ab_head(f"{base}/blobs/{largest_layer(layout, tag)}", header, args)
        return m, b
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fixtures", default="debian,lang-python-node")
    ap.add_argument("--caisson", default=None)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pull-audit-every", type=int, default=1)
    ap.add_argument("--only", choices=["all", "push-pull", "http"], default="all")
    args = ap.parse_args()
    fx_root = Path(os.environ.get("CAISSON_FIXTURES", Path.home() / ".cache/caisson/fixtures"))
    manifest = json.loads((fx_root / "manifest.json").read_text())["fixtures"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/caisson/target"))
    args.caisson = args.caisson or str(target / "release/caisson")
    if not Path(args.caisson).exists():
        sys.exit(f"{args.caisson} missing: cargo build --release -p caisson")
    for tool in ("skopeo", "docker-registry", "wrk", "ab"):
        if not shutil.which(tool):
            sys.exit(f"{tool} missing: scripts/install-deps")
    fixtures = [f for f in args.fixtures.split(",") if f]
    print(f"machine: {os.cpu_count()} CPUs, {platform_line()}")
    print(f"runs={args.runs} wrk: {args.threads} threads, {args.connections} connections, "
          f"{args.duration}s; caisson --pull-audit-every {args.pull_audit_every}\n")
    with tempfile.TemporaryDirectory(prefix="caisson-bench-registry-") as tmp:
        if args.only in ("all", "push-pull"):
            print("| image | caisson push | distribution push | ratio (dist/caisson) "
                  "| caisson pull | distribution pull | ratio (dist/caisson) |")
            print("|---|---|---|---|---|---|---|")
            for name in fixtures:
                entry = manifest[name]
                layout, tag = fx_root / entry["oci"], entry["tag"]
                cp, cl = push_pull("caisson", args, tmp, layout, tag, name)
                dp, dl = push_pull("distribution", args, tmp, layout, tag, name)
                print(f"| {name} | {cp:.2f} s | {dp:.2f} s | {dp / cp:.2f}× "
                      f"| {cl:.2f} s | {dl:.2f} s | {dl / cl:.2f}× |", flush=True)
            print()
        if args.only in ("all", "http"):
            name = fixtures[0]
            entry = manifest[name]
            layout, tag = fx_root / entry["oci"], entry["tag"]
            (cm, cb) = throughput("caisson", args, tmp, layout, tag, name)
            (dm, db) = throughput("distribution", args, tmp, layout, tag, name)
            print("| request | caisson req/s | distribution req/s | ratio (caisson/dist) "
                  "| caisson p99 | distribution p99 |")
            print("|---|---|---|---|---|---|")
            for label, c, d in (("manifest GET (tag)", cm, dm), ("blob HEAD", cb, db)):
                ratio = c[0] / d[0] if d[0] else float("inf")
                print(f"| {label} | {c[0]:.0f} | {d[0]:.0f} | {ratio:.2f}× "
                      f"| {c[1]:.2f} ms | {d[1]:.2f} ms |")
                for who, r in (("caisson", c), ("distribution", d)):
                    if r[2]:
                        print(f"  ({who} {label}: {r[2]})")


def platform_line():
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    dist = subprocess.run(["docker-registry", "--version"], capture_output=True, text=True).stdout.strip()
    sk = subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip()
    wv = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
    return f"{model}; {dist}; {sk}; {wv[0] if wv else 'wrk'}"


if __name__ == "__main__":
    main()
