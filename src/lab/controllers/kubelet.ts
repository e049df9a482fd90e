/**
 * A kubelet per node, in-process: takes the pods bound to its node through Pending -> ContainerCreating ->
 * Running -> Succeeded/Failed, with conditions, containerStatuses, restart counts and CrashLoopBackOff, pod IPs
 * from the node's podCIDR slice, and runs each container's command through the probe vocabulary: probes are
 * evaluated against the network model and volumes and print their `GW-PROBE ...` line into the pod's log.
 * Any other command runs until the pod is deleted, like a server.
 */
import { checksumContent, describeProbeTarget, formatProbeLine, parseProbe, type Probe } from '../../probe/index.js';
import { Allocator } from './ipam.js';
import { buildNetView, connect, httpGet, resolveName, type NetResult } from './network.js';
import { isPodHealthy } from './nodes.js';
import { iso, quietly, setCondition, type ContainerRun, type Obj, type PodRun, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';

const MAX_BACKOFF_MS = 300_000;

function nodeAllocator(rt: Runtime, nodeName: string): Allocator | undefined {
  const a = rt.podAllocators.get(nodeName);
  if (a) return a;
  // Every node's slice that has none yet, from one read of the pods (one read per node was O(nodes x pods)).
  const made = new Map<string, Allocator>();
  for (const name of new Set([...rt.nodeNames, nodeName])) {
    if (rt.podAllocators.has(name)) continue;
    const cidr = (rt.store.get('nodes', undefined, name)?.spec as Obj)?.podCIDR as string | undefined;
    if (cidr) made.set(name, new Allocator(cidr, 2));
  }
  if (!made.has(nodeName)) return undefined;
  // Adopt addresses already handed out (a lab restarted on the same store).
  for (const p of rt.store.list('pods').items) {
    const ip = (p.status as Obj)?.podIP;
    const on = made.get((p.spec as Obj)?.nodeName);
    if (on && ip) on.reserve(ip);
  }
  for (const [name, al] of made) rt.podAllocators.set(name, al);
  return made.get(nodeName);
}

/** Where a file path of a container lands: a volume key and the path inside it. */
function locateFile(pod: KubeObject, container: Obj, path: string, store: Runtime['store']): { key: string; rel: string } {
  const mounts = ((container.volumeMounts ?? []) as Obj[])
    .filter((m) => path === m.mountPath || path.startsWith(`${String(m.mountPath).replace(/\/+$/, '')}/`))
    .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length);
  const m = mounts[0];
  if (!m) return { key: `rootfs:${pod.metadata.uid}/${container.name}`, rel: path };
  const rel = path.slice(String(m.mountPath).replace(/\/+$/, '').length) || '/';
  const vol = (((pod.spec as Obj).volumes ?? []) as Obj[]).find((v) => v.name === m.name);
  if (vol?.persistentVolumeClaim) {
    const pvc = store.get('persistentvolumeclaims', pod.metadata.namespace, vol.persistentVolumeClaim.claimName);
    const pv = (pvc?.spec as Obj)?.volumeName;
    if (pv) return { key: `pv:${pv}`, rel };
  }
  if (vol?.hostPath) return { key: `host:${(pod.spec as Obj).nodeName}:${vol.hostPath.path}`, rel };
  return { key: `pod:${pod.metadata.uid}/${m.name}`, rel };
}

function delayFor(rt: Runtime, r: NetResult, probe: { timeoutS: number; attempts?: number }): number {
  // A failing probe with attempts waits out each one and the second between them, as the script does.
  const attempts = r.ok ? 1 : (probe.attempts ?? 1);
  return r.waits ? (probe.timeoutS * attempts + (attempts - 1)) * 1000 * rt.opts.timeScale : 0;
}

/** The kubelet restarts a terminated container (restartPolicy Always/OnFailure) once its back-off has passed. */
function restartContainer(rt: Runtime, pod: KubeObject, c: Obj, cr: ContainerRun): void {
  cr.restartCount++;
  cr.restartAt = undefined;
  cr.state = 'running';
  cr.reason = undefined;
  cr.startedAt = iso(rt.now());
  startProgram(rt, pod, c, cr);
}

