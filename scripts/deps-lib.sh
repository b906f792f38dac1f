# Helpers sourced by scripts/install-deps and scripts/deps.d/*.sh. Idempotent installs.

# apt_ensure PKG... : installs the Debian packages that are not installed yet.
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pip_ensure PKG... : installs the PyPI packages that pip does not list yet.
pip_ensure() {
  local need=() p
  # One `pip show` for all (each call costs seconds); per package only when
  # one is missing.
  [ "$(python3 -m pip show "${@%%[=<>]*}" 2>/dev/null | grep -c '^Name:')" -eq $# ] && return 0
  for p in "$@"; do python3 -m pip show -q "${p%%[=<>]*}" >/dev/null 2>&1 || need+=("$p"); done
  [ ${#need[@]} -eq 0 ] && return 0
  mkdir -p "${CAISSON_CACHE:-$HOME/.cache/caisson}/pip"
  python3 -m pip install -q --cache-dir "${CAISSON_CACHE:-$HOME/.cache/caisson}/pip" "${need[@]}"
}
