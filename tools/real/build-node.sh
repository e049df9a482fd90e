#!/usr/bin/env bash
# Builds what a real node runs (issue 21, tools/real/REAL-PODS.md), beside build.sh's cache and keyed the same way:
#   <dir>/kubelet, <dir>/kube-proxy   from k8s.io/kubernetes, pinned by kubernetes-node/go.mod (the same version
#                                     as the control plane in kubernetes/go.mod)
#   <dir>/images/pause.tar, probe.tar from node/build-images.sh (our pause from node/pause.c; busybox-static)
# An optional target: CI does not run it yet (build.sh and its outputs are unchanged). The last line printed is
# <dir>; <cache>/node-current links to it. Set GROUNDWORK_REAL_TOOLS_CACHE to move the cache.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool=real-node-tools needs_go=""
# shellcheck source=common.sh
source "$here/common.sh"

v="$(k8s_version kubernetes-node)"
cp_v="$(k8s_version)"
[ "$v" = "$cp_v" ] || log "warning: the node pins kubernetes $v, the control plane $cp_v"
key="$( (cat "$here/kubernetes-node/go.mod" "$here/kubernetes-node/go.sum" "$here/node/pause.c" "$here/node/build-images.sh" "$here/node/oci-archive.sh" "$0" "$here/common.sh"; go env GOVERSION; sha256sum /bin/busybox 2>/dev/null || true) | sha256sum | cut -c1-16)"
d="$cache/node-$key"
if [ ! -f "$d/.complete" ]; then
  rm -rf "$d"; mkdir -p "$d"
  minor="$(echo "$v" | cut -d. -f2)"
  # The same version stamps as build.sh's build_kubernetes.
  ld="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ld+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$v"
  build kubernetes-node "$d" "$ld" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  bash "$here/node/build-images.sh" "$d/images"
  printf '{ "kubelet": "%s", "kube-proxy": "%s" }\n' "$v" "$v" > "$d/versions.json"
  touch "$d/.complete"
fi
for p in kubelet kube-proxy images/pause.tar images/probe.tar; do [ -e "$d/$p" ] || { log "missing $p in $d"; exit 1; }; done
ln -sfn "$d" "$cache/node-current"
echo "$d"
