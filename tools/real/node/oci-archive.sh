# image NAME REF ROOTFS ENTRYPOINT_JSON: a one-layer `docker save` archive $out/NAME.tar of ROOTFS tagged REF, which
# `ctr -n k8s.io images import` loads. Deterministic (tar --sort=name --mtime=@0, numeric owner 0): the same inputs
# give the same image ID. Sourced by build-images.sh and ../build-addons.sh; needs $out and $work set.
image() {
  local name="$1" ref="$2" rootfs="$3" entry="$4" d="$work/$1"
  mkdir -p "$d"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$d/layer.tar" .
  local diff; diff="$(sha256sum "$d/layer.tar" | cut -d' ' -f1)"
  mkdir -p "$d/$diff"; mv "$d/layer.tar" "$d/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Entrypoint":%s,"Env":["PATH=/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$diff" > "$d/config.json"
  local cfg; cfg="$(sha256sum "$d/config.json" | cut -d' ' -f1)"
  mv "$d/config.json" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" > "$d/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d" -cf "$out/$name.tar" manifest.json "$cfg.json" "$diff"
  echo "build-images: $out/$name.tar $ref sha256:$cfg" >&2
}

