/**
 * Each named fault and what `groundwork validate` must say about it: the suites that fail (the others pass), the
 * suite that names the cause, its summary and its why. One table for both APIs (test/validate/lab.test.ts on the
 * embedded one, test/lab/real-api.test.ts on the real control plane): the same diagnosis on both.
 */
export const HEALTHY = { 'control-plane': 'pass', connectivity: 'pass', dns: 'pass', netpol: 'pass', scheduling: 'pass', storage: 'pass', security: 'pass' } as const;

export const FAULT_DIAGNOSES = [
  ['netpol-not-enforced', { netpol: 'fail' }, 'netpol', /NetworkPolicies are not enforced: traffic they deny got through/, /CNI \(cilium\) ignores NetworkPolicy/],
  ['cross-node-traffic-dropped', { connectivity: 'fail' }, 'connectivity', /cross-node pod traffic is dropped/, /overlay or routing between nodes/],
  ['dns-down', { dns: 'fail', connectivity: 'warn' }, 'dns', /CoreDNS is down: 0 of 2 CoreDNS pods Ready/, /no Ready CoreDNS pod/],
  ['no-default-storageclass', { storage: 'fail' }, 'storage', /no default StorageClass/, /stay Pending/],
  ['provisioner-stuck', { storage: 'fail' }, 'storage', /PVC did not bind .* never provisioned a volume/, /cannot start/],
  ['node-not-ready:w-1', { 'control-plane': 'fail' }, 'control-plane', /1 of 3 nodes not Ready: w-1/, /NotReady node/],
] as const;