function startProgram(rt: Runtime, pod: KubeObject, c: Obj, cr: ContainerRun): void {
  const probe: Probe | undefined = parseProbe(c.command, c.args ?? []);
  const now = rt.now().getTime();
  const ns = pod.metadata.namespace!;
  const name = pod.metadata.name!;
  cr.serves = [];
  cr.finishAt = undefined;
  cr.finalLog = undefined;
  const finish = (ok: boolean, detail: string | undefined, delayMs: number, exitCode = ok ? 0 : 1) => {
    cr.finishAt = now + delayMs;
    cr.exitCode = exitCode;
    cr.finalLog = probe ? formatProbeLine({ kind: probe.kind, target: describeProbeTarget(probe), ok, ...(detail ? { detail } : {}) }) : undefined;
  };
  if (!probe) return; // any other command: a server that runs until deleted
  switch (probe.kind) {
    case 'serve':
      cr.serves = [probe.port];
      rt.logs.append(ns, name, c.name, `Started HTTP server on port ${probe.port}`);
      return;
    case 'sleep':
      if (probe.seconds !== undefined) {
        cr.finishAt = now + probe.seconds * 1000 * rt.opts.timeScale;
        cr.exitCode = 0;
      }
      return;
    case 'exit':
      finish(probe.code === 0, undefined, 0, probe.code);
      return;
    case 'connect': {
      const r = connect(buildNetView(rt), pod, probe.host, probe.port, probe.protocol ?? 'TCP');
      finish(r.ok, r.ok ? undefined : r.detail, delayFor(rt, r, probe));
      return;
    }
    case 'resolve': {
      const r = resolveName(buildNetView(rt), pod, probe.name);
      finish(r.ok, r.ok ? r.detail : r.detail, delayFor(rt, r, probe));
      return;
    }
    case 'http-get': {
      const r = httpGet(buildNetView(rt), pod, probe.url);
      finish(r.ok, r.detail, delayFor(rt, r, probe));
      return;
    }
    case 'write-file': {
      const { key, rel } = locateFile(pod, c, probe.path, rt.store);
      let files = rt.volumes.get(key);
      if (!files) rt.volumes.set(key, (files = new Map()));
      files.set(rel, probe.content);
      finish(true, `sha256=${checksumContent(probe.content)}`, 0);
      return;
    }
    case 'read-file': {
      const { key, rel } = locateFile(pod, c, probe.path, rt.store);
      const content = rt.volumes.get(key)?.get(rel);
      const sum = content === undefined ? 'missing' : checksumContent(content);
      finish(sum === probe.sha256, `sha256=${sum}`, 0);
      return;
    }
  }
}

function containerStatus(c: Obj, cr: ContainerRun, ready: boolean): Obj {
  const state: Obj =
    cr.state === 'running'
      ? { running: { startedAt: cr.startedAt } }
      : cr.state === 'terminated'
        ? { terminated: { exitCode: cr.exitCode ?? 0, reason: cr.exitCode === 0 ? 'Completed' : 'Error', startedAt: cr.startedAt, finishedAt: cr.finishedAt } }
        : { waiting: { reason: cr.reason ?? 'ContainerCreating', ...(cr.reason === 'CrashLoopBackOff' ? { message: `back-off restarting failed container ${c.name}` } : {}) } };
  return {
    name: c.name,
    image: c.image,
    imageID: cr.state === 'waiting' && cr.restartCount === 0 && !cr.lastTerminated ? '' : `${String(c.image).split(':')[0]}@sha256:${checksumContent(String(c.image))}`,
    ...(cr.state !== 'waiting' || cr.lastTerminated ? { containerID: `containerd://${checksumContent(`${cr.name}/${cr.restartCount}`)}` } : {}),
    state,
    lastState: cr.lastTerminated ? { terminated: cr.lastTerminated } : {},
    ready,
    restartCount: cr.restartCount,
    started: cr.state === 'running',
  };
}

