/**
 * Which API the lab-based tests put their labs on (issue 13: "the lab-based tests run on both APIs in CI").
 * `GROUNDWORK_TEST_LAB_API=real|embedded` (default embedded): `npx vitest run` runs them on the embedded API,
 * and `.ci/run` runs the lab-based files a second time on the real control plane (vitest.lab-real.config.ts).
 *
 *   const labs = useTestLabs();                                     // at the top of the file
 *   const lab = await labs.start({ nodes: 3, controllers: ... });   // on TEST_LAB_API, stopped for you
 *   describeLabs('...', () => { ... })   // concurrent on the embedded API; in turn on the real one
 *
 * On the real API a lab starts its own control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, configured as groundwork configures a cluster's) and stops it with itself: nodes, DaemonSets and
 * StorageClasses are cluster-wide, so two labs cannot share one. A file with one lab has one control plane.
 */
import { afterAll, afterEach, describe } from 'vitest';
import { startLab, type Lab, type LabApi, type LabOptions } from '../../src/lab/index.js';
import { realTool, realToolsPath } from './real-tools.js';

function fromEnv(): LabApi {
  const v = process.env.GROUNDWORK_TEST_LAB_API ?? 'embedded';
  if (v !== 'real' && v !== 'embedded') throw new Error(`GROUNDWORK_TEST_LAB_API must be real or embedded, not ${v}`);
  return v;
}

export const TEST_LAB_API: LabApi = fromEnv();
export const ON_REAL_API = TEST_LAB_API === 'real';

/** describe.concurrent on the embedded API; on the real one labs take turns (each runs a whole control plane). */
export function describeLabs(name: string, fn: () => void): void {
  (ON_REAL_API ? describe : describe.concurrent)(name, fn);
}

/** The control plane's programs from the real-tools cache (each use recorded for .ci/run's summary). */
export function realControlPlanePrograms() {
  return {
    etcd: realTool('etcd-3.6/etcd'),
    apiserver: realTool('kube-apiserver'),
    controllerManager: realTool('kube-controller-manager'),
    scheduler: realTool('kube-scheduler'),
  };
}

/** startLab on TEST_LAB_API (an explicit `api` in opts wins). */
export async function startTestLab(opts: LabOptions = {}): Promise<Lab> {
  const api = opts.api ?? TEST_LAB_API;
  if (api === 'embedded') return startLab({ ...opts, api });
  return startLab({ ...opts, api, controlPlaneOptions: { programs: realControlPlanePrograms(), ...opts.controlPlaneOptions } });
}

/**
 * For tests running bin/groundwork: `--api <TEST_LAB_API>` and the PATH entry holding the control plane's
 * programs (and etcd's tools, for the drill) ('' on the embedded API), so a rehearsal or `lab up` runs where this pass says.
 */
export function labApiArgs(): { args: string[]; pathPrefix: string } {
  if (!ON_REAL_API) return { args: ['--api', 'embedded'], pathPrefix: '' };
  // etcdctl and etcdutl of the same etcd: the drill's source is the control plane's etcd 3.6, and a restore by the
  // machine's older etcdctl (3.4 here) does not boot under etcd 3.6.
  const dir = realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-3.6/etcd', 'etcd-3.6/etcdctl', 'etcd-3.6/etcdutl']);
  return { args: ['--api', 'real'], pathPrefix: `${dir}:` };
}

/**
 * A file's labs on TEST_LAB_API, stopped for it: on the real API after each test (one control plane at a time),
 * on the embedded API after the file (concurrent tests keep theirs until then). Call at the file's top level.
 */
export function useTestLabs(): { start(opts?: LabOptions): Promise<Lab> } {
  const running: Lab[] = [];
  const stopAll = async () => {
    await Promise.all(running.splice(0).map((l) => l.stop()));
  };
  if (ON_REAL_API) afterEach(stopAll);
  afterAll(stopAll);
  return {
    async start(opts = {}) {
      const lab = await startTestLab(opts);
      running.push(lab);
      return lab;
    },
  };
}
