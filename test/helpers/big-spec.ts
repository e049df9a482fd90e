/**
 * A Talos spec with `nodes` nodes on loopback addresses (127.1.x.y), for size limits, linear-cost benches and
 * signal tests that need a run long enough to interrupt. Three control planes, the rest workers.
 */
export function bigSpecYaml(nodes: number): string {
  const lines = [
    'apiVersion: groundwork.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: big',
    'spec:',
    '  kubernetesVersion: "1.37.2"',
    '  endpoint: https://127.0.0.10:6443',
    '  bootstrap:',
    '    method: talos',
    '    talos:',
    '      version: v1.14.1',
    '      installDisk: /dev/sda',
    '  nodes:',
  ];
  for (let i = 0; i < nodes; i++) {
    const cp = i < 3;
    lines.push(`    - { name: ${cp ? 'cp' : 'w'}-${i}, address: 127.1.${1 + Math.floor(i / 250)}.${1 + (i % 250)}, role: ${cp ? 'control-plane' : 'worker'} }`);
  }
  // A /10 of /24s holds 16,384 nodes' pod ranges.
  lines.push('  network:', '    podCIDR: 100.64.0.0/10', '    serviceCIDR: 10.96.0.0/12', '    nodeMaskSize: 24', '    cni: cilium', '');
  return lines.join('\n');
}
