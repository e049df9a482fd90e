/** Specs for bootstrap tests: nodes on 127.x addresses (nothing is dialled, but if it were, it stays local). */
import { ClusterSpec, type Spec, type SpecInput } from '../../src/spec/schema.js';

export interface FixtureOptions {
  method?: 'talos' | 'kubeadm';
  cni?: 'cilium' | 'calico' | 'flannel' | 'none';
  talosVersion?: string;
  kubernetesVersion?: string;
  vip?: string;
  controlPlanes?: number;
  workers?: number;
  registry?: string;
  kubeProxyReplacement?: boolean;
}

export function buildFixtureSpec(o: FixtureOptions = {}): Spec {
  const cps = o.controlPlanes ?? 3;
  const workers = o.workers ?? 2;
  const nodes: SpecInput['spec']['nodes'] = [];
  for (let i = 1; i <= cps; i++) nodes.push({ name: `cp-${i}`, address: `127.0.10.${10 + i}`, role: 'control-plane' });
  for (let i = 1; i <= workers; i++) nodes.push({ name: `w-${i}`, address: `127.0.10.${20 + i}`, role: 'worker' });
  const input: SpecInput = {
    apiVersion: 'groundwork.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'fixture' },
    spec: {
      kubernetesVersion: o.kubernetesVersion ?? '1.37.2',
      endpoint: o.vip ? `https://${o.vip}:6443` : 'https://127.0.10.11:6443',
      bootstrap: {
        method: o.method ?? 'talos',
        talos: { version: o.talosVersion ?? 'v1.14.1', installDisk: '/dev/sda', ...(o.vip ? { vip: o.vip } : {}) },
        kubeadm: { ssh: { user: 'root', identityFile: '/keys/id_ed25519' } },
      },
      nodes,
      network: { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', cni: o.cni ?? 'cilium', ...(o.kubeProxyReplacement === false ? { kubeProxyReplacement: false } : {}) },
      images: { registry: o.registry ?? '' },
    },
  };
  return ClusterSpec.parse(input);
}
