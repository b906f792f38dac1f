#!/usr/bin/env bash
# Throughput of `caisson version compare <eco> --stdin` on 100k lines per scheme.
# Usage: bench/version-compare.sh [path/to/caisson]  (builds --release if omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BIN="${1:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q -p caisson
  BIN="$CARGO_TARGET_DIR/release/caisson"
fi
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
gen() { # eco-specific generator of 100k "A B" lines
  python3 - "$1" > "$TMP/in.txt" <<'PY'
import random, sys
eco = sys.argv[1]; r = random.Random(7)
def v():
    n = lambda: r.randint(0, 30)
    return {
        "Debian": lambda: f"{r.choice(['', '1:'])}{n()}.{n()}{r.choice(['', '~rc1', '+dfsg'])}-{n()}ubuntu{n()}",
        "Alpine": lambda: f"{n()}.{n()}.{n()}{r.choice(['', '_rc1', '_p2', 'a'])}-r{n()}",
        "Red Hat": lambda: f"{r.choice(['', '1:'])}{n()}.{n()}.{n()}-{n()}.el{r.randint(7,9)}",
        "PyPI": lambda: f"{n()}.{n()}{r.choice(['', 'a1', 'rc2', '.post1', '.dev3'])}",
        "npm": lambda: f"{n()}.{n()}.{n()}{r.choice(['', '-alpha.1', '-rc.2'])}",
        "Maven": lambda: f"{n()}.{n()}.{n()}{r.choice(['', '-SNAPSHOT', '.Final', '-rc1'])}",
        "RubyGems": lambda: f"{n()}.{n()}.{n()}{r.choice(['', '.rc1', '.pre'])}",
        "Go": lambda: f"v{n()}.{n()}.{n()}{r.choice(['', '-pre', '+incompatible'])}",
    }[eco]()
for _ in range(100_000):
    print(v(), v())
PY
}
printf '%-10s %12s %14s\n' ecosystem seconds lines/second
for eco in Debian Alpine "Red Hat" PyPI npm Maven RubyGems Go; do
  gen "$eco"
  start=$(date +%s.%N)
  "$BIN" version compare "$eco" --stdin < "$TMP/in.txt" > "$TMP/out.txt"
  end=$(date +%s.%N)
  lines=$(wc -l < "$TMP/out.txt")
  [ "$lines" -eq 100000 ] || { echo "expected 100000 result lines, got $lines" >&2; exit 1; }
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<10} {s:12.3f} {100000/s:14,.0f}')" "$start" "$end" "$eco"
done
