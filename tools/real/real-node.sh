#!/usr/bin/env bash
# One real Kubernetes node on this machine, against a control plane on host loopback (test/helpers/control-plane.ts):
# containerd (Debian's, CRI plugin, overlayfs) + kubelet + kube-proxy (iptables mode) + the bridge/host-local/loopback
# CNI plugins, all inside a network namespace this script creates, so every bridge, route and iptables rule is the
# node's own and the host's network is never touched. See tools/real/REAL-PODS.md for why each piece is set as it is.
#
#   real-node.sh up   DIR   (environment below)      starts the node; prints "node <name> up" when kubelet answers
#   real-node.sh down DIR                            stops every process it started (by pid), removes the netns,
#                                                    the cgroups and the mounts; safe to repeat
# up reads: NODE_NAME (gw-node-1), NODE_IP (10.99.0.1, on lo inside the netns), POD_CIDR (10.244.1.0/24),
#   SERVICE_CIDR (10.96.0.0/12), KUBECONFIG_NODE (a kubeconfig for system:node:NODE_NAME whose server is
#   https://127.0.0.1:PORT, or on a fabric that holds the control plane https://FABRIC_IP:PORT), KUBECONFIG_PROXY (one for system:kube-proxy, same server), CLIENT_CA (the cluster CA, PEM file), NODE_BIN (dir with kubelet and kube-proxy),
#   NODE_IMAGES (dir with pause.tar and probe.tar from tools/real/node/build-images.sh),
#   FABRIC (optional: the name given to fabric-up; the node then joins it, see below), CLUSTER_CIDR (10.244.0.0/16),
#   EXTRA_IMAGES (optional: more image archives to import, space-separated paths, e.g. build-addons.sh's coredns.tar),
#   NETPOL_BIN + KUBECONFIG_NETPOL (optional: build-addons.sh's kube-router-netpol and a kubeconfig for its own
#   identity; the node then enforces NetworkPolicy with it, one controller per node beside kube-proxy, its rules and
#   ipsets in the node's netns. Without them the node's bridge CNI ignores NetworkPolicy, as Flannel does).
#
# Several nodes: a fabric is one more network namespace holding a bridge (FABRIC_IP, 10.99.0.254/24), with no link
# to the host either. Each node joining it gets a veth (eth0 inside the node, NODE_IP/24) on that bridge, a
# default route through the fabric, and the fabric a route to the node's POD_CIDR, so pods on different nodes
# reach each other by their real IPs (routed, no overlay).
#   real-node.sh fabric-up   DIR NAME        creates the fabric netns NAME (give nodes FABRIC=NAME)
#   real-node.sh fabric-down DIR NAME        deletes it (after its nodes are down)
#   real-node.sh lab-down    WORK NAME       what a killed `groundwork lab up --nodes-real` left (src/lab/real/nodes.ts
#                                            records this command before it starts anything): every node state dir
#                                            in WORK down (newest first), the fabric NAME deleted, WORK removed
# Needs root, cgroup v1 or v2, and: containerd runc containernetworking-plugins iptables socat (Debian packages),
# and ipset with NETPOL_BIN.
set -euo pipefail
cmd="${1:?usage: real-node.sh up|down|fabric-up|fabric-down|lab-down DIR}"
dir="$(mkdir -p "${2:?usage: real-node.sh up|down|fabric-up|fabric-down|lab-down DIR}" && cd "$2" && pwd)"
log() { echo "real-node: $*" >&2; }
# shellcheck source=tools/real/node/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
FABRIC_IP="${FABRIC_IP:-10.99.0.254}"

if [ "$cmd" = fabric-up ]; then
  name="${3:?usage: real-node.sh fabric-up DIR NAME}"
  ip netns add "$name"
  ip netns exec "$name" ip link set lo up
  ip netns exec "$name" ip link add gwfab0 type bridge
  ip netns exec "$name" ip addr add "$FABRIC_IP/24" dev gwfab0
  ip netns exec "$name" ip link set gwfab0 up
  ip netns exec "$name" sysctl -qw net.ipv4.ip_forward=1
  log "fabric $name up (bridge gwfab0 $FABRIC_IP/24)"
  exit 0
