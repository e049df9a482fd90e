import { it } from 'vitest';
import { startControlPlane } from '../helpers/control-plane.js';
import { startLab } from '../../src/lab/index.js';
import { createControllers, type ControllerHandle } from '../../src/lab/controllers/index.js';
it('debug', async () => {
  const cp = await startControlPlane();
  let h: ControllerHandle | undefined;
  const lab = await startLab({ api: 'real', controlPlane: cp, nodes: 3, controllers: createControllers({ timeScale: 0.1 }, (x) => (h = x)) });
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setTimeout(r, 5000));
    console.log('errors', h!.errors().map((e) => String((e as Error).message ?? e)).slice(-5));
    console.log(lab.store.list('pods').items.map((p) => [p.metadata.name, (p.spec as any).nodeName, (p.status as any)?.phase]));
    console.log(lab.store.list('nodes').items.map((p) => [p.metadata.name, (p.spec as any).podCIDR]));
    console.log([...h!.runtime.runs.values()].map((r) => [r.stage, r.ip, r.lastRv, r.lastSig?.slice(0, 80)]));
    const p0 = lab.store.list('pods').items[0]!;
    try {
      const w = await lab.store.mutate('pods', p0.metadata.namespace, p0.metadata.name!, (o) => { (o.status as any).phase = 'Running'; }, { subresource: 'status' });
      console.log('wrote', w.metadata.resourceVersion, (w.status as any).phase);
    } catch (e) { console.log('ERR', e); }
    const r = await cp.kubectl(['-n', p0.metadata.namespace!, 'patch', 'pod', p0.metadata.name!, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Running"}}', '-o', 'jsonpath={.status.phase} {.metadata.resourceVersion}', '-v=6']);
    console.log('KUBECTL', r.stdout, r.stderr.slice(-1500));
  }
  await lab.stop(); await cp.stop();
}, 120000);
