#!/bin/sh
# apk-tools oracle: reads `A<TAB>B` lines on stdin and prints, per line, what
# `apk version -t -- A B` prints (`<`, `=` or `>`), or `error` when apk
# rejects a version (it then prints nothing and exits 1).
# $1 is an Alpine root filesystem; its apk runs through its own musl loader.
set -u
R="$1"
tab=$(printf '\t')
while IFS= read -r line; do
  a=${line%%"$tab"*}
  b=${line#*"$tab"}
  out=$("$R/lib/ld-musl-x86_64.so.1" --library-path "$R/lib:$R/usr/lib" \
    "$R/sbin/apk" version -t -- "$a" "$b" 2>/dev/null) || out=error
  [ -n "$out" ] || out=error
  printf '%s\n' "$out"
done
