/**
 * What the lab serves itself when its API is a real kube-apiserver:
 *
 * - The kubelet API, on each node's InternalIP (127.0.100.N), port 10250 when free (else one the kernel picks,
 *   written into the Node's status.daemonEndpoints.kubeletEndpoint like a kubelet's --port): `/containerLogs/
 *   {ns}/{pod}/{container}` with `follow`, `tailLines`, `timestamps`, `limitBytes` as kube-apiserver forwards them
 *   for `kubectl logs`, and `/healthz`. TLS with a serving certificate from the control plane's CA (the API
 *   server verifies it: --kubelet-certificate-authority); the client must present a certificate that CA signed
 *   (the API server's --kubelet-client-certificate), as a kubelet with x509 authentication requires.
 * - The admin listener: `/lab/<name>/...` (e.g. faults) on 127.0.0.1, same TLS rules: the admin kubeconfig's
 *   client certificate is the credential. Its URL is written into the lab's kubeconfig (a cluster extension).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { issueCertificate, type CertificateAuthority } from '../server/certs.js';
import { ApiError, type LabStore, type PodLogs } from '../store/types.js';
import { streamContainerLog } from '../server/container-log.js';
import { answerAdmin } from '../server/admin.js';
import type { AdminHandler, LabNode } from '../types.js';

export const KUBELET_PORT = 10250;

export interface NodeServers {
  /** The kubelet port of each node (by name). */
  kubeletPorts: Map<string, number>;
  /** https://127.0.0.1:PORT, the admin listener. */
  adminUrl: string;
  addAdminRoute(name: string, handler: AdminHandler): void;
  close(): Promise<void>;
}

function listen(server: https.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function refuseUnverified(req: IncomingMessage, res: ServerResponse): boolean {
  const sock = req.socket as import('node:tls').TLSSocket;
  if (sock.authorized) return false;
  sendJson(res, 401, new ApiError(401, 'Unauthorized', 'a client certificate signed by the cluster CA is required').toStatus());
  return true;
}

/** The kubelet's containerLogs handler: what `kubectl logs` reaches through the API server's node proxy. */
function handleKubelet(store: LabStore, logs: PodLogs, req: IncomingMessage, res: ServerResponse): void {
  if (refuseUnverified(req, res)) return;
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (segs[0] === 'healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  if (segs[0] !== 'containerLogs' || segs.length !== 4) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found\n');
    return;
  }
  const [, ns, pod, container] = segs as [string, string, string, string];
  if (!store.get('pods', ns, pod)) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`pod "${pod}" not found\n`);
    return;
  }
  const q = url.searchParams;
  const number = (k: string) => (q.has(k) ? { [k]: Number(q.get(k)) } : {});
  res.writeHead(200, { 'content-type': 'text/plain' });
  streamContainerLog(res, { store, logs, namespace: ns, pod, container, query: { timestamps: q.get('timestamps') === 'true', follow: q.get('follow') === 'true', nanoseconds: true, ...number('tailLines'), ...number('sinceSeconds'), ...number('limitBytes') } });
}

export async function startNodeServers(o: { nodes: LabNode[]; store: LabStore; logs: PodLogs; ca: CertificateAuthority; kubeletPort?: number }): Promise<NodeServers> {
  const servers: https.Server[] = [];
  const admin = new Map<string, AdminHandler>();
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    })));
  };
  try {
    const kubeletCert = await issueCertificate(o.ca, { commonName: 'groundwork-lab-kubelet', hosts: [...o.nodes.map((n) => n.address), ...o.nodes.map((n) => n.name)], usage: 'server' });
    const tls = { cert: kubeletCert.certPem, key: kubeletCert.keyPem, ca: o.ca.certPem, requestCert: true, rejectUnauthorized: false };
    const kubeletPorts = new Map<string, number>();
    const wanted = o.kubeletPort ?? KUBELET_PORT;
    for (const n of o.nodes) {
      const s = https.createServer(tls, (req, res) => {
        res.on('error', () => undefined);
        try {
          handleKubelet(o.store, o.logs, req, res);
        } catch (e) {
          if (!res.headersSent) sendJson(res, 500, new ApiError(500, 'InternalError', (e as Error).message).toStatus());
          else res.end();
        }
      });
      servers.push(s);
      let port: number;
      try {
        port = await listen(s, n.address, wanted);
      } catch (e) {
        // Another lab on this machine holds the port on this address: a port of the kernel's choosing instead.
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
        port = await listen(s, n.address, 0);
      }
      kubeletPorts.set(n.name, port);
    }
    const adminCert = await issueCertificate(o.ca, { commonName: 'groundwork-lab-admin', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
    const adminServer = https.createServer({ ...tls, cert: adminCert.certPem, key: adminCert.keyPem }, (req, res) => {
      res.on('error', () => undefined);
      void (async () => {
        if (refuseUnverified(req, res)) return;
        const segs = new URL(req.url ?? '/', 'https://lab').pathname.split('/').filter(Boolean).map(decodeURIComponent);
        const out = await answerAdmin(admin, req.method ?? 'GET', segs, async () => {
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            return text ? JSON.parse(text) : undefined;
          } catch {
            throw new ApiError(400, 'BadRequest', 'the request body is not JSON');
          }
        });
        if (out === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        sendJson(res, 200, out);
      })().catch((e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message);
        if (!res.headersSent) sendJson(res, err.code, err.toStatus());
      });
    });
    servers.push(adminServer);
    const adminPort = await listen(adminServer, '127.0.0.1', 0);
    return {
      kubeletPorts,
      adminUrl: `https://127.0.0.1:${adminPort}`,
      addAdminRoute: (name, h) => void admin.set(name, h),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
