# Helpers shared by tools/real/real-node.sh and tools/real/kubeadm-node.sh (sourced, not run): a node's
# processes are stopped by the pid files the scripts wrote, its containers through the CRI and then by its cgroups.

stop_pidfile() { # stop_pidfile FILE: SIGTERM the pid in FILE (and its process group), SIGKILL after 10 s
  local f="$1" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

kill_cri_tasks() { # kill_cri_tasks SOCK: every task containerd at SOCK runs in k8s.io, SIGKILL
  local sock="$1" t
  [ -S "$sock" ] || return 0
  for t in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$sock" -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true
  done
}

kill_cgroups() { # kill_cgroups ROOT: any process left in the node's cgroups (a container of this node), then the cgroups
  local root="$1" c
  case "$root" in groundwork-?*) ;; *) echo "refusing: cgroup root '$root' is not a node's" >&2; return 1 ;; esac
  for c in /sys/fs/cgroup/*/"$root" /sys/fs/cgroup/"$root"; do
    [ -d "$c" ] || continue
    find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do kill -KILL "$p" 2>/dev/null || true; done
  done
  sleep 0.5
  for c in /sys/fs/cgroup/*/"$root" /sys/fs/cgroup/"$root"; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

remove_pod_netns() { # remove_pod_netns BEFORE_LIST: the pod netns files containerd pinned under /run/netns since BEFORE_LIST was taken
  local n
  # (their nsfs mounts lived in the node's mount namespace and are gone; the files are left on /run/netns)
  for n in $(ls /run/netns 2>/dev/null | grep '^cni-' || true); do
    grep -qx "$n" "$1" 2>/dev/null || rm -f "/run/netns/$n"
  done
}

# write_containerd_config FILE DIR ADDRESS SANDBOX_IMAGE CNI_CONF_DIR: Debian's containerd 1.6 with its CRI plugin
# for a node of ours: state under DIR, overlayfs, runc on cgroupfs, the bridge/host-local/loopback CNI plugins.
write_containerd_config() {
  cat > "$1" <<CONF
version = 2
root = "$2/containerd/root"
state = "$2/containerd/state"
[grpc]
  address = "$3"
[ttrpc]
  address = "$3.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$4"
  enable_selinux = false
  # Our root has no CAP_SYS_RESOURCE (it is outside the bounding set), so no process can lower its oom_score_adj
  # below 0 and runc refuses the sandbox's -998 ("failed to update /proc/self/oom_score_adj: Permission denied").
  # This clamps every container's oom_score_adj to containerd's own (0), the rootless setting.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$2/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$5"
CONF
}

# require_node_programs [EXTRA...]: a node's host programs (Debian's containerd, runc, CNI plugins, iptables, socat)
# and EXTRA, each named with the package that has it when missing (exit 1).
require_node_programs() {
  local b
  for b in containerd containerd-shim-runc-v2 runc ctr socat iptables nsenter unshare "$@"; do
    command -v "$b" >/dev/null || { log "$b is not installed (apt-get install -y containerd runc containernetworking-plugins iptables socat${*:+ openssh-server})"; exit 1; }
  done
  [ -x /usr/lib/cni/bridge ] || { log "the CNI plugins are not installed (apt-get install -y containernetworking-plugins)"; exit 1; }
}
