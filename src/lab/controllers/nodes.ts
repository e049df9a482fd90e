/**
 * Nodes as the kubelet and node lifecycle controller keep them: podCIDR slices, Ready conditions, heartbeat
 * Leases in kube-node-lease, the taints a NotReady/unreachable node gets; plus the system add-ons every
 * cluster has (kube-dns Service + CoreDNS, the CNI DaemonSet) and Service ClusterIP allocation.
 */
import { buildNodeObject, labNodeInfo } from '../index.js';
import { nodePodCidr, nthAddress, Allocator } from './ipam.js';
import { ensure, iso, microTime, quietly, setCondition, type Obj, type Runtime } from './runtime.js';
import { ApiError, type KubeObject } from '../store/types.js';
import type { LabCni, LabNode } from '../types.js';

const LAB_TAINT_KEYS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'];
const DEFAULT_CAPACITY = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '50Gi' };

const CNI_DAEMONSETS: Record<Exclude<LabCni, 'none'>, { name: string; labels: Record<string, string>; image: string; command: string[] }> = {
  cilium: { name: 'cilium', labels: { 'k8s-app': 'cilium' }, image: 'quay.io/cilium/cilium:v1.16.5', command: ['cilium-agent', '--config-dir=/tmp/cilium/config-map'] },
  calico: { name: 'calico-node', labels: { 'k8s-app': 'calico-node' }, image: 'docker.io/calico/node:v3.29.1', command: ['start_runit'] },
  flannel: { name: 'kube-flannel-ds', labels: { app: 'flannel', 'k8s-app': 'flannel' }, image: 'docker.io/flannel/flannel:v0.26.1', command: ['/opt/bin/flanneld', '--ip-masq', '--kube-subnet-mgr'] },
};

function isCniPod(rt: Runtime, pod: KubeObject): boolean {
  const cni = rt.ctx.network.cni;
  if (cni === 'none' || pod.metadata.namespace !== 'kube-system') return false;
  const want = CNI_DAEMONSETS[cni].labels;
  return Object.entries(want).every(([k, v]) => pod.metadata.labels?.[k] === v);
}

export function isDnsPod(pod: KubeObject): boolean {
  return pod.metadata.namespace === 'kube-system' && pod.metadata.labels?.['k8s-app'] === 'kube-dns';
}

/** Would this pod's containers pass their readiness checks, given the faults? */
export function isPodHealthy(rt: Runtime, pod: KubeObject): boolean {
  if (rt.faults.has('dns-down') && isDnsPod(pod)) return false;
  if (rt.faults.has('cni-not-ready') && isCniPod(rt, pod)) return false;
  return true;
}

/** Node status as the kubelet posts it, with conditions for the active faults. */
function desiredNodeStatus(rt: Runtime, n: LabNode, node: KubeObject): Obj {
  const now = rt.now();
  const status = structuredClone((node.status ?? {}) as Obj);
  const capacity = { ...DEFAULT_CAPACITY, ...(n.capacity ?? {}) };
  status.capacity ??= capacity;
  status.allocatable ??= capacity;
  status.addresses = [
    { type: 'InternalIP', address: n.address },
    { type: 'Hostname', address: n.name },
  ];
  status.daemonEndpoints = { kubeletEndpoint: { Port: n.kubeletPort ?? 10250 } };
  status.nodeInfo ??= labNodeInfo(n);
  const conds: Obj[] = structuredClone(status.conditions ?? []);
  const hb = (c: Obj | undefined) => c?.lastHeartbeatTime ?? iso(now);
  const unreachable = rt.faults.isNodeNotReady(n.name);
  for (const [type, reason, message] of [
    ['MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
  ] as const) {
    const old = conds.find((c) => c.type === type);
    if (unreachable) setCondition(conds, type, 'Unknown', now, 'NodeStatusUnknown', 'Kubelet stopped posting node status.', { lastHeartbeatTime: hb(old) });
    else setCondition(conds, type, 'False', now, reason, message, { lastHeartbeatTime: hb(old) });
  }
  const oldReady = conds.find((c) => c.type === 'Ready');
  if (unreachable) {
    setCondition(conds, 'Ready', 'Unknown', now, 'NodeStatusUnknown', 'Kubelet stopped posting node status.', { lastHeartbeatTime: hb(oldReady) });
  } else if (rt.faults.has('cni-not-ready') && rt.ctx.network.cni !== 'none') {
    setCondition(conds, 'Ready', 'False', now, 'KubeletNotReady',
      'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized',
      { lastHeartbeatTime: hb(oldReady) });
  } else {
    setCondition(conds, 'Ready', 'True', now, 'KubeletReady', 'kubelet is posting ready status', { lastHeartbeatTime: hb(oldReady) });
  }
  status.conditions = conds;
  return status;
}

function desiredLabTaints(rt: Runtime, name: string): Obj[] {
  if (rt.faults.isNodeNotReady(name)) {
    return [
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
    ];
  }
  if (rt.faults.has('cni-not-ready') && rt.ctx.network.cni !== 'none') return [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }];
  return [];
}

