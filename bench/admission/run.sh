#!/usr/bin/env bash
# Admission webhook latency: `caisson admission serve` (release build) with the
# full pss-restricted + least-privilege + supply-chain policy set, facts
# preloaded (warm verdict cache), loaded open-loop over TLS on loopback by
# crates/caisson-admission/examples/admission_load.rs.
#
#   bench/admission/run.sh            # 500 req/s for 30 s after a 5 s warm-up
#   RATE=1000 DURATION=60 bench/admission/run.sh
#   LIVE_SIGNATURES=1 bench/admission/run.sh
#
# LIVE_SIGNATURES=1: the signature verdicts are not preloaded: the image is
# pushed (skopeo) to Debian's docker-registry on loopback and signed with
# `caisson sign`, and the webhook verifies it itself (`--trusted-key`), with
# its per-digest verdict cache warm after the warm-up.
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
config=bench/admission/config.yaml
facts=bench/admission/facts.json
reviews=(bench/admission/deployment-allowed.json bench/admission/pod-denied.json)
live=()
if [ "${LIVE_SIGNATURES:-0}" = 1 ]; then
  regport=$((PORT + 1))
  reg="127.0.0.1:$regport"
  mkdir -p "$work/registry"
  cat >"$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $reg}
YML
  docker-registry serve "$work/registry.yml" 2>"$work/registry.log" &
  registry_pid=$!
  trap 'kill $registry_pid 2>/dev/null; cleanup' EXIT
  for _ in $(seq 100); do curl -sf "http://$reg/v2/" >/dev/null && break; sleep 0.1; done
  layout=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); e=m["fixtures"]["alpine"]; print(sys.argv[1]+"/"+e["oci"]+":"+e["tag"])' "$CAISSON_FIXTURES")
  skopeo copy -q --dest-tls-verify=false "oci:$layout" "docker://$reg/shop/web:2.1"
  COSIGN_PASSWORD=bench "$bin" key generate --output-key-prefix "$work/bench" >/dev/null
  COSIGN_PASSWORD=bench "$bin" sign --key "$work/bench.key" --insecure-registry "$reg" "$reg/shop/web:2.1" >/dev/null
  for f in config.yaml facts.json deployment-allowed.json pod-denied.json; do
    sed "s#registry.example.com#$reg#g" "bench/admission/$f" >"$work/$f"
  done
  # The facts keep OS and findings, by reference; the signature is looked up.
  python3 - "$work/facts.json" "$reg" <<'PY'
import json, sys
path, reg = sys.argv[1], sys.argv[2]
f = json.load(open(path))
ref = f"{reg}/shop/web:2.1"
digest = f["images"][ref].pop("digest")
entry = f["images"].pop(digest)
entry.pop("signature")
f["images"][ref] = entry
json.dump(f, open(path, "w"))
PY
  config=$work/config.yaml
  facts=$work/facts.json
  reviews=("$work/deployment-allowed.json" "$work/pod-denied.json")
  live=(--trusted-key "$work/bench.pub" --insecure-registry "$reg")
fi
policies=(pss-restricted read-only-root-filesystem resource-limits automount-service-account-token
          image-tag approved-registries approved-base-os signed-images vulnerability-threshold)
args=()
for p in "${policies[@]}"; do args+=(--policy "$p"); done
"$bin" admission serve --listen "127.0.0.1:$PORT" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --config "$config" --facts "$facts" "${args[@]}" "${live[@]}" \
  2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
  curl -sf --cacert "$work/ca.crt" --resolve "$HOST:$PORT:127.0.0.1" "https://$HOST:$PORT/healthz" >/dev/null && break
  sleep 0.1
done

echo "policies: ${policies[*]}${live:+ (signatures verified live)}" >&2
echo "cpus: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$load" --url "https://$HOST:$PORT/admission/validate" --ca "$work/ca.crt" \
  --resolve "$HOST=127.0.0.1:$PORT" --rate "$RATE" --seconds "$DURATION" --warmup "$WARMUP" \
  --review "${reviews[0]}" --review "${reviews[1]}"
echo "server RSS: $(ps -o rss= -p "$server") KiB" >&2
