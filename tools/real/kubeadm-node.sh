#!/usr/bin/env bash
# A machine for `groundwork setup` with the kubeadm bootstrap to set up for real (issue 21 item 4,
# tools/real/REAL-PODS.md), inside namespaces of its own on this machine: TEST INFRASTRUCTURE, not part of groundwork.
# What an operator's freshly installed node has, and nothing of the cluster yet:
#   - a network namespace gw-NODE_NAME with lo only (127.0.0.1 and the node address NODE_IP/32; a route for the
#     Service CIDR; ip_forward on): nothing can leave it;
#   - a private mount namespace where /etc and /var/lib are overlays whose upper dirs are under DIR (what kubeadm
#     writes to /etc/kubernetes, /var/lib/kubelet, /var/lib/etcd lands there), and the few hard-coded host paths
#     (/run/containerd, /run/netns, /var/log/pods, /var/log/containers) are directories under DIR;
#   - containerd (Debian's 1.6, CRI, its socket at /run/containerd/containerd.sock inside) with the images of
#     IMAGES preloaded into k8s.io (an air-gapped operator's `ctr images import`) and the bridge CNI conflist in
#     /etc/cni/net.d (the cluster's CNI: pods get 10.244.0.0/24, the first node CIDR kube-controller-manager hands out);
#   - OpenSSH's sshd on 127.0.0.1:22 inside, reached from host loopback at SSH_HOST:SSH_PORT, and the API server's
#     6443 at SSH_HOST:6443, each through socat over a unix socket under DIR (no link between the namespaces);
#   - a stand-in for kubelet.service + kubeadm's 10-kubeadm.conf drop-in (no systemd here): a loop that, once
#     /var/lib/kubelet/config.yaml exists, runs kubelet with --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf
#     --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS (from
#     /var/lib/kubelet/kubeadm-flags.env) $KUBELET_EXTRA_ARGS (from /etc/default/kubelet), and restarts it when it exits
#     (Restart=always). /etc/default/kubelet holds this machine's own needs: --cgroup-root=/groundwork-NODE (so down
#     finds every pod cgroup) and --oom-score-adj=0 (no CAP_SYS_RESOURCE here: REAL-PODS.md, "What did not work", 4).
#
#   kubeadm-node.sh up DIR     env: NODE_NAME (cp-1) NODE_IP (10.88.0.1) SSH_HOST (127.0.0.x) SSH_PORT
#                              AUTHORIZED_KEY (a .pub file root accepts) SSH_PATH (dirs put first on the sessions' PATH:
#                              kubeadm's and kubelet's) NODE_BIN (kubelet) IMAGES (image archives, space-separated)
#   kubeadm-node.sh down DIR   every process (by pid), the pods' cgroups, the netns, the mount points it made
# Needs root and: containerd runc containernetworking-plugins iptables socat openssh-server.
set -euo pipefail
cmd="${1:?usage: kubeadm-node.sh up|down DIR}"
dir="$(mkdir -p "${2:?usage: kubeadm-node.sh up|down DIR}" && cd "$2" && pwd)"
log() { echo "kubeadm-node: $*" >&2; }
# shellcheck source=tools/real/node/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"


