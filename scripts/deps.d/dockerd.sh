# A real Docker Engine and Podman for the host inventory tests
# (crates/caisson/tests/host_inventory.rs). Debian's docker.io brings dockerd,
# containerd and runc; scripts/dockerd starts one daemon for the whole test
# run under $CAISSON_CACHE/dockerd (no systemd needed). A docker CLI already on
# PATH (scripts/deps.d/docker-cli.sh) does not bring dockerd, so the package
# is installed whenever dockerd is missing. The package's own service is
# stopped when systemd started it: the tests use their own socket.
if ! command -v dockerd >/dev/null 2>&1; then
  apt_ensure docker.io
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    systemctl stop docker docker.socket >/dev/null 2>&1 || true
  fi
fi
apt_ensure podman iptables