fi
if [ "$cmd" = lab-down ]; then
  name="${3:?usage: real-node.sh lab-down WORK NAME}"
  case "$(basename "$dir")" in groundwork-real-nodes-?*) ;; *) log "refusing: $dir is not a real-nodes lab's state dir"; exit 1 ;; esac
  # shellcheck disable=SC2012
  for d in $(ls -dt "$dir"/*/ 2>/dev/null); do
    if [ -f "$d/env" ]; then bash "$0" down "$d"; fi
  done
  bash "$0" fabric-down "$dir/fabric" "$name"
  rm -rf "$dir"
  log "lab in $dir down"
  exit 0
fi
if [ "$cmd" = fabric-down ]; then
  name="${3:?usage: real-node.sh fabric-down DIR NAME}"
  ip netns delete "$name" 2>/dev/null || true
  log "fabric $name down"
  exit 0
fi


if [ "$cmd" = down ]; then
  [ -f "$dir/env" ] || { log "nothing to stop in $dir"; exit 0; }
  # shellcheck disable=SC1091
  . "$dir/env"
  case "$CGROUP_ROOT" in groundwork-?*) ;; *) log "refusing: cgroup root '$CGROUP_ROOT' in $dir/env is not the node's"; exit 1 ;; esac
  # kubelet first (it would restart pods), then every pod sandbox through the CRI, then kube-proxy and containerd.
  stop_pidfile "$dir/kubelet.pid"
  stop_pidfile "$dir/netpol.pid"
  stop_pidfile "$dir/kube-proxy.pid"
  kill_cri_tasks "$dir/containerd.sock"
  stop_pidfile "$dir/containerd.pid"
  stop_pidfile "$dir/node.pid"
  # The runc shims containerd started (they leave its process group): found by the containerd address they serve.
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q -- "-address $dir/containerd.sock"; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  # Any process left in the node's cgroups is a container of this node.
  kill_cgroups "$CGROUP_ROOT"
  stop_pidfile "$dir/socat-netns.pid"
  stop_pidfile "$dir/socat-host.pid"
  # Pod network namespaces containerd pinned under /run/netns, then the node's own.
  remove_pod_netns "$dir/netns-before.list"
  ip netns delete "$NETNS" 2>/dev/null || true   # its end of the fabric veth goes with it
  if [ -n "${FABRIC:-}" ]; then ip netns exec "$FABRIC" ip route del "$POD_CIDR" 2>/dev/null || true; fi
  # Mount points up created on the host (empty: what went in them lived in the node's mount namespace).
  if [ -f "$dir/created-paths" ]; then
    tac "$dir/created-paths" | while read -r p; do rmdir "$p" 2>/dev/null || log "left $p (not empty)"; done
    rm -f "$dir/created-paths"
  fi
  rm -f "$dir/env"
  log "node $NODE_NAME down"
  exit 0
fi

[ "$cmd" = up ] || { log "unknown command $cmd"; exit 2; }
: "${KUBECONFIG_NODE:?}" "${KUBECONFIG_PROXY:?}" "${CLIENT_CA:?}" "${NODE_BIN:?}" "${NODE_IMAGES:?}"
NODE_NAME="${NODE_NAME:-gw-node-1}"
NODE_IP="${NODE_IP:-10.99.0.1}"
POD_CIDR="${POD_CIDR:-10.244.1.0/24}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/12}"
CLUSTER_DNS="${CLUSTER_DNS:-10.96.0.10}"
NETNS="gw-$NODE_NAME"
CGROUP_ROOT="groundwork-$NODE_NAME"
require_node_programs
NETPOL_BIN="${NETPOL_BIN:-}"
if [ -n "$NETPOL_BIN" ]; then
  : "${KUBECONFIG_NETPOL:?NETPOL_BIN needs KUBECONFIG_NETPOL}"
  [ -x "$NETPOL_BIN" ] || { log "$NETPOL_BIN is not an executable (bash tools/real/build-addons.sh)"; exit 1; }
  command -v ipset >/dev/null || { log "ipset is not installed (apt-get install -y ipset)"; exit 1; }
fi
server="$(sed -n 's/^ *server: *//p' "$KUBECONFIG_NODE" | head -1)"
port="${server##*:}"
case "$server" in
  https://127.0.0.1:*) api_via=loopback ;;
  https://*) [ -n "${FABRIC:-}" ] || { log "a node without FABRIC reaches the API server on host loopback only (got $server)"; exit 1; }; api_via=fabric ;;
  *) log "the node kubeconfig's server must be https://127.0.0.1:PORT or, on a fabric, https://FABRIC_ADDRESS:PORT (got $server)"; exit 1 ;;
