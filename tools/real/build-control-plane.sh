#!/usr/bin/env bash
# The images `kubeadm init` runs, for an air-gapped node that preloads them (issue 21 item 4, tools/real/REAL-PODS.md),
# as `docker save` archives `ctr -n k8s.io images import` loads, tagged as kubeadm 1.37 asks for them under the
# mirror name groundwork.local (spec.images.registry: groundwork.local):
#   <dir>/kube-apiserver.tar, kube-controller-manager.tar, kube-scheduler.tar  groundwork.local/<name>:v1.37.2, from
#        build.sh's static binaries (its cache's `current` set), the binary in /bin (kubeadm's static pods run it by name)
#   <dir>/kube-proxy.tar  groundwork.local/kube-proxy:v1.37.2, build-node.sh's kube-proxy at /usr/local/bin/kube-proxy
#        (kubeadm's DaemonSet runs that path) with Debian's iptables (nf_tables backend, its xtables modules and
#        libraries) on PATH, which kube-proxy's iptables mode runs
#   <dir>/etcd.tar        groundwork.local/etcd:3.7.0-0, etcd 3.7.0 built here from go.etcd.io/etcd/server/v3 (etcd-3.7/)
#   <dir>/pause.tar       groundwork.local/pause:3.10.2: OUR pause (node/pause.c), under the tag kubeadm checks for
#   <dir>/coredns.tar     groundwork.local/coredns/coredns:v1.15.0: build-addons.sh's CoreDNS at the mirror's upstream
#        path; kubeadm 1.37 pins v1.14.6, so a spec sets bootstrap.kubeadm.imageTags.coredns: v1.15.0
# Cached by a key of every input (like build-node.sh); needs build.sh, build-node.sh and build-addons.sh first.
# The last line printed is <dir>; <cache>/control-plane-current links to it. Optional (not in npm test's pretest).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool=real-control-plane needs_go=" (it builds etcd 3.7)"
# shellcheck source=common.sh
source "$here/common.sh"
set_dir="$cache/current"; node_dir="$cache/node-current"; addons_dir="$cache/addons-current"
for f in "$set_dir/kube-apiserver" "$set_dir/kube-controller-manager" "$set_dir/kube-scheduler" "$set_dir/kubeadm"; do [ -x "$f" ] || { log "$f is missing (bash tools/real/build.sh)"; exit 1; }; done
[ -x "$node_dir/kube-proxy" ] || { log "$node_dir/kube-proxy is missing (bash tools/real/build-node.sh)"; exit 1; }
[ -x "$addons_dir/coredns" ] || { log "$addons_dir/coredns is missing (bash tools/real/build-addons.sh)"; exit 1; }
xt=/usr/sbin/xtables-nft-multi xtmods=/usr/lib/x86_64-linux-gnu/xtables
[ -x "$xt" ] && [ -d "$xtmods" ] || { log "Debian's iptables (nf_tables) is missing (apt-get install -y iptables)"; exit 1; }
v="$(k8s_version)"
xt_libs="$(ldd "$xt" "$xtmods"/*.so | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u)"
key="$( (cat "$here/etcd-3.7/go.mod" "$here/etcd-3.7/go.sum" "$here/etcd-3.7/cmd/etcd/main.go" "$here/node/pause.c" "$here/node/oci-archive.sh" "$0" "$here/common.sh"; go env GOVERSION
  sha256sum "$set_dir/kube-apiserver" "$set_dir/kube-controller-manager" "$set_dir/kube-scheduler" "$node_dir/kube-proxy" "$addons_dir/coredns" "$xt" "$xtmods"/*.so $xt_libs) | sha256sum | cut -c1-16)"
d="$cache/control-plane-$key"
if [ ! -f "$d/.complete" ]; then
  rm -rf "$d"; mkdir -p "$d"
  start=$SECONDS
  log "building etcd 3.7"
  if ! (cd "$here/etcd-3.7" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/etcd" ./cmd/etcd) >"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build etcd (log: $d.log)"; exit 1
  fi
  etcd_v="$("$d/etcd" --version | sed -n 's/^etcd Version: //p')"
  [ "$etcd_v" = 3.7.0 ] || { log "etcd says $etcd_v, not 3.7.0"; exit 1; }
  log "built etcd $etcd_v in $((SECONDS - start)) s"
  out="$d"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  # shellcheck source=node/oci-archive.sh
  . "$here/node/oci-archive.sh"
  root() { local r="$work/$1-root"; mkdir -p "$r/bin" "$r/etc" "$r/tmp"; chmod 1777 "$r/tmp"; printf 'root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"; echo "$r"; }
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    r="$(root "$c")"; cp -L "$set_dir/$c" "$r/bin/$c"
    image "$c" "groundwork.local/$c:$v" "$r" "[\"/bin/$c\"]"
  done
  r="$(root kube-proxy)"; mkdir -p "$r/usr/local/bin" "$r/run" "$r/lib/modules"
  cp -L "$node_dir/kube-proxy" "$r/usr/local/bin/kube-proxy"; ln -s ../usr/local/bin/kube-proxy "$r/bin/kube-proxy"
  cp "$xt" "$r/bin/xtables-nft-multi"
  for a in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi "$r/bin/$a"; done
  mkdir -p "$r$xtmods"; cp "$xtmods"/*.so "$r$xtmods/"
  for l in $xt_libs; do mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"; done
  image kube-proxy "groundwork.local/kube-proxy:$v" "$r" '["/usr/local/bin/kube-proxy"]'
  r="$(root etcd)"; mkdir -p "$r/var/lib/etcd"; cp "$d/etcd" "$r/bin/etcd"
  image etcd groundwork.local/etcd:3.7.0-0 "$r" '["/bin/etcd"]'
  r="$work/pause-root"; mkdir -p "$r"; gcc -static -Os -s -o "$r/pause" "$here/node/pause.c"
  image pause groundwork.local/pause:3.10.2 "$r" '["/pause"]'
  r="$(root coredns)"; cp -L "$addons_dir/coredns" "$r/coredns"
  image coredns groundwork.local/coredns/coredns:v1.15.0 "$r" '["/coredns"]'
  printf '{ "kubernetes": "%s", "etcd": "%s", "coredns": "v1.15.0", "pause": "groundwork (node/pause.c) as 3.10.2" }\n' "$v" "$etcd_v" > "$d/versions.json"
  log "done in $((SECONDS - start)) s"
  touch "$d/.complete"
fi
for p in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd pause coredns; do [ -e "$d/$p.tar" ] || { log "missing $p.tar in $d"; exit 1; }; done
ln -sfn "$d" "$cache/control-plane-current"
echo "$d"
