/**
 * The one kubeconfig writer of the lab (its own API and the real control plane, src/lab/real): one cluster, one
 * user, one context, the CA inline. Pure.
 */
import { stringify } from 'yaml';

/** How the user authenticates: a bearer token, or a client certificate and its key (PEM). */
export type KubeconfigUser = { token: string } | { certPem: string; keyPem: string };

interface KubeconfigParts {
  server: string;
  caPem: string;
  user: KubeconfigUser;
  cluster: string;
  userName: string;
  context: string;
  /** The context's default namespace. */
  namespace?: string;
}

const base64 = (pem: string) => Buffer.from(pem).toString('base64');

export function buildKubeconfig(p: KubeconfigParts): string {
  const user = 'token' in p.user ? { token: p.user.token } : { 'client-certificate-data': base64(p.user.certPem), 'client-key-data': base64(p.user.keyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: p.cluster, cluster: { server: p.server, 'certificate-authority-data': base64(p.caPem) } }],
    users: [{ name: p.userName, user }],
    contexts: [{ name: p.context, context: { cluster: p.cluster, user: p.userName, ...(p.namespace ? { namespace: p.namespace } : {}) } }],
    'current-context': p.context,
    preferences: {},
  });
}
