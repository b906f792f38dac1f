# Real clients for crates/caisson-registry and `caisson serve` tests:
# skopeo (push/pull of OCI layouts), podman and buildah (vfs storage, runc,
# cgroupfs; configured per test in a test-local containers.conf).
apt_ensure skopeo podman buildah runc
