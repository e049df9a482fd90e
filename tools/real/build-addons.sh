#!/usr/bin/env bash
# Builds what the real-pods lab deploys beside its nodes (issue 21, tools/real/REAL-PODS.md), cached beside
# build-node.sh's and keyed the same way:
#   <dir>/coredns      CoreDNS v1.15.0 from its Go module, with the plugins a kube-dns Corefile uses (coredns/main.go)
#   <dir>/coredns.tar  groundwork.local/coredns:v1.15.0 (just /coredns)
#   <dir>/local-path.tar  groundwork.local/local-path-provisioner:v0.0.30, from github.com/rancher/local-path-provisioner
#                      (local-path/go.mod): the lab's default StorageClass
#   <dir>/agnhost      agnhost from k8s.io/kubernetes/test/images/agnhost at the node's version (agnhost/go.mod)
#   <dir>/agnhost.tar  groundwork.local/e2e-test-images/agnhost:2.53: what validate's probe pods run (with
#                      --image-registry groundwork.local), laid out like upstream's (Alpine + bind-tools, curl,
#                      netcat-openbsd): /agnhost, busybox-static's applets in /bin (awk, sha256sum, sleep ...), and
#                      from Debian, with their libraries: netcat-openbsd's nc (busybox's has no -z), bind's nslookup
#                      (busybox's applies the search list only to names without a dot: no `kubernetes.default`),
#                      curl, and dash as /bin/sh (busybox's sh runs its own applets before anything on PATH)
#   <dir>/kube-router-netpol  kube-router's NetworkPolicy controller alone (netpol/main.go links only
#                      github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol and what it imports: no
#                      service proxy, no BGP routing; the build refuses a binary that holds either). A node process
#                      like kube-proxy (real-node.sh runs it in the node's network namespace), not an image.
# Optional like build-node.sh (CI's default build.sh is unchanged). The last line printed is <dir>;
# <cache>/addons-current links to it. Set GROUNDWORK_REAL_TOOLS_CACHE to move the cache.
# Needs: go and apt-get install -y busybox-static netcat-openbsd bind9-dnsutils curl dash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${GROUNDWORK_REAL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/groundwork/real-tools}"
log() { echo "real-addons: $*" >&2; }
command -v go >/dev/null 2>&1 || { log "the Go toolchain is not on PATH"; exit 1; }
nc_bin=/bin/nc.openbsd
[ -x "$nc_bin" ] || { log "$nc_bin is missing (apt-get install -y netcat-openbsd)"; exit 1; }
sh_bin=/bin/dash
[ -x "$sh_bin" ] || { log "$sh_bin is missing (apt-get install -y dash)"; exit 1; }
ns_bin=/usr/bin/nslookup
case "$(ldd "$ns_bin" 2>/dev/null)" in *libdns*) ;; *) false ;; esac || { log "bind's $ns_bin is missing (apt-get install -y bind9-dnsutils)"; exit 1; }
curl_bin=/usr/bin/curl
[ -x "$curl_bin" ] || { log "$curl_bin is missing (apt-get install -y curl)"; exit 1; }
busybox="${BUSYBOX:-/bin/busybox}"
! ldd "$busybox" >/dev/null 2>&1 || { log "$busybox is not a static busybox (apt-get install -y busybox-static)"; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
nc_libs="$(ldd "$nc_bin" "$sh_bin" "$ns_bin" "$curl_bin" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u)"

key="$( (cat "$here/coredns/go.mod" "$here/coredns/go.sum" "$here/coredns/main.go" "$here/local-path/go.mod" "$here/local-path/go.sum" "$here/agnhost/go.mod" "$here/agnhost/go.sum" \
  "$here/netpol/go.mod" "$here/netpol/go.sum" "$here/netpol/main.go" \
  "$here/node/oci-archive.sh" "$0"; go env GOVERSION; sha256sum "$busybox" "$nc_bin" "$sh_bin" "$ns_bin" "$curl_bin" $nc_libs) | sha256sum | cut -c1-16)"
d="$cache/addons-$key"
mkdir -p "$cache"
if [ ! -f "$d/.complete" ]; then
  rm -rf "$d"; mkdir -p "$d"
  start=$SECONDS
  log "building coredns"
  if ! (cd "$here/coredns" && go build -trimpath -ldflags "-s -w" -o "$d/coredns" .) >"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build coredns (log: $d.log)"; exit 1
  fi
  log "building local-path-provisioner"
  if ! (cd "$here/local-path" && go build -trimpath -ldflags "-s -w" -o "$d/local-path-provisioner" github.com/rancher/local-path-provisioner) >>"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build local-path-provisioner (log: $d.log)"; exit 1
  fi
  log "building agnhost"
  if ! (cd "$here/agnhost" && go build -trimpath -ldflags "-s -w" -o "$d/agnhost" k8s.io/kubernetes/test/images/agnhost) >>"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build agnhost (log: $d.log)"; exit 1
  fi
  log "building kube-router-netpol"
  t=$SECONDS
  if ! (cd "$here/netpol" && go build -trimpath -ldflags "-s -w" -o "$d/kube-router-netpol" .) >>"$d.log" 2>&1; then
    tail -n 30 "$d.log" >&2; log "could not build kube-router-netpol (log: $d.log)"; exit 1
  fi
  log "built kube-router-netpol in $((SECONDS - t)) s"
  # What went in: kube-router's packages (go list) and modules (go version -m). Its service proxy
  # (GHSA-phqm-jgc3-qf8g) and BGP routing with GoBGP (GHSA-v5mh-h5hx-7v92) must not be among them.
  (cd "$here/netpol" && go list -deps .) | grep '^github.com/cloudnativelabs/kube-router/' > "$d/kube-router-netpol.packages"
  go version -m "$d/kube-router-netpol" > "$d/kube-router-netpol.modules"
  if grep -E '/pkg/controllers/(proxy|routing|lballoc)|/pkg/bgp|/pkg/cmd' "$d/kube-router-netpol.packages" || grep -Ei 'gobgp|moby/ipvs|docker' "$d/kube-router-netpol.modules"; then
    log "kube-router-netpol links more of kube-router than its policy controller (above)"; exit 1
  fi
  log "built in $((SECONDS - start)) s"
  out="$d"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  # shellcheck source=node/oci-archive.sh
  . "$here/node/oci-archive.sh"
  r="$work/coredns-root"; mkdir -p "$r/etc"
  cp "$d/coredns" "$r/coredns"
  printf 'root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  image coredns groundwork.local/coredns:v1.15.0 "$r" '["/coredns"]'
  r="$work/local-path-root"; mkdir -p "$r/etc" "$r/tmp"; chmod 1777 "$r/tmp"
  cp "$d/local-path-provisioner" "$r/local-path-provisioner"
  printf 'root:x:0:0:root:/:/bin/false\n' > "$r/etc/passwd"
  image local-path groundwork.local/local-path-provisioner:v0.0.30 "$r" '["/local-path-provisioner"]'
  r="$work/agnhost-root"; mkdir -p "$r/bin" "$r/etc" "$r/tmp"; chmod 1777 "$r/tmp"
  cp "$d/agnhost" "$r/agnhost"
  cp "$busybox" "$r/bin/busybox"
  for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
  rm -f "$r/bin/nc" "$r/bin/sh" "$r/bin/nslookup"
  cp "$nc_bin" "$r/bin/nc"; cp "$sh_bin" "$r/bin/sh"; cp "$ns_bin" "$r/bin/nslookup"; cp "$curl_bin" "$r/bin/curl"
  for l in $nc_libs; do mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"; done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  image agnhost groundwork.local/e2e-test-images/agnhost:2.53 "$r" '["/agnhost"]'
  printf '{ "coredns": "v1.15.0", "local-path-provisioner": "v0.0.30", "agnhost": "k8s.io/kubernetes %s", "kube-router-netpol": "kube-router %s (pkg/controllers/netpol)" }\n' "$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/agnhost/go.mod")" "$(cd "$here/netpol" && go list -m -f '{{.Version}}' github.com/cloudnativelabs/kube-router/v2)" > "$d/versions.json"
  touch "$d/.complete"
fi
for p in coredns.tar local-path.tar agnhost.tar kube-router-netpol; do [ -e "$d/$p" ] || { log "missing $p in $d"; exit 1; }; done
ln -sfn "$d" "$cache/addons-current"
echo "$d"
