# Sourced by build.sh and build-node.sh: where the cache is, the Go toolchain's settings, logging, and one
# `go build` step. The sourcing script sets first: here (this directory), tool (its log prefix) and needs_go
# (what the missing-Go message adds). Nothing here is part of build.sh's cache keys: those hash the
# components' pins and each build_<component> function's own text.
cache="${GROUNDWORK_REAL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/groundwork/real-tools}"
log() { echo "$tool: $*" >&2; }
command -v go >/dev/null 2>&1 || { log "the Go toolchain is not on PATH$needs_go"; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
mkdir -p "$cache"

# build COMPONENT OUTDIR LDFLAGS PACKAGE...: go build in tools/real/COMPONENT into OUTDIR, its log in OUTDIR.log.
build() {
  local component="$1" out="$2" ldflags="$3"; shift 3
  local start=$SECONDS
  log "building $component ($*)"
  if ! (cd "$here/$component" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$@") >"$out.log" 2>&1; then
    tail -n 30 "$out.log" >&2
    log "could not build $component: $* (log: $out.log)"
    exit 1
  fi
  log "built $component in $((SECONDS - start)) s"
}

# k8s_version [MODULE]: the k8s.io/kubernetes version tools/real/MODULE (default kubernetes) pins.
k8s_version() { sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/${1:-kubernetes}/go.mod"; }
mod_version() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }
