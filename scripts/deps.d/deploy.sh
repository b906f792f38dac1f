# `caisson deploy manifests` tests (crates/caisson/tests/deploy_manifests.rs)
# validate every component's YAML against the Kubernetes OpenAPI schemas that
# kubernetes-validate ships (1.37.0 carries the v1.37 schemas; pinned so the
# validation does not move under the tests). scripts/image and its test
# (crates/caisson/tests/image_docker.rs) use mmdebstrap, umoci, skopeo and jq,
# which scripts/install-deps installs; binutils-free: ldd comes with libc-bin.
pip_ensure kubernetes-validate==1.37.0
apt_ensure groff-base
