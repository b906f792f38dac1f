#!/usr/bin/env bash
# kubectl for caisson-policy's workload tests (crates/caisson-policy/tests/workloads.rs):
# they generate manifests with `kubectl create … --dry-run=client -o yaml`.
# Idempotent: installs Debian's kubernetes-client only when no kubectl is on PATH.
set -euo pipefail
if ! command -v kubectl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
