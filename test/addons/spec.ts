/** Specs for add-on tests: nodes on 127.x addresses (nothing is dialled, but if it were, it stays local). */
import { ClusterSpec, type Spec, type SpecInput } from '../../src/spec/schema.js';

export interface AddonFixture {
  method?: 'talos' | 'kubeadm';
  cni?: 'cilium' | 'calico' | 'flannel' | 'none';
  podCIDR?: string;
  nodeMaskSize?: number;
  kubeProxyReplacement?: boolean;
  registry?: string;
  endpoint?: string;
  controlPlanes?: number;
  workers?: number;
  addons?: SpecInput['spec']['addons'];
}

export function buildAddonSpec(o: AddonFixture = {}): Spec {
  const nodes: SpecInput['spec']['nodes'] = [];
  for (let i = 1; i <= (o.controlPlanes ?? 1); i++) nodes.push({ name: `cp-${i}`, address: `127.0.10.${10 + i}`, role: 'control-plane' });
  for (let i = 1; i <= (o.workers ?? 2); i++) nodes.push({ name: `w-${i}`, address: `127.0.10.${20 + i}`, role: 'worker' });
  return ClusterSpec.parse({
    apiVersion: 'groundwork.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'addons' },
    spec: {
      kubernetesVersion: '1.37.2',
      endpoint: o.endpoint ?? 'https://127.0.10.11:6443',
      bootstrap: { method: o.method ?? 'kubeadm', talos: { version: 'v1.14.1' } },
      nodes,
      network: {
        podCIDR: o.podCIDR ?? '10.244.0.0/16',
        serviceCIDR: '10.96.0.0/12',
        nodeMaskSize: o.nodeMaskSize ?? 24,
        cni: o.cni ?? 'cilium',
        ...(o.kubeProxyReplacement === undefined ? {} : { kubeProxyReplacement: o.kubeProxyReplacement }),
      },
      addons: o.addons ?? {},
      images: { registry: o.registry ?? '' },
    },
  } satisfies SpecInput);
}
