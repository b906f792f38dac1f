# Extra tools for scripts/fixtures (sourced by scripts/install-deps): mmdebstrap's
# recommends that its root-mode and foreign-arch (arm64 extract) runs use, which an
# --no-install-recommends install of mmdebstrap leaves out.
apt_ensure arch-test gpg libdpkg-perl mount debian-archive-keyring python3
