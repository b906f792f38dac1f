# secrets: planted secrets and image misconfigurations for caisson-secrets and
# caisson-misconfig (sourced by scripts/fixtures, which provides the helpers).
# Synthetic, no downloads. Tag `v1` (the positive image), three layers:
#   0  base: /etc/passwd, a set-uid copy of /bin/true (/usr/bin/su-helper),
#      /usr/sbin/sshd (a copy of /bin/true: the check is on the path), an apt list
#      file and a pip cache entry left behind, a benign /etc/app/app.conf
#   1  secrets: /app/.env (AWS key id + secret), /app/id_rsa (a fresh
#      `openssl genrsa -traditional` key), /root/.docker/config.json,
#      /root/.npmrc, /root/.pypirc, /app/config/database.yml (postgres URL with a
#      password), /app/github.txt (ghp_ token), /app/sa.json (GCP service
#      account with a PKCS#8 key), /app/slack.txt (webhook URL)
#   2  deletes /app/.env and /app/id_rsa (umoci-style `.wh.` whiteouts): both
#      secrets must still be reported, in layer 1
# Config: Env DB_PASSWORD and GITHUB_TOKEN, ExposedPorts 22/tcp and 80/tcp, no
# User, no Healthcheck, label org.opencontainers.image.base.name=debian:latest;
# history: FROM debian:latest, ARG/RUN |1 NPM_TOKEN=…, ADD of a remote archive,
# ENV DB_PASSWORD=….
# Tag `clean`: one layer of benign files, User 65532, ExposedPorts 8080/tcp; no
# secret and no misconfiguration except no-healthcheck (umoci cannot set a
# Healthcheck; the negative case for it is in caisson-misconfig's unit tests).
# expected/planted.txt: `<rule-id> <layer> <path>` for every planted file secret;
# expected/planted-values.txt: the raw secret values (for the redaction test).
DEPS[secrets]=""

secrets_rand() { # N ALPHABET
  python3 -c "import secrets,sys; n=int(sys.argv[1]); a=sys.argv[2]; print(''.join(secrets.choice(a) for _ in range(n)))" "$1" "$2"
}

