#!/usr/bin/env bash
# Builds what a real node runs (issue 21, tools/real/REAL-PODS.md), beside build.sh's cache and keyed the same way:
#   <dir>/kubelet, <dir>/kube-proxy   from k8s.io/kubernetes, pinned by kubernetes-node/go.mod (the same version
#                                     as the control plane in kubernetes/go.mod)
#   <dir>/images/pause.tar, probe.tar from node/build-images.sh (our pause from node/pause.c; busybox-static)
# An optional target: CI does not run it yet (build.sh and its outputs are unchanged). The last line printed is
# <dir>; <cache>/node-current links to it. Set GROUNDWORK_REAL_TOOLS_CACHE to move the cache.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${GROUNDWORK_REAL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/groundwork/real-tools}"
command -v go >/dev/null 2>&1 || { echo "real-node-tools: the Go toolchain is not on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
log() { echo "real-node-tools: $*" >&2; }

v="$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/kubernetes-node/go.mod")"
cp_v="$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/kubernetes/go.mod")"
[ "$v" = "$cp_v" ] || log "warning: the node pins kubernetes $v, the control plane $cp_v"
key="$( (cat "$here/kubernetes-node/go.mod" "$here/kubernetes-node/go.sum" "$here/node/pause.c" "$here/node/build-images.sh" "$here/node/oci-archive.sh" "$0"; go env GOVERSION; sha256sum /bin/busybox 2>/dev/null || true) | sha256sum | cut -c1-16)"
d="$cache/node-$key"
mkdir -p "$cache"
if [ ! -f "$d/.complete" ]; then
  rm -rf "$d"; mkdir -p "$d"
  minor="$(echo "$v" | cut -d. -f2)"
  ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ld+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$v"
  start=$SECONDS
  log "building kubelet and kube-proxy $v"
  if ! (cd "$here/kubernetes-node" && go build -trimpath -ldflags "$ld" -o "$d/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy) >"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build kubelet/kube-proxy (log: $d.log)"; exit 1
  fi
  log "built in $((SECONDS - start)) s"
  bash "$here/node/build-images.sh" "$d/images"
  printf '{ "kubelet": "%s", "kube-proxy": "%s" }\n' "$v" "$v" > "$d/versions.json"
  touch "$d/.complete"
fi
for p in kubelet kube-proxy images/pause.tar images/probe.tar; do [ -e "$d/$p" ] || { log "missing $p in $d"; exit 1; }; done
ln -sfn "$d" "$cache/node-current"
echo "$d"
