#!/usr/bin/env bash
# Tools for caisson-admission's manifest tests (crates/caisson-admission/tests/manifests.rs):
# kubernetes-validate checks `caisson admission manifests` output against the
# official Kubernetes OpenAPI schemas (strict: unknown fields fail), because
# `kubectl create --dry-run=client` needs an API server for its REST mapping;
# openssl verifies the serving certificate against the caBundle.
# kubectl comes from policy.sh.
set -euo pipefail
apt_ensure openssl
pip_ensure kubernetes-validate==1.37.0