build_secrets() {
  local out=$1 work=$2 tag=v1 l0="$2/l0" l1="$2/l1" l2="$2/l2" c="$2/clean"
  local AN=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789
  local akid="AKIA$(secrets_rand 16 ABCDEFGHIJKLMNOPQRSTUVWXYZ234567)"
  local aksec; aksec="$(secrets_rand 40 "${AN}+/")"
  local ghp="ghp_$(secrets_rand 36 "$AN")" ghp2="ghp_$(secrets_rand 36 "$AN")"
  local npm="npm_$(secrets_rand 36 "$AN")" npmrc; npmrc="$(secrets_rand 32 "$AN")"
  local pypi; pypi="$(secrets_rand 20 "$AN")"
  local dbpw envpw; dbpw="$(secrets_rand 18 "$AN")"; envpw="$(secrets_rand 20 "$AN")"
  local slack="T0$(secrets_rand 8 ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789)/B0$(secrets_rand 8 ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789)/$(secrets_rand 24 "$AN")"
  local dauth; dauth="$(printf 'ci:%s' "$(secrets_rand 20 "$AN")" | base64 -w0)"
  mkdir -p "$l0/etc/app" "$l0/usr/bin" "$l0/usr/sbin" "$l0/var/lib/apt/lists" "$l0/root/.cache/pip/http/a/b" \
    "$l1/app/config" "$l1/root/.docker" "$l2/app" "$c/etc/app" "$c/app" "$out/expected"
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:65532:65532::/app:/bin/sh\n' >"$l0/etc/passwd"
  cp /bin/true "$l0/usr/bin/su-helper"; chmod 4755 "$l0/usr/bin/su-helper"
  cp /bin/true "$l0/usr/sbin/sshd"
  printf 'Origin: Debian\nSuite: stable\n' >"$l0/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"
  printf 'cached http response\n' >"$l0/root/.cache/pip/http/a/b/entry"
  printf '[server]\nport = 8080\npassword_file = /run/secrets/app\n' >"$l0/etc/app/app.conf"
  printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nREGION=eu-west-1\n' "$akid" "$aksec" >"$l1/app/.env"
  openssl genrsa -traditional -out "$l1/app/id_rsa" 2048 2>/dev/null
  printf '{"auths": {"registry.example.com": {"auth": "%s"}}}\n' "$dauth" >"$l1/root/.docker/config.json"
  printf '//registry.npmjs.org/:_authToken=%s\n' "$npmrc" >"$l1/root/.npmrc"
  printf '[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = uploader\npassword = %s\n' "$pypi" >"$l1/root/.pypirc"
  printf 'production:\n  url: postgres://app:%s@db.internal:5432/app\n' "$dbpw" >"$l1/app/config/database.yml"
  printf 'token: %s\n' "$ghp" >"$l1/app/github.txt"
  printf 'notify: https://hooks.slack.com/services/%s\n' "$slack" >"$l1/app/slack.txt"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/sa.pem" 2>/dev/null
  python3 - "$work/sa.pem" >"$l1/app/sa.json" <<'PY'
import json, sys
key = open(sys.argv[1]).read()
print(json.dumps({"type": "service_account", "project_id": "caisson-demo", "private_key_id": "0123abcd",
                  "private_key": key, "client_email": "ci@caisson-demo.iam.gserviceaccount.com"}, indent=2))
PY
  : >"$l2/app/.wh..env"; : >"$l2/app/.wh.id_rsa"
  printf '[server]\nport = 8080\n' >"$c/etc/app/app.conf"
  printf 'print("hello")\n' >"$c/app/main.py"
  {
    echo "aws-access-key-id 1 /app/.env"
    echo "aws-secret-access-key 1 /app/.env"
    echo "private-key 1 /app/id_rsa"
    echo "dockerconfig-secret 1 /root/.docker/config.json"
    echo "npmrc-auth 1 /root/.npmrc"
    echo "pypirc-password 1 /root/.pypirc"
    echo "database-url-password 1 /app/config/database.yml"
    echo "github-pat 1 /app/github.txt"
    echo "slack-web-hook 1 /app/slack.txt"
    echo "gcp-service-account 1 /app/sa.json"
  } >"$out/expected/planted.txt"
  printf '%s\n' "$akid" "$aksec" "$ghp" "$ghp2" "$npm" "$npmrc" "$pypi" "$dbpw" "$envpw" "$dauth" \
    "${slack##*/}" >"$out/expected/planted-values.txt"
  local d
  for d in l0 l1 l2; do tar_dir "$work/$d" "$work/$d.tar"; done
  tar_dir "$c" "$work/clean.tar"
  local img="$out/oci"
  umoci init --layout "$img"
  umoci new --image "$img:$tag"
  umoci config --image "$img:$tag" --no-history --architecture amd64 --os linux \
    --created "$CREATED" --author "caisson fixtures" \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env "DB_PASSWORD=$envpw" --config.env "GITHUB_TOKEN=$ghp2" \
    --config.exposedports 22/tcp --config.exposedports 80/tcp \
    --config.label org.opencontainers.image.base.name=docker.io/library/debian:latest
  umoci config --image "$img:$tag" --history.created "$CREATED" --history.created_by "FROM debian:latest"
  umoci raw add-layer --image "$img:$tag" --history.created "$CREATED" \
    --history.created_by "COPY base/ / # buildkit" "$work/l0.tar"
  umoci config --image "$img:$tag" --history.created "$CREATED" --history.created_by "ARG NPM_TOKEN"
  umoci config --image "$img:$tag" --history.created "$CREATED" \
    --history.created_by "RUN |1 NPM_TOKEN=$npm /bin/sh -c npm ci # buildkit"
  umoci config --image "$img:$tag" --history.created "$CREATED" \
    --history.created_by "ADD https://example.com/tool.tar.gz /opt/ # buildkit"
  umoci raw add-layer --image "$img:$tag" --history.created "$CREATED" \
    --history.created_by "COPY secrets/ / # buildkit" "$work/l1.tar"
  umoci raw add-layer --image "$img:$tag" --history.created "$CREATED" \
    --history.created_by "RUN /bin/sh -c rm /app/.env /app/id_rsa # buildkit" "$work/l2.tar"
  umoci config --image "$img:$tag" --history.created "$CREATED" --history.created_by "ENV DB_PASSWORD=$envpw"
  umoci new --image "$img:clean"
  umoci config --image "$img:clean" --no-history --architecture amd64 --os linux \
    --created "$CREATED" --author "caisson fixtures" --config.user 65532:65532 \
    --config.env "PATH=/usr/bin:/bin" --config.env "APP_PASSWORD_FILE=/run/secrets/app" \
    --config.exposedports 8080/tcp \
    --config.label org.opencontainers.image.base.name=docker.io/library/debian:12.5
  umoci raw add-layer --image "$img:clean" --history.created "$CREATED" \
    --history.created_by "COPY app/ / # buildkit" "$work/clean.tar"
  umoci gc --layout "$img"
  export_image "$out" "$tag" secrets
  skopeo_ copy -q "oci:$img:clean" "docker-archive:$out/clean-docker-archive.tar:$REF_PREFIX/secrets:clean"
  write_meta "$out" secrets "$tag" "planted secrets in three layers (two deleted by whiteouts), secrets in Env/history, every image misconfiguration; tag clean: the negative variant"
}
