/**
 * `nc -z -u` is UDP in the lab (issue 13): a datagram to CoreDNS on 53/UDP is answered; to a pod that serves TCP
 * only it goes unanswered (a timeout, as nc -u reports it), while a TCP connect there succeeds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, phaseOf, podObj, type Harness } from './controllers-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const nc = (name: string, host: string, port: number, udp: boolean) =>
  podObj(name, { restartPolicy: 'Never', nodeName: 'w-1', containers: [{ name: 'c', image: 'busybox', command: ['nc', '-z', ...(udp ? ['-u'] : []), '-w', '1', host, String(port)] }] });

describe('the UDP probe', () => {
  it('reaches CoreDNS on 53/UDP, and gets no answer from a TCP-only server on the same port', async () => {
    h = await startHarness();
    const dns = await h.waitFor('a Running CoreDNS pod with an IP', () => h!.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=kube-dns' }).items.find((p) => phaseOf(p) === 'Running' && (p.status as { podIP?: string }).podIP));
    await h.apply(podObj('tcp-53', { nodeName: 'w-2', containers: [{ name: 'c', image: 'agnhost', command: ['/agnhost', 'netexec', '--http-port=53'] }] }));
    const tcp = await h.waitFor('the TCP server', () => {
      const p = h!.pod('default', 'tcp-53');
      return phaseOf(p) === 'Running' && (p!.status as { podIP?: string }).podIP ? p : undefined;
    });
    const dnsIp = (dns.status as { podIP: string }).podIP;
    const tcpIp = (tcp.status as { podIP: string }).podIP;
    await h.apply(nc('udp-dns', dnsIp, 53, true));
    await h.apply(nc('udp-tcp-only', tcpIp, 53, true));
    await h.apply(nc('tcp-tcp-only', tcpIp, 53, false));
    for (const [name, want] of [['udp-dns', 'Succeeded'], ['udp-tcp-only', 'Failed'], ['tcp-tcp-only', 'Succeeded']] as const) {
      await h.waitFor(`${name} ${want}`, () => ['Succeeded', 'Failed'].includes(phaseOf(h!.pod('default', name)) ?? '') || undefined);
      expect([name, phaseOf(h.pod('default', name))]).toEqual([name, want]);
    }
    expect(h.logText('default', 'udp-dns')).toMatch(new RegExp(`GW-PROBE connect ${dnsIp.replace(/\./g, '\\.')}:53/udp ok`));
    expect(h.logText('default', 'udp-tcp-only')).toMatch(/GW-PROBE connect .*:53\/udp fail/);
  });
});
