#!/usr/bin/env bash
# Oracles for crates/caisson-report's tests:
# - the SPDX project's validator `pyspdxtools` (PyPI `spdx-tools`) for SPDX 2.3 output.
# The JSON schemas used by the other tests are vendored in crates/caisson-report/tests/schemas/.
# Idempotent: checks first, installs only what is missing.
set -euo pipefail
SPDX_TOOLS_VERSION=0.8.5
if ! command -v pyspdxtools >/dev/null 2>&1 \
  || ! python3 -m pip show spdx-tools 2>/dev/null | grep -q "^Version: ${SPDX_TOOLS_VERSION}$"; then
  mkdir -p "${CAISSON_CACHE:-$HOME/.cache/caisson}/pip"
  python3 -m pip install -q --cache-dir "${CAISSON_CACHE:-$HOME/.cache/caisson}/pip" \
    "spdx-tools==${SPDX_TOOLS_VERSION}"
fi
