# Oracles for crates/caisson-sign and `caisson sign`/`verify` tests (sourced by
# scripts/install-deps): openssl signs and verifies independently of Caisson,
# PyNaCl + hashlib.scrypt decrypt and produce cosign's encrypted key envelope,
# docker-registry and skopeo (scripts/deps.d/registry-client.sh) store images.
apt_ensure openssl docker-registry skopeo
pip_ensure pynacl==1.5.0