if [ "$cmd" = down ]; then
  [ -f "$dir/env" ] || { log "nothing to stop in $dir"; exit 0; }
  # shellcheck disable=SC1091
  . "$dir/env"
  case "$CGROUP_ROOT" in groundwork-?*) ;; *) log "refusing: cgroup root '$CGROUP_ROOT' in $dir/env is not the node's"; exit 1 ;; esac
  stop_pidfile "$dir/kubelet-service.pid"
  stop_pidfile "$dir/kubelet.pid"
  sock="$dir/host/run/containerd/containerd.sock"
  kill_cri_tasks "$sock"
  stop_pidfile "$dir/sshd.pid"
  stop_pidfile "$dir/containerd.pid"
  stop_pidfile "$dir/node.pid"
  for p in /proc/[0-9]*; do # the runc shims (they leave containerd's group), by the address they serve
    if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q -- "-address /run/containerd/containerd.sock" && [ "$(readlink "$p/ns/net")" = "$(cat "$dir/netns.id" 2>/dev/null)" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  kill_cgroups "$CGROUP_ROOT"
  for f in "$dir"/socat-*.pid; do stop_pidfile "$f"; done
  remove_pod_netns "$dir/netns-before.list"
  ip netns delete "$NETNS" 2>/dev/null || true
  if [ -f "$dir/created-paths" ]; then
    # (ip netns delete unmounts lazily: /run/netns may need a moment to be empty)
    tac "$dir/created-paths" | while read -r p; do
      # `ip netns add` bind-mounts /run/netns on itself when it makes it: a /run/netns we created goes whole.
      if [ "$p" = /run/netns ] && [ -z "$(ls -A /run/netns)" ] && mountpoint -q /run/netns; then umount /run/netns 2>/dev/null || true; fi
      for _ in $(seq 20); do rmdir "$p" 2>/dev/null && break; sleep 0.1; done
      [ ! -e "$p" ] || log "left $p (not empty)"
    done
    rm -f "$dir/created-paths"
  fi
  rm -f "$dir/env"
  log "node $NODE_NAME down"
  exit 0
fi

[ "$cmd" = up ] || { log "unknown command $cmd"; exit 2; }
: "${SSH_HOST:?}" "${SSH_PORT:?}" "${AUTHORIZED_KEY:?}" "${NODE_BIN:?}" "${IMAGES:?}"
NODE_NAME="${NODE_NAME:-cp-1}"
NODE_IP="${NODE_IP:-10.88.0.1}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/12}"
POD_CIDR="${POD_CIDR:-10.244.0.0/24}"
NETNS="gw-$NODE_NAME"
CGROUP_ROOT="groundwork-$NODE_NAME"
require_node_programs /usr/sbin/sshd ssh-keygen
[ -x "$NODE_BIN/kubelet" ] || { log "$NODE_BIN/kubelet is missing (bash tools/real/build-node.sh)"; exit 1; }
printf 'NODE_NAME=%q\nNETNS=%q\nCGROUP_ROOT=%q\n' "$NODE_NAME" "$NETNS" "$CGROUP_ROOT" > "$dir/env"
ls /run/netns 2>/dev/null > "$dir/netns-before.list" || true
HOST_PATHS="/run/containerd /run/netns /var/log/pods /var/log/containers"
: > "$dir/created-paths"
for p in $HOST_PATHS; do
  [ -e "$p" ] || { mkdir -p "$p"; echo "$p" >> "$dir/created-paths"; }
  mkdir -p "$dir/host$p"
done
mkdir -p "$dir"/{containerd/root,containerd/state,cni/state,sysctl,logs,runc,ssh} "$dir"/node/{etc,var_lib}/{up,work}
mkdir -p /run/sshd

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p "/sys/fs/cgroup/$CGROUP_ROOT"
else
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [ -f "$h/cpuset.cpus" ]; then cat "$h/cpuset.cpus" > "$h$CGROUP_ROOT/cpuset.cpus"; cat "$h/cpuset.mems" > "$h$CGROUP_ROOT/cpuset.mems"; fi
  done
fi

ip netns add "$NETNS"
ns() { ip netns exec "$NETNS" "$@"; }
ns ip link set lo up
ns ip addr add "$NODE_IP/32" dev lo
ns ip route add "$SERVICE_CIDR" dev lo
ns sysctl -qw net.ipv4.ip_forward=1
ns readlink /proc/self/ns/net > "$dir/netns.id"

# The node's files, written into the overlays' upper dirs before the node starts (an installed machine's own).
etc="$dir/node/etc/up"
mkdir -p "$etc/cni/net.d" "$etc/default"
cat > "$etc/cni/net.d/10-groundwork.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "groundwork",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$dir/cni/state" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
printf 'KUBELET_EXTRA_ARGS="--cgroup-root=/%s --oom-score-adj=0"\n' "$CGROUP_ROOT" > "$etc/default/kubelet"
write_containerd_config "$dir/containerd.toml" "$dir" /run/containerd/containerd.sock groundwork.local/pause:3.10.2 /etc/cni/net.d
[ -f "$dir/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$NODE_NAME" -f "$dir/ssh/host_ed25519"
cp "$AUTHORIZED_KEY" "$dir/ssh/authorized_keys"; chmod 0644 "$dir/ssh/authorized_keys"
cat > "$dir/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1:22
HostKey $dir/ssh/host_ed25519
PidFile $dir/ssh/sshd.pid
AuthorizedKeysFile $dir/ssh/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
SetEnv PATH=${SSH_PATH:+$SSH_PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
/usr/sbin/sshd -t -f "$dir/ssh/sshd_config"

cat > "$dir/kubelet-service.sh" <<EOF
# kubelet.service + 10-kubeadm.conf, without systemd (test infrastructure; see kubeadm-node.sh's header)
while :; do
  if [ -f /var/lib/kubelet/config.yaml ]; then
    KUBELET_KUBEADM_ARGS= KUBELET_EXTRA_ARGS=
    [ -f /var/lib/kubelet/kubeadm-flags.env ] && . /var/lib/kubelet/kubeadm-flags.env
    [ -f /etc/default/kubelet ] && . /etc/default/kubelet
    echo "kubelet-service: starting kubelet \$KUBELET_KUBEADM_ARGS \$KUBELET_EXTRA_ARGS" >> "$dir/logs/kubelet.log"
    # shellcheck disable=SC2086
    "$NODE_BIN/kubelet" --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf \
      --config=/var/lib/kubelet/config.yaml \$KUBELET_KUBEADM_ARGS \$KUBELET_EXTRA_ARGS >> "$dir/logs/kubelet.log" 2>&1 &
    echo \$! > "$dir/kubelet.pid"
    wait \$! || true
    echo "kubelet-service: kubelet exited; restarting in 1 s" >> "$dir/logs/kubelet.log"
  fi
  sleep 1
done
EOF

cat > "$dir/node.sh" <<EOF
set -eu
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$dir/node/etc/up,workdir=$dir/node/etc/work /etc
mount -t overlay overlay -o lowerdir=/var/lib,upperdir=$dir/node/var_lib/up,workdir=$dir/node/var_lib/work /var/lib
for p in $HOST_PATHS; do mount --bind "$dir/host\$p" "\$p"; done
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1; do
  k=\${kv%%=*}; f="$dir/sysctl/\$(echo \$k | tr / _)"; echo "\${kv#*=}" > "\$f"; mount --bind -o ro "\$f" "/proc/sys/\$k"
done
containerd --config "$dir/containerd.toml" > "$dir/logs/containerd.log" 2>&1 &
echo \$! > "$dir/containerd.pid"
for i in \$(seq 100); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break; sleep 0.1; done
for img in $IMAGES; do ctr -n k8s.io images import "\$img" >> "$dir/logs/import.log" 2>&1; done
/usr/sbin/sshd -D -e -f "$dir/ssh/sshd_config" > "$dir/logs/sshd.log" 2>&1 &
echo \$! > "$dir/sshd.pid"
bash "$dir/kubelet-service.sh" &
echo \$! > "$dir/kubelet-service.pid"
echo ready > "$dir/node.ready"
wait
EOF
rm -f "$dir/node.ready"
setsid unshare -m --propagation private nsenter --net="/run/netns/$NETNS" bash "$dir/node.sh" </dev/null > "$dir/logs/node.log" 2>&1 &
echo $! > "$dir/node.pid"

# sshd and the API server's port, from host loopback into the netns (a unix socket crosses namespaces).
bridge() { # bridge NAME HOSTPORT NSPORT
  rm -f "$dir/$1.sock"
  setsid ip netns exec "$NETNS" socat "UNIX-LISTEN:$dir/$1.sock,fork,mode=600" "TCP:127.0.0.1:$3" </dev/null >/dev/null 2>"$dir/logs/socat-$1-ns.log" &
  echo $! > "$dir/socat-$1-ns.pid"
  for _ in $(seq 50); do [ -S "$dir/$1.sock" ] && break; sleep 0.1; done
  setsid socat "TCP-LISTEN:$2,bind=$SSH_HOST,fork,reuseaddr" "UNIX-CONNECT:$dir/$1.sock" </dev/null >/dev/null 2>"$dir/logs/socat-$1-host.log" &
  echo $! > "$dir/socat-$1-host.pid"
}
bridge ssh "$SSH_PORT" 22
bridge api 6443 6443

for _ in $(seq 600); do
  if [ -f "$dir/node.ready" ] && ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3' 2>/dev/null | grep -q SSH-; then
    log "node $NODE_NAME up (netns $NETNS, address $NODE_IP; ssh at $SSH_HOST:$SSH_PORT, API at $SSH_HOST:6443)"
    exit 0
  fi
  kill -0 "$(cat "$dir/node.pid")" 2>/dev/null || { log "the node's processes exited:"; tail -n 30 "$dir/logs/node.log" >&2 || true; exit 1; }
  sleep 0.2
done
log "sshd did not answer within 120 s:"; tail -n 30 "$dir/logs/node.log" "$dir/logs/sshd.log" >&2 || true
exit 1
