# cargo-deny for scripts/test's dependency check (licenses, bans, sources;
# configuration in deny.toml). Pinned, and installed under
# $CAISSON_CACHE/tools (on PATH through scripts/env.sh) so a CI run with a
# kept cache does not rebuild it; the build itself happens in a throwaway
# target dir. A cold install compiles cargo-deny from crates.io (network).
CARGO_DENY_VERSION=0.20.2
tools="${CAISSON_CACHE:-$HOME/.cache/caisson}/tools"
if ! "$tools/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  build="$(mktemp -d "${CAISSON_CACHE:-$HOME/.cache/caisson}/cargo-deny-build.XXXXXX")"
  CARGO_TARGET_DIR="$build" CARGO_INCREMENTAL=0 \
    cargo install --locked -q --root "$tools" --version "$CARGO_DENY_VERSION" cargo-deny
  rm -rf "$build"
fi