function volumesReady(rt: Runtime, pod: KubeObject): { ok: boolean; warning?: string } {
  const ns = pod.metadata.namespace!;
  for (const v of (((pod.spec as Obj).volumes ?? []) as Obj[])) {
    if (v.persistentVolumeClaim) {
      const pvc = rt.store.get('persistentvolumeclaims', ns, v.persistentVolumeClaim.claimName);
      if (!pvc || (pvc.status as Obj)?.phase !== 'Bound') return { ok: false };
    }
    if (v.configMap && !v.configMap.optional && !rt.store.get('configmaps', ns, v.configMap.name)) {
      return { ok: false, warning: `MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" not found` };
    }
    if (v.secret && !v.secret.optional && !rt.store.get('secrets', ns, v.secret.secretName)) {
      return { ok: false, warning: `MountVolume.SetUp failed for volume "${v.name}" : secret "${v.secret.secretName}" not found` };
    }
  }
  return { ok: true };
}

async function writeStatus(rt: Runtime, pod: KubeObject, run: PodRun, nodeName: string): Promise<void> {
  const spec = pod.spec as Obj;
  const containers = (spec.containers ?? []) as Obj[];
  const healthy = isPodHealthy(rt, pod);
  const restartPolicy = spec.restartPolicy ?? 'Always';
  const statuses = containers.map((c) => {
    const cr = run.containers.find((x) => x.name === c.name)!;
    return containerStatus(c, cr, cr.state === 'running' && healthy);
  });
  const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
  const initContainers = (spec.initContainers ?? []) as Obj[];
  const initStatuses = initContainers.map((c, i) => {
    const cr = run.init[i]!;
    const done = i < run.initDone;
    return { ...containerStatus(c, cr, done), ready: done, started: cr.state === 'running' };
  });
  const initialized = run.initDone >= initContainers.length;
  let phase = 'Pending';
  if (run.initFailed) phase = 'Failed';
  else if (run.stage !== 'creating' && run.stage !== 'init') {
    const done = run.containers.every((cr) => cr.state === 'terminated' && !willRestart(restartPolicy, cr));
    if (done) phase = run.containers.every((cr) => cr.exitCode === 0) ? 'Succeeded' : 'Failed';
    else phase = 'Running';
  }
  if (phase === 'Succeeded' || phase === 'Failed') run.stage = 'done';
  const node = rt.ctx.nodes.find((n) => n.name === nodeName);
  const ip = run.ip;
  const sig = JSON.stringify([phase, ip, statuses, initStatuses]);
  if (sig === run.lastSig && pod.metadata.resourceVersion === run.lastRv) {
    run.lastFaults = rt.faultsVersion;
    return;
  }
  const written = await quietly(
    rt.store.mutate('pods', pod.metadata.namespace, pod.metadata.name!, (o) => {
      const st = ((o.status ??= {}) as Obj);
      const now = rt.now();
      st.phase = phase;
      if (node) {
        st.hostIP = node.address;
        st.hostIPs = [{ ip: node.address }];
      }
      if (ip) {
        st.podIP = ip;
        st.podIPs = [{ ip }];
      }
      st.startTime ??= iso(new Date(run.createdAt));
      const conds = (st.conditions ??= []) as Obj[];
      const terminal = phase === 'Succeeded' || phase === 'Failed';
      setCondition(conds, 'PodReadyToStartContainers', ip && !terminal ? 'True' : 'False', now, undefined, undefined, { lastProbeTime: null });
      if (initialized) setCondition(conds, 'Initialized', 'True', now, terminal && phase === 'Succeeded' ? 'PodCompleted' : undefined, undefined, { lastProbeTime: null });
      else {
        const pendingInit = initContainers.slice(run.initDone).map((c) => c.name).join(' ');
        setCondition(conds, 'Initialized', 'False', now, 'ContainersNotInitialized', `containers with incomplete status: [${pendingInit}]`, { lastProbeTime: null });
      }
      const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
      const readyMsg = `containers with unready status: [${notReady.join(' ')}]`;
      if (allReady) {
        setCondition(conds, 'Ready', 'True', now, undefined, undefined, { lastProbeTime: null });
        setCondition(conds, 'ContainersReady', 'True', now, undefined, undefined, { lastProbeTime: null });
      } else {
        const reason = phase === 'Succeeded' ? 'PodCompleted' : phase === 'Failed' ? 'PodFailed' : 'ContainersNotReady';
        setCondition(conds, 'Ready', 'False', now, reason, reason === 'ContainersNotReady' ? readyMsg : undefined, { lastProbeTime: null });
        setCondition(conds, 'ContainersReady', 'False', now, reason, reason === 'ContainersNotReady' ? readyMsg : undefined, { lastProbeTime: null });
      }
      setCondition(conds, 'PodScheduled', 'True', now, undefined, undefined, { lastProbeTime: null });
      const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
      conds.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
      st.containerStatuses = statuses;
      if (initStatuses.length > 0) st.initContainerStatuses = initStatuses;
      st.qosClass ??= 'BestEffort';
    }, { subresource: 'status', skipValidation: true }),
  );
  if (written) {
    run.lastSig = sig;
    run.lastRv = written.metadata.resourceVersion;
    run.lastFaults = rt.faultsVersion;
  }
}

