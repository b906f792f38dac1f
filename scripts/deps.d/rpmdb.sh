# Oracles for crates/caisson-rpmdb's tests (sourced by scripts/install-deps):
# - rpm + rpmbuild (Debian's rpm 4.18 writes the sqlite rpmdb backend only);
# - libdb-dev + the PyPI `berkeleydb` binding, to write real Berkeley DB hash files.
apt_ensure rpm libdb-dev build-essential
if ! python3 -c 'import berkeleydb' >/dev/null 2>&1; then
  # The binding compiles against the system libdb (Debian's libdb-dev, headers in /usr/include).
  BERKELEYDB_DIR=/usr YES_I_HAVE_THE_RIGHT_TO_USE_THIS_BERKELEY_DB_VERSION=1 pip_ensure berkeleydb
fi
