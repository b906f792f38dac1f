# Oracle for crates/caisson-cvss's differential test (sourced by scripts/install-deps):
# Red Hat's `cvss` package (PyPI), which scores CVSS v2.0, v3.0/v3.1 and v4.0 vectors.
pip_ensure cvss==3.6
