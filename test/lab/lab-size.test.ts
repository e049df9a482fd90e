/**
 * The lab's size limit: up to MAX_LAB_NODES (1,000) nodes, each on its own loopback address, a pod range with
 * room for all of them, and the same limit on every way in (planNodes, lab up, rehearse --nodes).
 */
import { describe, expect, it } from 'vitest';
import { planNodes, startLab } from '../../src/lab/index.js';
import { checkLabUpOptions } from '../../src/lab/up.js';
import { MAX_LAB_NODES, defaultLabPodCidr, labNodeAddress } from '../../src/lab/store/limits.js';
import { UserError } from '../../src/errors.js';

describe('lab size', () => {
  it('plans 1,000 nodes on distinct 127.0.100-103.x addresses, the first 250 where they always were', () => {
    const nodes = planNodes({ nodes: MAX_LAB_NODES, controlPlanes: 3 });
    expect(nodes).toHaveLength(1000);
    expect(new Set(nodes.map((n) => n.address)).size).toBe(1000);
    expect(new Set(nodes.map((n) => n.name)).size).toBe(1000);
    for (const n of nodes) expect(n.address).toMatch(/^127\.0\.10[0-3]\.([1-9]|[1-9]\d|1\d\d|2[0-4]\d|250)$/);
    expect(nodes[0]!.address).toBe('127.0.100.1');
    expect(nodes[249]!.address).toBe('127.0.100.250');
    expect(nodes[250]!.address).toBe('127.0.101.1');
    expect(labNodeAddress(999)).toBe('127.0.103.250');
  });

  it('refuses one node more, on every way in', () => {
    expect(() => planNodes({ nodes: MAX_LAB_NODES + 1 })).toThrow(UserError);
    expect(() => planNodes({ nodes: MAX_LAB_NODES + 1 })).toThrow('--nodes must be a whole number from 1 to 1000, not 1001');
    expect(() => checkLabUpOptions({ nodes: MAX_LAB_NODES + 1 })).toThrow('--nodes must be a whole number from 1 to 1000, not 1001');
    expect(() => checkLabUpOptions({ nodes: MAX_LAB_NODES })).not.toThrow();
  });

  it('keeps kubeadm\'s 10.244.0.0/16 up to 256 nodes and widens to a /14 beyond, when no spec names a range', async () => {
    expect(defaultLabPodCidr(256)).toBe('10.244.0.0/16');
    expect(defaultLabPodCidr(257)).toBe('10.244.0.0/14');
    const lab = await startLab({ nodes: 300, controlPlanes: 1 });
    try {
      expect(lab.context.network.podCIDR).toBe('10.244.0.0/14');
      expect(lab.store.list('nodes').items).toHaveLength(300);
    } finally {
      await lab.stop();
    }
  });
});
