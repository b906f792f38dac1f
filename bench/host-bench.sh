#!/usr/bin/env bash
# `caisson host bench` vs docker-bench-security on one host with N running
# containers, in the same run. Figures go to bench/RESULTS.md by hand.
#
#   CAISSON_BENCH_DOCKER_HOST  engine (default: the test dockerd under ~/.cache/caisson)
#   N                          containers to start (default 50)
#   CAISSON_HOST_BENCH         command to time (default: `caisson host bench`
#                              of the caisson on PATH when it has it, else of
#                              this checkout's caisson, built --release)
#   DOCKER_BENCH_DIR           a docker-bench-security checkout; skipped when absent
#   RUNS                       timed runs of caisson (median reported; default 5)
set -euo pipefail

HOST=${CAISSON_BENCH_DOCKER_HOST:-unix://$HOME/.cache/caisson/dockerd/docker.sock}
N=${N:-50}
RUNS=${RUNS:-5}
FIXTURES=${CAISSON_FIXTURES:-$HOME/.cache/caisson/fixtures}
IMAGE=caisson.test/fixtures/alpine:3.23
REPO=$(cd "$(dirname "$0")/.." && pwd)
TAG=hb$$
d() { docker -H "$HOST" "$@"; }

d info >/dev/null 2>&1 || { echo "engine at $HOST does not answer" >&2; exit 1; }
d image inspect "$IMAGE" >/dev/null 2>&1 || d load -q -i "$FIXTURES/alpine/docker-archive.tar" >/dev/null

cleanup() { d ps -aq --filter "label=caisson.bench=$TAG" | xargs -r docker -H "$HOST" rm -f >/dev/null; }
trap cleanup EXIT
for i in $(seq 1 "$N"); do
  d run -d --network none --label "caisson.bench=$TAG" --name "$TAG-$i" "$IMAGE" sleep 3600 >/dev/null
done
running=$(d ps -q | wc -l)

if [ -z "${CAISSON_HOST_BENCH:-}" ]; then
  if command -v caisson >/dev/null && caisson host bench --help >/dev/null 2>&1; then
    CAISSON_HOST_BENCH="caisson host bench --docker-host $HOST --format json"
  else
    (cd "$REPO" && cargo build -q --release -p caisson --bin caisson)
    target=${CARGO_TARGET_DIR:-$REPO/target}
    CAISSON_HOST_BENCH="$target/release/caisson host bench --docker-host $HOST --format json"
  fi
fi

now() { date +%s.%N; }
times=()
for _ in $(seq 1 "$RUNS"); do
  t0=$(now); $CAISSON_HOST_BENCH >/tmp/$TAG-caisson.json; t1=$(now)
  times+=("$(echo "$t1 - $t0" | bc)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
checked=$(python3 -c "import json;print(json.load(open('/tmp/$TAG-caisson.json'))['engine']['containers_checked'])")
echo "containers running: $running; caisson checked $checked"
echo "caisson host bench: median ${median}s of $RUNS runs (${times[*]})"

if [ -n "${DOCKER_BENCH_DIR:-}" ] && [ -f "$DOCKER_BENCH_DIR/docker-bench-security.sh" ]; then
  t0=$(now)
  (cd "$DOCKER_BENCH_DIR" && DOCKER_HOST=$HOST timeout 1800 sh docker-bench-security.sh -b -l "/tmp/$TAG-dbs.log" >/dev/null 2>&1) || echo "docker-bench-security exited non-zero" >&2
  t1=$(now)
  echo "docker-bench-security: $(echo "$t1 - $t0" | bc)s (one run)"
else
  echo "docker-bench-security: skipped (set DOCKER_BENCH_DIR to a checkout)"
fi
rm -f /tmp/$TAG-caisson.json
