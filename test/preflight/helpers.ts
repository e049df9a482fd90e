/** Test helpers for preflight: a World made of given facts, loopback listeners, a loopback spec. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { parseSpec, type LoadedSpec } from '../../src/spec/load.js';
import type { World } from '../../src/preflight/world.js';

export interface FakeWorldFacts {
  cpus?: number;
  memoryBytes?: number;
  kernel?: string;
  files?: Record<string, string>;
  kinds?: Record<string, 'socket' | 'file' | 'dir' | 'other'>;
  disk?: { freeBytes: number; totalBytes: number };
  path?: Record<string, string>;
  addresses?: string[];
  tmpDir?: string;
  env?: Record<string, string | undefined>;
}

/** A world of fixed facts: nothing is read from this machine. */
export function fakeWorld(f: FakeWorldFacts = {}): World {
  return {
    cpus: () => f.cpus ?? 8,
    memoryBytes: () => f.memoryBytes ?? 16 * 1024 ** 3,
    kernelRelease: () => f.kernel ?? '6.1.0-18-amd64',
    readText: async (file) => f.files?.[file],
    fileKind: async (file) => f.kinds?.[file],
    diskSpace: async (dir) => ({ measured: dir, ...(f.disk ?? { freeBytes: 200 * 1024 ** 3, totalBytes: 500 * 1024 ** 3 }) }),
    which: async (name) => f.path?.[name],
    localAddresses: () => f.addresses ?? ['127.0.0.1'],
    now: () => Date.parse('2026-11-25T10:00:00Z'),
    env: f.env ?? { HOME: '/home/op' },
    tmpDir: () => f.tmpDir ?? '/tmp',
  };
}

export function loopbackSpec(opts: { method?: 'talos' | 'kubeadm'; cni?: string; nodes?: string; network?: string } = {}): LoadedSpec {
  const method = opts.method ?? 'talos';
  const nodes =
    opts.nodes ??
    `    - { name: cp-1, address: 127.0.77.11, role: control-plane }
    - { name: w-1, address: 127.0.77.21, role: worker }`;
  const text = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: test }
spec:
  kubernetesVersion: "1.37.2"
  endpoint: https://127.0.77.10:6443
  bootstrap:
    method: ${method}
  nodes:
${nodes}
  network:
    cni: ${opts.cni ?? 'cilium'}
${opts.network ?? ''}
`;
  return parseSpec(text, 'cluster.yaml');
}

/** A real TCP listener on a loopback address; port 0 picks a free one. */
export async function listen(host: string, port = 0): Promise<{ server: net.Server; port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return { server, port: actual, close: () => new Promise((r) => server.close(() => r())) };
}

/** A port on `host` with nothing listening (bound, read, released): connecting to it is refused. */
export async function closedPort(host: string): Promise<number> {
  const l = await listen(host);
  await l.close();
  return l.port;
}

/**
 * A listener that never answers: a child process listens with a backlog of 1 and then stops itself (SIGSTOP),
 * so it never accepts. Once its tiny accept queue is full the kernel drops further SYNs and a connect hangs
 * until the client's timeout: a black hole, on loopback.
 */
export async function blackHole(host: string): Promise<{ port: number; close(): void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', `const s=require('net').createServer();s.listen({host:${JSON.stringify(host)},port:0,backlog:1},()=>{process.stdout.write(String(s.address().port)+'\\n');setTimeout(()=>process.kill(process.pid,'SIGSTOP'),50)});`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  // Wait until it is stopped, then fill the accept queue so later connects hang.
  await new Promise((r) => setTimeout(r, 150));
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host, port });
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
