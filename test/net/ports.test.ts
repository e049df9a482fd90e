import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PORT_CATALOG, formatPort, formatPortCatalog, selectPorts, selectPreBootstrapPorts, type Cni, type Method, type Role } from '../../src/net/ports.js';

const ids = (ps: ReturnType<typeof selectPorts>) => ps.map(formatPort).sort();

describe('port catalog', () => {
  it.each<[Role, Method, Cni, boolean, string[]]>([
    // kubeadm control plane with Calico and kube-proxy: the kubeadm list plus Calico's
    ['control-plane', 'kubeadm', 'calico', true, ['10250/tcp', '10256/tcp', '10257/tcp', '10259/tcp', '179/tcp', '22/tcp', '2379-2380/tcp', '30000-32767/tcp', '4789/udp', '5473/tcp', '6443/tcp']],
    // Talos control plane with Cilium replacing kube-proxy: no 10256, scheduler/controller-manager on localhost
    ['control-plane', 'talos', 'cilium', false, ['10250/tcp', '2379-2380/tcp', '30000-32767/tcp', '4240/tcp', '4244/tcp', '50000/tcp', '50001/tcp', '6443/tcp', '8472/udp']],
    ['worker', 'talos', 'flannel', true, ['10250/tcp', '10256/tcp', '30000-32767/tcp', '50000/tcp', '8472/udp']],
    ['worker', 'kubeadm', 'none', true, ['10250/tcp', '10256/tcp', '22/tcp', '30000-32767/tcp']],
  ])('%s / %s / %s (kube-proxy %s)', (role, method, cni, kubeProxy, expected) => {
    expect(ids(selectPorts({ role, method, cni, kubeProxy }))).toEqual(expected.sort());
  });

  it('pre-bootstrap ports are the doors groundwork itself uses', () => {
    expect(selectPreBootstrapPorts('talos').map(formatPort)).toEqual(['50000/tcp']);
    expect(selectPreBootstrapPorts('kubeadm').map(formatPort)).toEqual(['22/tcp']);
  });

  it('every entry names a source and a sane range', () => {
    for (const p of PORT_CATALOG) {
      expect(p.source.length).toBeGreaterThan(10);
      expect(p.port).toBeGreaterThan(0);
      expect(p.to ?? p.port).toBeLessThanOrEqual(65535);
      expect(p.to ?? p.port).toBeGreaterThanOrEqual(p.port);
    }
  });

  it("property: a worker's ports are a subset of the control plane's in the same setup", () => {
    const roles = fc.constantFrom<Method>('talos', 'kubeadm');
    const cnis = fc.constantFrom<Cni>('cilium', 'calico', 'flannel', 'none');
    fc.assert(
      fc.property(roles, cnis, fc.boolean(), (method, cni, kubeProxy) => {
        const cp = new Set(ids(selectPorts({ role: 'control-plane', method, cni, kubeProxy })));
        return ids(selectPorts({ role: 'worker', method, cni, kubeProxy })).every((p) => cp.has(p));
      }),
    );
  });

  it('prints a table with a header and one line per entry', () => {
    const t = formatPortCatalog().split('\n');
    expect(t[0]).toMatch(/^PORT\s+COMPONENT\s+ROLES\s+METHOD\s+CNI\s+SOURCE$/);
    expect(t).toHaveLength(PORT_CATALOG.length + 1);
    expect(t.find((l) => l.startsWith('50000/tcp'))).toContain('talos.dev');
  });
});
