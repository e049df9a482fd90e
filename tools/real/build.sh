#!/usr/bin/env bash
# Builds the real upstream programs the tests run (talosctl, kubeadm, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, helm, etcd/etcdctl/etcdutl 3.5 and 3.6) from their published Go modules, pinned by the
# go.mod files beside this script, into a cache outside the repository. A component is rebuilt only when its pins
# (go.mod, go.sum, our main.go), the Go version or this script change; a warm run takes seconds.
# The last line printed is the directory that holds them all:
#   <dir>/talosctl, kubeadm, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm
#   <dir>/etcd-3.5/{etcd,etcdctl,etcdutl}, <dir>/etcd-3.6/{etcd,etcdctl,etcdutl}
#   <dir>/versions.json: {"<program>": "<version>", ...}
# Set GROUNDWORK_REAL_TOOLS_CACHE to move the cache (default ~/.cache/groundwork/real-tools).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool=real-tools needs_go=" (it builds talosctl, kubeadm, kube-apiserver, helm and etcd)"
# shellcheck source=common.sh
source "$here/common.sh"
goversion="$(go env GOVERSION)"

# key COMPONENT: a hash of everything that decides the component's binaries.
key() {
  (cd "$here/$1" && cat go.mod go.sum $(find . -name '*.go' | sort) 2>/dev/null; echo "$goversion"; sed -n '/^build_'"${1//[-.]/_}"'()/,/^}/p' "$here/build.sh") | sha256sum | cut -c1-16
}

build_kubernetes() {
  local v; v="$(k8s_version)"
  local minor; minor="$(echo "$v" | cut -d. -f2)"
  local ld="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ld+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$v"
  build kubernetes "$1" "$ld" k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}
build_talos() {
  local v; v="$(mod_version talos github.com/siderolabs/talos)"
  build talos "$1" "-X github.com/siderolabs/talos/pkg/machinery/version.Tag=$v" github.com/siderolabs/talos/cmd/talosctl
}
build_helm() {
  local v; v="$(mod_version helm helm.sh/helm/v3)"
  build helm "$1" "-X helm.sh/helm/v3/internal/version.version=$v" helm.sh/helm/v3/cmd/helm
}
build_etcd_3_5() {
  build etcd-3.5 "$1" "" ./cmd/etcd go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
}
build_etcd_3_6() {
  build etcd-3.6 "$1" "" ./cmd/etcd go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
}

# Small ones first, so a cold build gives the quick programs early.
components=(etcd-3.6 etcd-3.5 helm kubernetes talos)
set_key=""
declare -A dirs
for c in "${components[@]}"; do
  k="$(key "$c")"
  d="$cache/$c-$k"
  if [ ! -f "$d/.complete" ]; then
    rm -rf "$d" "$d.log"
    mkdir -p "$d"
    "build_${c//[-.]/_}" "$d"
    touch "$d/.complete"
  fi
  dirs[$c]="$d"
  set_key+="$c-$k "
done

# One directory with every program, made of links into the component directories.
set_dir="$cache/set-$(echo "$set_key" | sha256sum | cut -c1-16)"
if [ ! -f "$set_dir/versions.json" ]; then
  tmp="$set_dir.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/etcd-3.5" "$tmp/etcd-3.6"
  for p in kubeadm kube-apiserver kube-controller-manager kube-scheduler kubectl; do ln -s "${dirs[kubernetes]}/$p" "$tmp/$p"; done
  ln -s "${dirs[talos]}/talosctl" "$tmp/talosctl"
  ln -s "${dirs[helm]}/helm" "$tmp/helm"
  for e in 3.5 3.6; do for p in etcd etcdctl etcdutl; do ln -s "${dirs[etcd-$e]}/$p" "$tmp/etcd-$e/$p"; done; done
  {
    echo "{"
    echo "  \"kubernetes\": \"$(k8s_version)\","
    echo "  \"talosctl\": \"$(mod_version talos github.com/siderolabs/talos)\","
    echo "  \"helm\": \"$(mod_version helm helm.sh/helm/v3)\","
    echo "  \"etcd-3.5\": \"$(mod_version etcd-3.5 go.etcd.io/etcd/server/v3)\","
    echo "  \"etcd-3.6\": \"$(mod_version etcd-3.6 go.etcd.io/etcd/server/v3)\""
    echo "}"
  } > "$tmp/versions.json"
  rm -rf "$set_dir"; mv "$tmp" "$set_dir"
fi
# Check that each program starts (a build that links but cannot run is caught here, not in a test).
for p in kubeadm kube-apiserver kube-controller-manager kube-scheduler kubectl talosctl helm etcd-3.5/etcd etcd-3.5/etcdctl etcd-3.5/etcdutl etcd-3.6/etcd etcd-3.6/etcdctl etcd-3.6/etcdutl; do
  [ -x "$set_dir/$p" ] || { log "missing $p in $set_dir"; exit 1; }
done
ln -sfn "$set_dir" "$cache/current"
echo "$set_dir"