export async function ensureBaseObjects(rt: Runtime): Promise<void> {
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    await ensure(rt.store, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const n of rt.ctx.nodes) {
    if (!rt.store.get('nodes', undefined, n.name)) await ensure(rt.store, buildNodeObject(n, rt.now()));
  }
}

const nodeSeen = new WeakMap<Runtime, Map<string, string>>();

export async function reconcileNodes(rt: Runtime): Promise<void> {
  const { podCIDR, nodeMaskSize } = rt.ctx.network;
  let seen = nodeSeen.get(rt);
  if (!seen) nodeSeen.set(rt, (seen = new Map()));
  for (const [i, n] of rt.ctx.nodes.entries()) {
    const node = rt.store.get('nodes', undefined, n.name);
    if (!node) continue;
    // Unchanged node and faults since our last look: nothing to do.
    const mark = `${node.metadata.resourceVersion}|${rt.faultsVersion}`;
    if (seen.get(n.name) === mark) continue;
    const cidr = nodePodCidr(podCIDR, nodeMaskSize, i);
    await quietly(
      rt.store.mutate('nodes', undefined, n.name, (o) => {
        const spec = ((o.spec ??= {}) as Obj);
        const needsCidr = !spec.podCIDR;
        if (needsCidr) {
          spec.podCIDR = cidr;
          spec.podCIDRs = [cidr];
        }
        // On the real API the node lifecycle controller taints nodes by their conditions.
        if (rt.ctx.api === 'real') return needsCidr ? o : undefined;
        const keep = ((spec.taints ?? []) as Obj[]).filter((t) => !LAB_TAINT_KEYS.includes(t.key));
        const next: Obj[] = [...keep];
        for (const t of desiredLabTaints(rt, n.name)) {
          const prev = ((spec.taints ?? []) as Obj[]).find((x) => x.key === t.key && x.effect === t.effect);
          next.push(t.effect === 'NoExecute' ? { ...t, timeAdded: prev?.timeAdded ?? iso(rt.now()) } : t);
        }
        if (next.length > 0) spec.taints = next;
        else delete spec.taints;
      }, { skipValidation: true }),
    );
    const after = await quietly(
      rt.store.mutate('nodes', undefined, n.name, (o) => {
        o.status = desiredNodeStatus(rt, n, o);
      }, { subresource: 'status', skipValidation: true }),
    );
    if (after) seen.set(n.name, `${after.metadata.resourceVersion}|${rt.faultsVersion}`);
  }
}

/** Renews each node's Lease (the kubelet heartbeat) unless its kubelet is "down". */
export async function heartbeat(rt: Runtime): Promise<void> {
  const now = rt.now();
  for (const n of rt.ctx.nodes) {
    if (rt.faults.isNodeNotReady(n.name)) continue;
    const node = rt.store.get('nodes', undefined, n.name);
    const lease = rt.store.get('leases.coordination.k8s.io', 'kube-node-lease', n.name);
    if (!lease) {
      await ensure(rt.store, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: n.name,
          namespace: 'kube-node-lease',
          ...(node ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: n.name, uid: node.metadata.uid! }] } : {}),
        },
        spec: { holderIdentity: n.name, leaseDurationSeconds: 40, renewTime: microTime(now) },
      });
    } else {
      await quietly(rt.store.mutate('leases.coordination.k8s.io', 'kube-node-lease', n.name, (l) => {
        (l.spec as Obj).renewTime = microTime(now);
      }, { skipValidation: true }));
    }
  }
}

