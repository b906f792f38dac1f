# Fixture `debian-nodejs` (plug-in of scripts/fixtures): language packages that
# the OS package manager installed, on top of the `debian` image.
#
#   layer 1  debian (bookworm minbase, copied from the `debian` fixture)
#   layer 2  apt: nodejs npm (Debian's node-* packages: one directory with a
#            package.json each under /usr/share/nodejs), ruby-rack (a gemspec
#            under /usr/share/rubygems-integration), libcommons-lang3-java (a
#            jar under /usr/share/java, no JVM), fzf (a Debian Go binary: a
#            GOPATH build, so its build info has a module path but no `mod`
#            line and no dependencies; bookworm builds every Go package so)
#
# expected/: dpkg.txt (what dpkg says is installed) and nodejs-packages.txt
# (every package.json under /usr/share/nodejs and /usr/lib/nodejs with a name
# and version, as `name version path`, read with jq).
DEPS[debian-nodejs]="debian"
NODEJS_OS_PKGS="nodejs,npm,ruby-rack,libcommons-lang3-java,fzf"

# syft and trivy CycloneDX of the image. trivy skips *.jar: its jar analyzer
# needs trivy's Java DB, which it cannot download offline (and refuses
# --skip-java-db-update without); Java is compared with syft only.
nodejs_reference_sboms() { # OUT
  local out=$1
  syft -q "docker-archive:$out/docker-archive.tar" -o "cyclonedx-json=$out/syft.cdx.json"
  trivy image --quiet --cache-dir "$TRIVY_CACHE" --skip-db-update --skip-java-db-update \
    --offline-scan --skip-version-check --disable-telemetry --skip-files '**/*.jar' \
    --format cyclonedx --output "$out/trivy.cdx.json" --input "$out/docker-archive.tar" ||
    die "trivy failed on $out/docker-archive.tar"
  log "  syft: $(jq '.components|length' "$out/syft.cdx.json") components, trivy: $(jq '.components|length' "$out/trivy.cdx.json") components"
}

build_debian_nodejs() {
  local out=$1 work=$2 tag=nodejs img
  img="$out/oci:$tag"
  umoci init --layout "$out/oci"
  skopeo_ copy -q "oci:$FX/debian/oci:bookworm" "oci:$img"
  umoci unpack --image "$img" "$work/bundle"
  local root="$work/bundle/rootfs"
  mkdir -p "$out/expected"
  log "  mmdebstrap --variant=minbase --include=$NODEJS_OS_PKGS"
  mmdebstrap_tar "$work/os.tar" minbase "$NODEJS_OS_PKGS"
  find "$root" -mindepth 1 -delete
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$work/os.tar"
  rm "$work/os.tar"
  umoci repack --refresh-bundle --image "$img" --history.created "$CREATED" \
    --history.created_by "mmdebstrap --variant=minbase --include=$NODEJS_OS_PKGS (diff against layer 1)" \
    "$work/bundle"
  dpkg_list "$root/var/lib/dpkg" >"$out/expected/dpkg.txt"
  (cd "$root" && find usr/share/nodejs usr/lib/nodejs -name package.json -type f 2>/dev/null |
    LC_ALL=C sort | while IFS= read -r f; do
      jq -r --arg f "/$f" 'select((.name|type)=="string" and (.version|type)=="string") | "\(.name) \(.version) \($f)"' "$f" 2>/dev/null || true
    done) >"$out/expected/nodejs-packages.txt"
  umoci gc --layout "$out/oci"
  export_image "$out" "$tag" debian-nodejs
  nodejs_reference_sboms "$out"
  write_meta "$out" debian-nodejs "$tag" "debian + apt nodejs/npm (node-* packages), ruby-rack, libcommons-lang3-java, fzf: language packages owned by OS packages"
}
