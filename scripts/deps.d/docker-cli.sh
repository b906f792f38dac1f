# The `docker` CLI for crates/caisson/tests/registry_docker.rs, which drives
# it through `podman system service`'s Docker-compatible socket (no Docker
# daemon is started). Debian has no client-only package: docker.io brings the
# CLI (and an unused dockerd). A docker CLI already on PATH is used as is.
if ! command -v docker >/dev/null 2>&1; then
  apt_ensure docker.io
  # The package may start its daemon; the tests do not use it.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    systemctl stop docker docker.socket >/dev/null 2>&1 || true
  fi
fi
