#!/usr/bin/env bash
# `caisson host inventory` of a host with 50 containers of 10 distinct images,
# cold (empty SBOM cache: every image exported and scanned) and warm (every
# SBOM cached, matched again). Uses the test run's Docker daemon
# (scripts/dockerd), the fixture images (scripts/fixtures) and the advisory
# database scripts/run builds ($CAISSON_DB overrides).
# Usage: bench/host-inventory.sh [path/to/caisson]  (builds --release if omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BIN="${1:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q -p caisson
  BIN="$CARGO_TARGET_DIR/release/caisson"
fi
scripts/dockerd
host="unix://$CAISSON_CACHE/dockerd/docker.sock"
export DOCKER_HOST="$host"
TMP="$(mktemp -d)"
prefix="hbench-$$"
cleanup() {
  docker ps -aq --filter "name=$prefix" | xargs -r docker rm -f >/dev/null
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$prefix" | xargs -r docker rmi -f >/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

db="${CAISSON_DB:-$CAISSON_CACHE/advisory-db}"
[ -d "$db" ] || { echo "no advisory database at $db (run scripts/run, or set CAISSON_DB)" >&2; exit 1; }

# 10 distinct image ids: five fixtures, and a labelled variant of each
# (a new image id over the same layers, as a rebuild with a new label gives).
images=()
for f in alpine debian debian-extra distroless lang-binaries; do
  archive="$CAISSON_FIXTURES/$f/docker-archive.tar"
  [ -f "$archive" ] || { echo "missing fixture $f (run scripts/fixtures)" >&2; exit 1; }
  ref="$(docker load -q -i "$archive" | sed -n 's/^Loaded image: //p' | head -n1)"
  docker tag "$ref" "$prefix-$f:base"
  printf 'FROM %s\nLABEL bench.variant=%s\n' "$prefix-$f:base" "$prefix" \
    | DOCKER_BUILDKIT=0 docker build -q -t "$prefix-$f:variant" - >/dev/null 2>&1
  images+=("$prefix-$f:base" "$prefix-$f:variant")
done
# 50 containers, 5 per image (created, not started: the inventory reads the
# same inspect documents either way).
n=0
for img in "${images[@]}"; do
  for i in 1 2 3 4 5; do
    n=$((n + 1))
    docker create --name "$prefix-$n" "$img" true >/dev/null
  done
done

run() { # label cache-dir
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$TMP/rss" "$BIN" host inventory --docker-host "$host" \
    --db "$db" --max-db-age-days 100000 --cache-dir "$2" -f json -o "$TMP/inv.json" 2>"$TMP/err" \
    || { cat "$TMP/err" >&2; exit 1; }
  end=$(date +%s.%N)
  local listed
  listed=$(python3 -c "import json,sys; d=json.load(open('$TMP/inv.json')); print(sum(1 for c in d['containers'] if c['name'].startswith('$prefix')))")
  [ "$listed" -eq 50 ] || { echo "expected 50 bench containers, listed $listed" >&2; exit 1; }
  printf '%-6s %8.2f s %8d MiB\n' "$1" "$(echo "$end - $start" | bc)" "$(( $(cat "$TMP/rss") / 1024 ))"
}
printf '%-6s %10s %12s\n' run wall peak-RSS
run cold "$TMP/cache"
run warm "$TMP/cache"
