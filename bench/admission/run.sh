#!/usr/bin/env bash
# Admission webhook latency: `caisson admission serve` (release build) with the
# full pss-restricted + least-privilege + supply-chain policy set, facts
# preloaded (warm verdict cache), loaded open-loop over TLS on loopback by
# crates/caisson-admission/examples/admission_load.rs.
#
#   bench/admission/run.sh            # 500 req/s for 30 s after a 5 s warm-up
#   RATE=1000 DURATION=60 bench/admission/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
: "${CARGO_TARGET_DIR:=$PWD/target}"
export CARGO_TARGET_DIR
RATE=${RATE:-500}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
PORT=${PORT:-18443}
HOST=webhook.bench.svc

cargo build --release -q -p caisson --bin caisson -p caisson-admission --example admission_load
bin=$CARGO_TARGET_DIR/release/caisson
load=$CARGO_TARGET_DIR/release/examples/admission_load

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" admission manifests --namespace bench --service webhook --cert-dir "$work" >/dev/null
policies=(pss-restricted read-only-root-filesystem resource-limits automount-service-account-token
          image-tag approved-registries approved-base-os signed-images vulnerability-threshold)
args=()
for p in "${policies[@]}"; do args+=(--policy "$p"); done
"$bin" admission serve --listen "127.0.0.1:$PORT" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --config bench/admission/config.yaml --facts bench/admission/facts.json "${args[@]}" \
  2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
  curl -sf --cacert "$work/ca.crt" --resolve "$HOST:$PORT:127.0.0.1" "https://$HOST:$PORT/healthz" >/dev/null && break
  sleep 0.1
done

echo "policies: ${policies[*]}" >&2
echo "cpus: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$load" --url "https://$HOST:$PORT/admission/validate" --ca "$work/ca.crt" \
  --resolve "$HOST=127.0.0.1:$PORT" --rate "$RATE" --seconds "$DURATION" --warmup "$WARMUP" \
  --review bench/admission/deployment-allowed.json --review bench/admission/pod-denied.json
echo "server RSS: $(ps -o rss= -p "$server") KiB" >&2
