# Tools for caisson-binary's fixture and tests (sourced by scripts/install-deps):
# Go (`go version -m` is the oracle for Go build info), a JDK's `jar` and zip/unzip
# to assemble jars, and cargo-auditable / rust-audit-info (crates.io) to build a
# Rust binary with embedded dependency data and read it back.
apt_ensure golang-go default-jdk-headless zip unzip
if ! command -v cargo-auditable >/dev/null || ! command -v rust-audit-info >/dev/null; then
  mkdir -p "${CAISSON_CACHE:-$HOME/.cache/caisson}/cargo-install-target"
  CARGO_TARGET_DIR="${CAISSON_CACHE:-$HOME/.cache/caisson}/cargo-install-target" \
    cargo install --locked -q cargo-auditable rust-audit-info
fi