/** The node lifecycle controller marks pods on an unreachable node not Ready. */
export function markPodsOnLostNodes(rt: Runtime): Promise<unknown>[] {
  const lost = rt.ctx.nodes.filter((n) => rt.faults.isNodeNotReady(n.name)).map((n) => n.name);
  if (lost.length === 0) return [];
  return rt.store.list('pods').items
    .filter((p) => lost.includes((p.spec as Obj)?.nodeName) && ((p.status as Obj)?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True'))
    .map((p) =>
      quietly(rt.store.mutate('pods', p.metadata.namespace, p.metadata.name!, (o) => {
        const conds = ((o.status as Obj).conditions ??= []) as Obj[];
        setCondition(conds, 'Ready', 'False', rt.now());
      }, { subresource: 'status', skipValidation: true })),
    );
}

// ---- Services: ClusterIP allocation (admission, as kube-apiserver does it at create) ----

export function createServiceAdmission(rt: Runtime) {
  const nodePorts = new Set<number>();
  let nextNodePort = 30000;
  return (obj: KubeObject, old: KubeObject | undefined, op: 'create' | 'update'): KubeObject => {
    const spec = ((obj.spec ??= {}) as Obj);
    const type = spec.type ?? 'ClusterIP';
    const oldIp = (old?.spec as Obj | undefined)?.clusterIP;
    if (op === 'update' && old && oldIp) {
      const os = old.spec as Obj;
      if (spec.clusterIP === undefined || spec.clusterIP === '') {
        spec.clusterIP = os.clusterIP;
        if (os.clusterIPs) spec.clusterIPs = os.clusterIPs;
      } else if (spec.clusterIP !== os.clusterIP) {
        throw new ApiError(422, 'Invalid', `Service "${obj.metadata.name}" is invalid: spec.clusterIPs[0]: Invalid value: []string{"${spec.clusterIP}"}: may not change once set`, {
          name: obj.metadata.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: 'may not change once set' }],
        });
      }
    } else if (type !== 'ExternalName') {
      if (spec.clusterIP === 'None') {
        spec.clusterIPs = ['None'];
      } else if (spec.clusterIP) {
        if (!rt.serviceAllocator.contains(spec.clusterIP)) {
          throw new ApiError(422, 'Invalid', `Service "${obj.metadata.name}" is invalid: spec.clusterIPs: Invalid value: []string{"${spec.clusterIP}"}: failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${rt.ctx.network.serviceCIDR}`, {
            name: obj.metadata.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'not in the valid range' }],
          });
        }
        const wellKnown = { [nthAddress(rt.ctx.network.serviceCIDR, 1)]: 'default/kubernetes', [nthAddress(rt.ctx.network.serviceCIDR, 10)]: 'kube-system/kube-dns' };
        const mine = wellKnown[spec.clusterIP] === `${obj.metadata.namespace}/${obj.metadata.name}`;
        if (!rt.serviceAllocator.reserve(spec.clusterIP) && !mine) {
          throw new ApiError(422, 'Invalid', `Service "${obj.metadata.name}" is invalid: spec.clusterIPs: Invalid value: []string{"${spec.clusterIP}"}: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`, {
            name: obj.metadata.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'provided IP is already allocated' }],
          });
        }
        spec.clusterIPs = [spec.clusterIP];
      } else {
        const ip = rt.serviceAllocator.allocate();
        if (!ip) throw new ApiError(500, 'InternalError', `Internal error occurred: failed to allocate a serviceIP: range is full`);
        spec.clusterIP = ip;
        spec.clusterIPs = [ip];
      }
    }
    if (type === 'NodePort' || type === 'LoadBalancer') {
      for (const p of (spec.ports ?? []) as Obj[]) {
        if (p.nodePort) {
          nodePorts.add(p.nodePort);
          continue;
        }
        const keep = old ? ((old.spec as Obj).ports ?? []).find((q: Obj) => q.port === p.port && q.nodePort) : undefined;
        if (keep) {
          p.nodePort = keep.nodePort;
          continue;
        }
        while (nodePorts.has(nextNodePort)) nextNodePort = nextNodePort >= 32767 ? 30000 : nextNodePort + 1;
        p.nodePort = nextNodePort;
        nodePorts.add(nextNodePort);
      }
    }
    return obj;
  };
}

