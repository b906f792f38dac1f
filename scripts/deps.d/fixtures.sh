#!/usr/bin/env bash
# Extra tools for scripts/fixtures beyond scripts/install-deps: mmdebstrap's
# recommends that its root-mode and foreign-arch (arm64 extract) runs use, which an
# --no-install-recommends install of mmdebstrap leaves out. Idempotent.
set -euo pipefail
PKGS=(arch-test gpg libdpkg-perl mount debian-archive-keyring python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
