/** Cleanup that the API server keeps refusing: it says what is left and the exact command that finishes it. */
import { describe, expect, it } from 'vitest';
import { ValidateSession } from '../../src/validate/session.js';
import { KubeApiError, type KubeClient } from '../../src/kube/index.js';
import type { StepContext } from '../../src/run/types.js';

const unavailable = () => new KubeApiError('GET', '/api/v1/namespaces', 503, { reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' });

describe('validate cleanup when the API keeps failing', () => {
  it('lists what it could not delete and prints kubectl delete namespace with the run kubeconfig', async () => {
    const kube = {
      list: async () => Promise.reject(unavailable()),
      delete: async () => Promise.reject(unavailable()),
      pathOf: async () => '/',
    } as unknown as KubeClient;
    const s = new ValidateSession({ kube, kubeconfig: '/tmp/lab dir/kubeconfig' });
    const logs: string[] = [];
    const ctx = { runDir: '/x/runs/r1', stateDir: '/x', signal: new AbortController().signal, log: (l: string) => logs.push(l), values: {} } as unknown as StepContext;
    s.created.push(s.namespaceName(ctx), s.namespaceName(ctx, 'netpol'));
    const r = await s.cleanup(ctx);
    const why = 'GET /api/v1/namespaces: 503 ServiceUnavailable: the server is currently unable to handle the request';
    expect(r.leftovers).toEqual([`namespace groundwork-validate-r1 (${why})`, `namespace groundwork-validate-r1-netpol (${why})`]);
    expect(r.commands).toEqual([
      "kubectl --kubeconfig '/tmp/lab dir/kubeconfig' delete namespace groundwork-validate-r1 groundwork-validate-r1-netpol",
      "kubectl --kubeconfig '/tmp/lab dir/kubeconfig' delete namespace -l groundwork.dev/validate-run=r1",
    ]);
    expect(logs.join('\n')).toContain('finish with: kubectl');
  }, 120_000);
});
