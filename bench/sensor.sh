#!/usr/bin/env bash
# Runtime sensor overhead (docs/runtime.md): N execs of /bin/true inside a
# container with the sensor off, in monitor mode and in protect mode (targets:
# <= 1.3x and <= 1.5x the time with the sensor off); events lost at a paced
# 1,000 execs/s; the sensor's RSS. Root, Linux, the test dockerd.
#
#   bench/sensor.sh [N]          # N defaults to 10000; each time is the
#                                # median of REPS (default 3) runs
#   CAISSON=target/release/caisson bench/sensor.sh
#
# Prints a Markdown table row set for bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
n="${1:-10000}"
scripts/dockerd
host="unix://$CAISSON_CACHE/dockerd/docker.sock"
bin="${CAISSON:-${CARGO_TARGET_DIR:-target}/release/caisson}"
[ -x "$bin" ] || cargo build --release -p caisson
image="caisson.test/fixtures/alpine:3.23"
docker -H "$host" image inspect "$image" >/dev/null 2>&1 || {
  echo "load the alpine fixture first (cargo test -p caisson-sensor does)" >&2; exit 1; }
name="caisson-bench-sensor-$$"
work="$(mktemp -d)"
cleanup() {
  [ -n "${sensor_pid:-}" ] && kill "$sensor_pid" 2>/dev/null || true
  docker -H "$host" rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
docker -H "$host" run -d --name "$name" "$image" sleep 3600 >/dev/null
id="$(docker -H "$host" inspect -f '{{.Id}}' "$name")"

# The loop prints how many execs succeeded: a denied or failed exec must not
# pass for a fast one.
loop="i=0; while [ \$i -lt $n ]; do /bin/true || break; i=\$((i+1)); done; echo \$i"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
execs() {  # ms for N execs inside the container, minus a no-op docker exec
  local a b c done
  a=$(now_ms); docker -H "$host" exec "$name" true; b=$(now_ms)
  done="$(docker -H "$host" exec "$name" sh -c "$loop")"; c=$(now_ms)
  if [ "$done" != "$n" ]; then
    echo "only ${done:-0} of $n execs succeeded (mode ${1:-off})" >&2
    return 1
  fi
  echo $(( (c - b) - (b - a) ))
}
reps="${REPS:-3}"
median_execs() {  # the median of $reps runs of execs
  local all=() r
  for _ in $(seq "$reps"); do r="$(execs "$1")" || return 1; all+=("$r"); done
  printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

# Profile for monitor/protect: learn while the loop runs once.
mkdir -p "$work/profiles"
"$bin" sensor learn --docker-host "$host" --container "$name" --duration 4s -o "$work/profiles/p.yaml" 2>/dev/null &
learn=$!
sleep 2; docker -H "$host" exec "$name" sh -c "/bin/true; true" ; wait "$learn"

start_sensor() {  # mode; waits until the container is watched
  "$bin" sensor run --docker-host "$host" --mode "$1" --profiles "$work/profiles" \
    --alerts "$work/alerts-$1.jsonl" --metrics 127.0.0.1:0 2>"$work/sensor-$1.err" &
  sensor_pid=$!
  for _ in $(seq 300); do
    addr="$(sed -n 's|.*metrics on http://\(.*\)/metrics|\1|p' "$work/sensor-$1.err")"
    if [ -n "$addr" ] && curl -s "http://$addr/metrics" | grep -q "caisson_container_pids{container_id=\"$id\""; then return; fi
    sleep 0.1
  done
  echo "sensor did not start" >&2; exit 1
}
stop_sensor() { kill "$sensor_pid"; wait "$sensor_pid" 2>/dev/null || true; sensor_pid=; }
metric() { curl -s "http://$addr/metrics" | awk -v m="$1" '$1 ~ "^"m {s+=$2} END {print s+0}'; }

off_ms="$(median_execs off)"
start_sensor monitor; mon_ms="$(median_execs monitor)"; stop_sensor
start_sensor protect; prot_ms="$(median_execs protect)"
rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$sensor_pid/status)"
stop_sensor

# Loss at a paced 1,000 execs/s for 5 s (monitor mode).
start_sensor monitor
before="$(metric caisson_sensor_events_total)"
docker -H "$host" exec "$name" sh -c 'i=0; while [ $i -lt 5000 ]; do /bin/true; usleep 1000; i=$((i+1)); done'
sleep 2
events=$(( $(metric caisson_sensor_events_total) - before ))
lost="$(metric caisson_sensor_events_dropped_total)"
overruns="$(metric caisson_sensor_kernel_overruns_total)"
stop_sensor

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| execs | off ms | monitor ms (x) | protect ms (x) | events at ~1,000 execs/s (5 s) | dropped | kernel overruns | sensor RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $n | $off_ms | $mon_ms ($(ratio "$mon_ms" "$off_ms")x) | $prot_ms ($(ratio "$prot_ms" "$off_ms")x) | $events | $lost | $overruns | $(( rss_kb / 1024 )) |"
