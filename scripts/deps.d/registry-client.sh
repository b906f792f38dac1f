# Oracles for crates/caisson-registry-client's tests (sourced by scripts/install-deps):
# - docker-registry (CNCF Distribution 2.8) as the real registry server;
# - skopeo to push images into it and report digests, umoci to build OCI layouts;
# - apache2-utils for `htpasswd -B` (bcrypt), openssl for the token server's key and cert.
apt_ensure docker-registry skopeo umoci apache2-utils openssl ca-certificates
# Debian's package starts a system-wide registry on :5000; the tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry >/dev/null 2>&1 || true
fi