/** Marks the ClusterIPs of Services already stored (a lab restarted on etcd) and the well-known ones. */
export function reserveExistingServiceIps(rt: Runtime): void {
  rt.serviceAllocator.reserve(nthAddress(rt.ctx.network.serviceCIDR, 1));
  rt.serviceAllocator.reserve(nthAddress(rt.ctx.network.serviceCIDR, 10));
  for (const s of rt.store.list('services').items) {
    const ip = (s.spec as Obj)?.clusterIP;
    if (ip && ip !== 'None') rt.serviceAllocator.reserve(ip);
  }
}

export function createServiceAllocator(serviceCIDR: string): Allocator {
  return new Allocator(serviceCIDR, 1);
}

// ---- System add-ons ----

export async function ensureAddons(rt: Runtime): Promise<void> {
  const svcCidr = rt.ctx.network.serviceCIDR;
  const apiSvc = rt.store.get('services', 'default', 'kubernetes');
  if (apiSvc && !(apiSvc.spec as Obj)?.clusterIP) {
    // Seeded with its address since; a store written by an older lab (etcd) may still hold one without it.
    await quietly(rt.store.mutate('services', 'default', 'kubernetes', (s) => {
      (s.spec as Obj).clusterIP = nthAddress(svcCidr, 1);
    }, { skipValidation: true }));
  }
  if (!apiSvc) {
    await ensure(rt.store, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', clusterIP: nthAddress(svcCidr, 1), ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
    });
  }
  // The apiserver's own endpoints: the control planes' addresses on 6443, as a real cluster lists them. A real
  // API server refuses loopback addresses in Endpoints (the lab's nodes are 127.0.100.N): there only the
  // EndpointSlice lists them.
  const cps = rt.ctx.nodes.filter((n) => n.role === 'control-plane');
  if (cps.length > 0 && rt.ctx.api !== 'real' && !rt.store.get('endpoints', 'default', 'kubernetes')) {
    await ensure(rt.store, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: cps.map((n) => ({ ip: n.address })), ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
    });
  }
  if (cps.length > 0 && !rt.store.get('endpointslices.discovery.k8s.io', 'default', 'kubernetes')) {
    await ensure(rt.store, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: cps.map((n) => ({ addresses: [n.address], conditions: { ready: true, serving: true, terminating: false } })),
      ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
    });
  }
  if (!rt.store.get('services', 'kube-system', 'kube-dns')) {
    await ensure(rt.store, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        type: 'ClusterIP',
        clusterIP: nthAddress(svcCidr, 10),
        selector: { 'k8s-app': 'kube-dns' },
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    });
  }
  if (!rt.store.get('deployments.apps', 'kube-system', 'coredns')) {
    const labels = { 'k8s-app': 'kube-dns' };
    await ensure(rt.store, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            tolerations: [
              { key: 'CriticalAddonsOnly', operator: 'Exists' },
              { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
            ],
            containers: [
              {
                name: 'coredns',
                image: 'registry.k8s.io/coredns/coredns:v1.11.3',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                resources: { requests: { cpu: '100m', memory: '70Mi' }, limits: { memory: '170Mi' } },
              },
            ],
          },
        },
      },
    });
  }
  const cni = rt.ctx.network.cni;
  if (cni !== 'none') {
    const d = CNI_DAEMONSETS[cni];
    if (!rt.store.get('daemonsets.apps', 'kube-system', d.name)) {
      await ensure(rt.store, {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: d.name, namespace: 'kube-system', labels: d.labels },
        spec: {
          selector: { matchLabels: d.labels },
          template: {
            metadata: { labels: d.labels },
            spec: {
              hostNetwork: true,
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: d.name === 'kube-flannel-ds' ? 'kube-flannel' : d.name === 'calico-node' ? 'calico-node' : 'cilium-agent', image: d.image, command: d.command }],
            },
          },
        },
      });
    }
  }
}
