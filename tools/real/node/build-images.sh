#!/usr/bin/env bash
# Builds the two images a real node needs, from static binaries, as `docker save` archives that
# `ctr -n k8s.io images import` loads (the way an air-gapped install preloads images; no registry is contacted):
#   <out>/pause.tar  groundwork.local/pause:1  our own pause (pause.c beside this script, gcc -static): PID 1 of
#                    each pod sandbox, sleeps until SIGTERM/SIGINT, reaps orphans
#   <out>/probe.tar  groundwork.local/probe:1  Debian's busybox-static with its applets linked in /bin (sh, wget, nc,
#                    nslookup, httpd, sleep ...): the probe vocabulary
# Deterministic: the same inputs give the same image IDs. Usage: build-images.sh OUTDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build-images.sh OUTDIR}"
mkdir -p "$out"
busybox="${BUSYBOX:-/bin/busybox}"
command -v gcc >/dev/null || { echo "build-images: gcc is needed to build pause" >&2; exit 1; }
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
[ -x "$busybox" ] && file_is_static "$busybox" || { echo "build-images: $busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

# shellcheck source=oci-archive.sh
. "$here/oci-archive.sh"

# pause
mkdir -p "$work/pause-root"
gcc -static -Os -s -o "$work/pause-root/pause" "$here/pause.c"
image pause groundwork.local/pause:1 "$work/pause-root" '["/pause"]'

# probe
r="$work/probe-root"
mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root"
chmod 1777 "$r/tmp"
cp "$busybox" "$r/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
image probe groundwork.local/probe:1 "$r" '["/bin/sh"]'
