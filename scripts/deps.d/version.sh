#!/usr/bin/env bash
# Oracles for caisson-version's differential tests (crates/caisson-version/tests/oracle.rs):
# libdpkg (dpkg), packaging (PyPI), node semver (npm/SemVer), ruby (RubyGems),
# php + composer/semver (Packagist), python3-rpm (RPM), maven-artifact + JDK
# (Maven), R (CRAN). Idempotent: checks first, installs only what is missing.
# apk-tools (Alpine) is not installed here: the test runs the apk of the Alpine
# fixture rootfs that scripts/fixtures builds ($CAISSON_FIXTURES/alpine/rootfs).
set -euo pipefail
CACHE="${CAISSON_CACHE:-$HOME/.cache/caisson}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc libdpkg-dev python3-rpm ruby php-cli php-composer-semver r-base-core maven openjdk-17-jdk-headless; do
  have_pkg "$p" || need+=("$p")
done
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -c 'import packaging.version' 2>/dev/null || python3 -m pip install -q packaging

NODE_DIR="$CACHE/oracles/node"
if [ ! -f "$NODE_DIR/node_modules/semver/package.json" ]; then
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"name":"caisson-oracles","private":true}' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund semver@7 >/dev/null)
fi

# packaging 21.3: the last release with LegacyVersion, the oracle for the
# PyPI fallback order (crates/caisson-version/tests/feeds.rs).
LEGACY_DIR="$CACHE/oracles/packaging21"
if [ ! -f "$LEGACY_DIR/packaging/version.py" ]; then
  python3 -m pip install -q --target "$LEGACY_DIR" 'packaging==21.3' >/dev/null
fi
