# Shared environment for Caisson's scripts: caches live outside the clone.
CAISSON_CACHE="${CAISSON_CACHE:-$HOME/.cache/caisson}"
export CAISSON_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CAISSON_CACHE/target}"
export CAISSON_FIXTURES="${CAISSON_FIXTURES:-$CAISSON_CACHE/fixtures}"
mkdir -p "$CAISSON_CACHE"
# CI builds each clone once: incremental caches would only fill the disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
# Tools the scripts install from crates.io (cargo-deny, cargo-fuzz), kept
# with the cache so a CI run does not rebuild them.
export PATH="$CAISSON_CACHE/tools/bin:$PATH"