function willRestart(policy: string, cr: ContainerRun): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && cr.exitCode !== 0);
}

async function runPod(rt: Runtime, pod: KubeObject, nodeName: string): Promise<void> {
  const uid = pod.metadata.uid!;
  const spec = pod.spec as Obj;
  const containers = (spec.containers ?? []) as Obj[];
  const initContainers = (spec.initContainers ?? []) as Obj[];
  const now = rt.now().getTime();
  let run = rt.runs.get(uid);
  if (!run) {
    const prev = pod.status as Obj | undefined;
    run = {
      uid,
      stage: 'creating',
      createdAt: now,
      node: nodeName,
      ip: prev?.podIP,
      containers: containers.map((c) => ({ name: c.name, state: 'waiting', reason: initContainers.length ? 'PodInitializing' : 'ContainerCreating', restartCount: 0, serves: [] })),
      init: initContainers.map((c) => ({ name: c.name, state: 'waiting', reason: 'PodInitializing', restartCount: 0, serves: [] })),
      initDone: 0,
      startedEvents: false,
      warned: new Set(),
    };
    rt.runs.set(uid, run);
    // A pod already running when we start (the lab restarted on the same etcd, or a restored snapshot):
    // adopt it as the kubelet would after a restart, without walking it back through Pending.
    if (prev?.phase === 'Running' && Array.isArray(prev.containerStatuses) && prev.podIP) {
      const a = spec.hostNetwork ? undefined : nodeAllocator(rt, nodeName);
      a?.reserve(prev.podIP);
      run.stage = 'running';
      run.startedEvents = true;
      run.initDone = initContainers.length;
      for (const c of containers) {
        const cr = run.containers.find((x) => x.name === c.name)!;
        const cs = (prev.containerStatuses as Obj[]).find((x) => x.name === c.name);
        cr.restartCount = Number(cs?.restartCount ?? 0);
        cr.state = 'running';
        cr.reason = undefined;
        cr.startedAt = cs?.state?.running?.startedAt ?? iso(rt.now());
        startProgram(rt, pod, c, cr);
      }
    }
  }
  if (run.stage === 'done') return;
  if (run.stage === 'creating') {
    if (rt.faults.has('cni-not-ready') && rt.ctx.network.cni !== 'none' && !spec.hostNetwork) {
      const msg = 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox: plugin type="cni" failed (add): cni plugin not initialized';
      if (!run.warned.has(msg)) {
        run.warned.add(msg);
        await rt.event(pod, 'Warning', 'FailedCreatePodSandBox', msg, 'kubelet', nodeName);
        await writeStatus(rt, pod, run, nodeName);
      }
      return;
    }
    const vol = volumesReady(rt, pod);
    if (!vol.ok) {
      if (vol.warning && !run.warned.has(vol.warning)) {
        run.warned.add(vol.warning);
        await rt.event(pod, 'Warning', 'FailedMount', vol.warning, 'kubelet', nodeName);
      }
      if (!(pod.status as Obj)?.containerStatuses) await writeStatus(rt, pod, run, nodeName);
      return;
    }
    if (!run.ip) {
      if (spec.hostNetwork) run.ip = rt.ctx.nodes.find((n) => n.name === nodeName)?.address;
      else {
        const a = nodeAllocator(rt, nodeName);
        if (!a) return rt.wake(100);
        run.ip = a.allocate();
        if (!run.ip) return; // slice exhausted: stays ContainerCreating, as with a full IPAM block
      }
      await writeStatus(rt, pod, run, nodeName);
    }
    const wait = run.createdAt + rt.opts.startDelayMs - now;
    if (wait > 0) return rt.wake(wait);
    run.stage = initContainers.length > 0 ? 'init' : 'running';
  }
  if (run.stage === 'init') {
    const policy = spec.restartPolicy ?? 'Always';
    for (;;) {
      const c = initContainers[run.initDone];
      if (!c) {
        run.stage = 'running';
        break;
      }
      const cr = run.init[run.initDone]!;
      const t = rt.now().getTime();
      if (cr.state === 'waiting' && (cr.restartAt === undefined || cr.restartAt <= t)) {
        if (cr.restartAt !== undefined) cr.restartCount++;
        cr.restartAt = undefined;
        cr.state = 'running';
        cr.reason = undefined;
        cr.startedAt = iso(rt.now());
        await rt.event(pod, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet', nodeName);
        startProgram(rt, pod, c, cr);
      }
      if (cr.state === 'waiting') {
        rt.wake(Math.max(1, (cr.restartAt ?? t) - t));
        break;
      }
      if (cr.finishAt === undefined) break; // an init container that never ends holds the pod in Init
      if (cr.finishAt > t) {
        rt.wake(cr.finishAt - t);
        break;
      }
      if (cr.finalLog) rt.logs.append(pod.metadata.namespace!, pod.metadata.name!, c.name, cr.finalLog);
      cr.state = 'terminated';
      cr.finishedAt = iso(rt.now());
      cr.finishAt = undefined;
      if (cr.exitCode === 0) {
        run.initDone++;
        continue;
      }
      if (policy === 'Never') {
        run.initFailed = true;
        break;
      }
      cr.lastTerminated = { exitCode: cr.exitCode, reason: 'Error', startedAt: cr.startedAt, finishedAt: cr.finishedAt };
      cr.state = 'waiting';
      cr.reason = 'CrashLoopBackOff';
      cr.restartAt = t + Math.min(rt.opts.restartBackoffMs * 2 ** cr.restartCount, MAX_BACKOFF_MS);
      rt.wake(cr.restartAt - t);
      break;
    }
    if (run.stage === 'init') {
      await writeStatus(rt, pod, run, nodeName);
      return;
    }
  }
  if (!run.startedEvents) {
    for (const c of containers) {
      const cr = run.containers.find((x) => x.name === c.name)!;
      await rt.event(pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, 'kubelet', nodeName);
      await rt.event(pod, 'Normal', 'Created', `Created container ${c.name}`, 'kubelet', nodeName);
      await rt.event(pod, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet', nodeName);
      cr.state = 'running';
      cr.reason = undefined;
      cr.startedAt = iso(rt.now());
      startProgram(rt, pod, c, cr);
    }
    run.startedEvents = true;
  }
  // Running: finish programs whose time came, restart what the policy restarts.
  const policy = spec.restartPolicy ?? 'Always';
  let next = Infinity;
  for (const c of containers) {
    const cr = run.containers.find((x) => x.name === c.name)!;
    const t = rt.now().getTime();
    if (cr.state === 'running' && cr.finishAt !== undefined) {
      if (cr.finishAt <= t) {
        if (cr.finalLog) rt.logs.append(pod.metadata.namespace!, pod.metadata.name!, c.name, cr.finalLog);
        cr.state = 'terminated';
        cr.finishedAt = iso(rt.now());
        cr.serves = [];
        if (willRestart(policy, cr)) {
          cr.restartAt = t + Math.min(rt.opts.restartBackoffMs * 2 ** cr.restartCount, MAX_BACKOFF_MS);
          if (cr.exitCode !== 0) await rt.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`, 'kubelet', nodeName);
        }
      } else next = Math.min(next, cr.finishAt - t);
    }
    if (cr.state === 'terminated' && cr.restartAt !== undefined) {
      if (!cr.lastTerminated || cr.reason !== 'CrashLoopBackOff') {
        cr.lastTerminated = { exitCode: cr.exitCode, reason: cr.exitCode === 0 ? 'Completed' : 'Error', startedAt: cr.startedAt, finishedAt: cr.finishedAt };
      }
      if (cr.restartAt <= t) {
        restartContainer(rt, pod, c, cr);
        if (cr.finishAt !== undefined) next = Math.min(next, Math.max(0, cr.finishAt - t));
      } else {
        // Shown as waiting/CrashLoopBackOff with the last termination, like `kubectl get pods` shows it.
        cr.state = 'waiting';
        cr.reason = 'CrashLoopBackOff';
        next = Math.min(next, cr.restartAt - t);
      }
    } else if (cr.state === 'waiting' && cr.reason === 'CrashLoopBackOff' && cr.restartAt !== undefined) {
      if (cr.restartAt <= t) {
        restartContainer(rt, pod, c, cr);
        if (cr.finishAt !== undefined) next = Math.min(next, Math.max(0, cr.finishAt - t));
      } else next = Math.min(next, cr.restartAt - t);
    }
  }
  await writeStatus(rt, pod, run, nodeName);
  if (next !== Infinity) rt.wake(Math.max(1, next));
}

export async function runKubelets(rt: Runtime): Promise<void> {
  const nodes = new Set(rt.ctx.nodes.map((n) => n.name));
  const live = new Set<string>();
  for (const pod of rt.store.list('pods').items) {
    live.add(pod.metadata.uid!);
    const nodeName = (pod.spec as Obj)?.nodeName as string | undefined;
    if (!nodeName || !nodes.has(nodeName)) continue;
    if (rt.faults.isNodeNotReady(nodeName)) continue; // its kubelet is down: nothing changes there
    if (pod.metadata.deletionTimestamp) {
      // Containers stopped; the kubelet confirms the deletion (grace period 0) when nothing else holds it.
      if ((pod.metadata.finalizers ?? []).length === 0) await quietly(rt.store.delete('pods', pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0 }));
      continue;
    }
    const phase = (pod.status as Obj)?.phase;
    if ((phase === 'Succeeded' || phase === 'Failed') && !rt.runs.has(pod.metadata.uid!)) continue;
    // Steady state: a running pod whose containers have nothing scheduled, unchanged since our last write.
    const run = rt.runs.get(pod.metadata.uid!);
    if (
      run && run.stage === 'running' && run.lastRv === pod.metadata.resourceVersion && run.lastFaults === rt.faultsVersion &&
      run.containers.every((c) => c.state === 'running' && c.finishAt === undefined && c.restartAt === undefined)
    ) continue;
    try {
      await runPod(rt, pod, nodeName);
    } catch (e) {
      rt.wake(500);
      throw e;
    }
  }
  // Forget pods that are gone: their IPs, logs, and their own (non-persistent) volumes.
  for (const [uid, run] of rt.runs) {
    if (live.has(uid)) continue;
    rt.runs.delete(uid);
    if (run.ip) {
      // Its node's slice only (every node's was O(nodes) per pod gone).
      const own = run.node ? rt.podAllocators.get(run.node) : undefined;
      if (own) own.release(run.ip);
      else if (!run.node) for (const a of rt.podAllocators.values()) a.release(run.ip);
    }
    for (const k of [...rt.volumes.keys()]) if (k.startsWith(`pod:${uid}/`) || k.startsWith(`rootfs:${uid}/`)) rt.volumes.delete(k);
  }
}