esac
FABRIC="${FABRIC:-}"
CLUSTER_CIDR="${CLUSTER_CIDR:-10.244.0.0/16}"
printf 'NODE_NAME=%q\nNETNS=%q\nCGROUP_ROOT=%q\nFABRIC=%q\nPOD_CIDR=%q\n' "$NODE_NAME" "$NETNS" "$CGROUP_ROOT" "$FABRIC" "$POD_CIDR" > "$dir/env"
ls /run/netns 2>/dev/null > "$dir/netns-before.list" || true
# Paths kubelet, containerd and libcni use whatever they are configured with (kubelet's device-plugin and
# pod-resources sockets, /var/log/containers links; libcni's result cache; the runc shims' sockets and fifos;
# containerd's pinned pod network namespaces):
# inside the node's mount namespace each is a bind mount of a directory under DIR/host, so nothing lands on the
# host. A mount point that did not exist is created here and removed by down.
HOST_PATHS="/var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns"
: > "$dir/created-paths"
for p in $HOST_PATHS; do
  [ -e "$p" ] || { mkdir -p "$p"; echo "$p" >> "$dir/created-paths"; }
  mkdir -p "$dir/host$p"
done
mkdir -p "$dir"/{containerd/root,containerd/state,cni/net.d,cni/state,kubelet,pod-logs,sysctl,logs}

# --- the node's cgroup root (kubelet's cgroupRoot, one path in every hierarchy: it refuses a missing one); on
# cgroup v1 a new cpuset needs its cpus and mems set before any process can join it.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p "/sys/fs/cgroup/$CGROUP_ROOT"
else
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" > "$h$CGROUP_ROOT/cpuset.cpus"; cat "$h/cpuset.mems" > "$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
fi

# --- the node's network namespace. Alone: lo carries the node address too (kubelet refuses a 127.x node IP, and
# this kernel has no dummy links) and a route for Service IPs (kube-proxy's iptables rules DNAT them before they
# would be routed). On a fabric: eth0 on the fabric's bridge, the default route through it. Either way no link to
# the host, so nothing can leave.
ip netns add "$NETNS"
ns() { ip netns exec "$NETNS" "$@"; }
ns ip link set lo up
if [ -n "$FABRIC" ]; then
  peer="gwf-$(echo "$NODE_NAME" | sha256sum | cut -c1-8)"   # a veth name is at most 15 characters
  ip netns exec "$FABRIC" ip link add "$peer" type veth peer name eth0 netns "$NETNS"
  ip netns exec "$FABRIC" ip link set "$peer" master gwfab0 up
  ns ip addr add "$NODE_IP/24" dev eth0
  ns ip link set eth0 up
  ns ip route add default via "$FABRIC_IP"
  ip netns exec "$FABRIC" ip route add "$POD_CIDR" via "$NODE_IP"
else
  ns ip addr add "$NODE_IP/32" dev lo
  ns ip route add "$SERVICE_CIDR" dev lo
fi
ns sysctl -qw net.ipv4.ip_forward=1
# Pods on one node talk across the cni0 bridge: the policy controller's FORWARD rules see those frames only when
# br_netfilter hands bridged IPv4 to iptables. The setting is per network namespace (the host's is not touched).
[ -z "$NETPOL_BIN" ] || ns sysctl -qw net.bridge.bridge-nf-call-iptables=1

# --- the API server on host loopback, reached from inside the netns at the same 127.0.0.1:PORT through a unix
# socket (two socats): the kubelet's kubeconfig and the API server's serving certificate stay as they are. (A
# control plane inside the fabric is reached over the fabric's bridge: nothing to do.)
if [ "$api_via" = loopback ]; then
rm -f "$dir/api.sock"
setsid socat "UNIX-LISTEN:$dir/api.sock,fork,mode=600" "TCP:127.0.0.1:$port" </dev/null >/dev/null 2>"$dir/logs/socat-host.log" &
echo $! > "$dir/socat-host.pid"
setsid ip netns exec "$NETNS" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$dir/api.sock" </dev/null >/dev/null 2>"$dir/logs/socat-netns.log" &
echo $! > "$dir/socat-netns.pid"
fi

# --- CNI: bridge + host-local IPAM for this node's pod CIDR; loopback is run by containerd's CRI itself.
cat > "$dir/cni/net.d/10-groundwork.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "groundwork",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "$dir/cni/state" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

# --- containerd: its own root, state and socket; CRI with our pause as the sandbox image; overlayfs.
write_containerd_config "$dir/containerd.toml" "$dir" "$dir/containerd.sock" groundwork.local/pause:1 "$dir/cni/net.d"

# --- kubelet
printf 'nameserver %s\nsearch cluster.local\n' "$CLUSTER_DNS" > "$dir/resolv.conf"
cat > "$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$dir/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $CLIENT_CA }
authorization: { mode: Webhook }
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
failSwapOn: false
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
oomScoreAdj: 0
registerNode: true
evictionHard: { memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2% }
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF

