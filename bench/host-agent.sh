#!/usr/bin/env bash
# `caisson host agent` at rest: resident memory (VmRSS) of the agent process
# after it has reported a host with N running containers (default 50, of the
# alpine fixture) to a local `caisson serve`, then idled; and the time from
# an engine event (one more container started) to the report stored on the
# server. Then the inventory (cold and warm SBOM cache, 50 containers of 10
# images: bench/host-inventory.sh) and `host bench` of 50 containers
# (bench/host-bench.sh) with the same binary. Figures go to bench/RESULTS.md
# by hand.
#
# Usage: bench/host-agent.sh [path/to/caisson]   (builds --release if omitted)
#   N        running containers for the agent run (default 50)
#   REST     seconds the agent idles before RSS is read (default 20)
#   SKIP_OTHERS=1  only the agent part
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BIN="${1:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q -p caisson
  BIN="$CARGO_TARGET_DIR/release/caisson"
fi
BIN="$(realpath "$BIN")"
N=${N:-50}
REST=${REST:-20}
scripts/dockerd
HOST="unix://$CAISSON_CACHE/dockerd/docker.sock"
IMAGE=caisson.test/fixtures/alpine:3.23
TAG=hagentbench$$
TMP="$(mktemp -d)"
d() { docker -H "$HOST" "$@"; }
SERVER_PID=""; AGENT_PID=""
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  d ps -aq --filter "label=caisson.bench=$TAG" | xargs -r docker -H "$HOST" rm -f >/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
d image inspect "$IMAGE" >/dev/null 2>&1 || d load -q -i "$CAISSON_FIXTURES/alpine/docker-archive.tar" >/dev/null
for i in $(seq 1 "$N"); do
  d run -d --network none --label "caisson.bench=$TAG" --name "$TAG-$i" "$IMAGE" sleep 3600 >/dev/null
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
CAISSON_ADMIN_PASSWORD=bench-admin-password "$BIN" serve --data-dir "$TMP/data" \
  --listen "127.0.0.1:$PORT" --gc-interval 0 --scan-workers 0 2>"$TMP/serve.log" &
SERVER_PID=$!
until curl -s -o /dev/null "$BASE/v2/"; do sleep 0.2; done
api() { curl -sf -u admin:bench-admin-password -H 'content-type: application/json' "$@"; }
SECRET=$(api -X POST "$BASE/api/v1/robots" \
  -d '{"name":"bench","scopes":[{"namespace":"hosts","actions":["report"]}]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

CAISSON_USER='robot$bench' CAISSON_PASSWORD="$SECRET" "$BIN" host agent --server "$BASE" \
  --docker-host "$HOST" --interval 1h --host-id "$TAG" --queue "$TMP/queue" \
  --debounce-ms 200 2>"$TMP/agent.log" &
AGENT_PID=$!
reports() { api "$BASE/api/v1/hosts/$TAG" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["reports"])' 2>/dev/null || echo 0; }
until [ "$(reports)" -ge 1 ]; do sleep 0.2; done
sleep "$REST"
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status")
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status")
anon_kib=$(awk '/^RssAnon:/ {print $2}' "/proc/$AGENT_PID/status")
file_kib=$(awk '/^RssFile:/ {print $2}' "/proc/$AGENT_PID/status")
threads=$(awk '/^Threads:/ {print $2}' "/proc/$AGENT_PID/status")

# Event to stored report: one more container.
before=$(reports)
start=$(date +%s.%N)
d run -d --network none --label "caisson.bench=$TAG" --name "$TAG-extra" "$IMAGE" sleep 3600 >/dev/null
until [ "$(reports)" -gt "$before" ]; do sleep 0.05; done
end=$(date +%s.%N)

printf 'agent, %d running containers:\n' "$N"
printf '  RSS at rest      %6d KiB (%d MiB)\n' "$rss_kib" $((rss_kib / 1024))
printf '  of which anon    %6d KiB, file-backed (binary pages) %d KiB; %d threads\n' "$anon_kib" "$file_kib" "$threads"
printf '  peak RSS         %6d KiB (%d MiB)\n' "$hwm_kib" $((hwm_kib / 1024))
printf '  event -> stored  %6.2f s (includes the 0.2 s debounce and the benchmark)\n' "$(echo "$end - $start" | bc)"
kill "$AGENT_PID"; AGENT_PID=""
kill "$SERVER_PID"; SERVER_PID=""

if [ "${SKIP_OTHERS:-}" != 1 ]; then
  echo "inventory, 50 containers of 10 images (bench/host-inventory.sh):"
  bench/host-inventory.sh "$BIN"
  echo "host bench, 50 containers (bench/host-bench.sh):"
  CAISSON_HOST_BENCH="$BIN host bench --docker-host $HOST -f json" DOCKER_BENCH_DIR=/nonexistent \
    CAISSON_BENCH_DOCKER_HOST="$HOST" N=50 bench/host-bench.sh
fi
