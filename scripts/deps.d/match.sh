#!/usr/bin/env bash
# Oracles for the scan oracle test (crates/caisson/tests/scan_oracle.rs): Maven's own
# ComparableVersion (maven-artifact jar + a JDK to compile the small driver).
# apk-tools comes from the Alpine fixture (scripts/fixtures); PEP 440 and
# SemVer orderings come from Rust crates (pep440_rs, semver) as dev-dependencies.
# Idempotent: installs only what is missing.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in maven openjdk-17-jdk-headless; do
  have_pkg "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