# --- kube-proxy (iptables mode, inside the netns); conntrack sysctls left alone (they are host-wide).
cat > "$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $KUBECONFIG_PROXY }
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $CLUSTER_CIDR
bindAddress: $NODE_IP
oomScoreAdj: 0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF

# --- the node's processes run in one private mount namespace (kubelet's volume mounts must be visible to
# containerd, and vanish with the namespace) entered into the node's netns with nsenter (ip netns exec would remount
# /sys and hide the cgroup v1 hierarchies). kubelet sets four host-wide kernel sysctls when they differ from what it
# wants (vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10, kernel.panic_on_oops=1): on a shared machine we
# must not, so inside that mount namespace those /proc/sys files are bind-mounted over with files holding kubelet's
# values. kubelet reads them, sees nothing to change, and the host keeps its own.
cat > "$dir/node.sh" <<EOF
set -eu
mount --make-rprivate /
for p in $HOST_PATHS; do mount --bind "$dir/host\$p" "\$p"; done
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1; do
  k=\${kv%%=*}; f="$dir/sysctl/\$(echo \$k | tr / _)"; echo "\${kv#*=}" > "\$f"; mount --bind -o ro "\$f" "/proc/sys/\$k"
done
containerd --config "$dir/containerd.toml" > "$dir/logs/containerd.log" 2>&1 &
echo \$! > "$dir/containerd.pid"
for i in \$(seq 100); do [ -S "$dir/containerd.sock" ] && ctr --address "$dir/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
for img in "$NODE_IMAGES"/pause.tar "$NODE_IMAGES"/probe.tar ${EXTRA_IMAGES:-}; do
  ctr --address "$dir/containerd.sock" -n k8s.io images import "\$img" >> "$dir/logs/import.log" 2>&1
done
"$NODE_BIN/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$KUBECONFIG_NODE" --root-dir "$dir/kubelet" \
  --cert-dir "$dir/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=2 > "$dir/logs/kubelet.log" 2>&1 &
echo \$! > "$dir/kubelet.pid"
"$NODE_BIN/kube-proxy" --config "$dir/kube-proxy.yaml" --v=2 > "$dir/logs/kube-proxy.log" 2>&1 &
echo \$! > "$dir/kube-proxy.pid"
if [ -n "$NETPOL_BIN" ]; then
  "$NETPOL_BIN" --kubeconfig "${KUBECONFIG_NETPOL:-}" --node-name "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" --v=1 > "$dir/logs/netpol.log" 2>&1 &
  echo \$! > "$dir/netpol.pid"
fi
wait
EOF
setsid unshare -m --propagation private nsenter --net="/run/netns/$NETNS" bash "$dir/node.sh" </dev/null > "$dir/logs/node.log" 2>&1 &
echo $! > "$dir/node.pid"

kubelet_ok=
for _ in $(seq 600); do
  if [ "$(ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/10248 && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && tail -n1 <&3' 2>/dev/null)" = ok ]; then
    kubelet_ok=1; break
  fi
  kill -0 "$(cat "$dir/node.pid")" 2>/dev/null || { log "the node's processes exited:"; tail -n 30 "$dir/logs/node.log" "$dir/logs/kubelet.log" >&2 || true; exit 1; }
  sleep 0.2
done
if [ -z "$kubelet_ok" ]; then
  log "kubelet did not answer /healthz within 120 s:"; tail -n 30 "$dir/logs/kubelet.log" >&2 || true
  exit 1
fi
# The policy controller starts once kubelet has registered the Node (it reads the node's InternalIP): up returns
# when its first sync has programmed the node's filter table (the jump to KUBE-ROUTER-FORWARD in FORWARD).
if [ -n "$NETPOL_BIN" ]; then
  netpol_ok=
  for _ in $(seq 600); do
    if grep -q 'sync iptables took' "$dir/logs/netpol.log" 2>/dev/null && ns iptables -S FORWARD 2>/dev/null | grep -q -- '-j KUBE-ROUTER-FORWARD'; then
      netpol_ok=1; break
    fi
    if [ -f "$dir/netpol.pid" ] && ! kill -0 "$(cat "$dir/netpol.pid")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if [ -z "$netpol_ok" ]; then
    log "the NetworkPolicy controller did not program the node within 120 s:"; tail -n 30 "$dir/logs/netpol.log" >&2 || true
    exit 1
  fi
fi
log "node $NODE_NAME up (netns $NETNS, node IP $NODE_IP, pods $POD_CIDR${NETPOL_BIN:+, NetworkPolicy by kube-router})"
exit 0
