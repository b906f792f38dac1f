# Oracles for crates/caisson-report's tests (sourced by scripts/install-deps):
# the SPDX project's validator `pyspdxtools` (PyPI `spdx-tools`) for SPDX 2.3 output.
# The JSON schemas used by the other tests are vendored in crates/caisson-report/tests/schemas/.
pip_ensure spdx-tools==0.8.5
