/**
 * What the security suite expects of a cluster, from the spec when there is one (pure): which namespaces may hold
 * host-access pods and be labelled `privileged`, which are exempt from Pod Security, who may hold cluster-admin,
 * the waivers, and the bootstrap method (Talos and kubeadm differ in where the audit log lives and in kubeadm's
 * own admin group).
 */
import { ALL_CHARTS } from '../../addons/charts.js';
import type { SecurityWaiver } from '../../spec/fields.js';
import type { Spec } from '../../spec/schema.js';

export interface SecurityOptions {
  method?: 'talos' | 'kubeadm';
  /** Namespaces Pod Security admission exempts (default kube-system). */
  exemptNamespaces?: string[];
  /** Namespaces that may hold privileged/host-access pods and carry enforce=privileged (node agents). */
  privilegedNamespaces?: string[];
  waivers?: SecurityWaiver[];
  /** A file on this machine the API server writes its audit log to (a control plane, or a test): GW-SEC-008 proves it writes. */
  auditLog?: string;
  /** The cluster is the rehearsal's lab, not the operator's: findings are reported, never failed. */
  rehearsal?: boolean;
  now?: () => Date;
}

/** Namespaces node agents of the add-ons groundwork installs run in (calico-system is made by the Tigera operator). */
const ADDON_PRIVILEGED = [...new Set([...ALL_CHARTS.filter((c) => c.podSecurity === 'privileged').map((c) => c.namespace), 'calico-system'])];

export function defaultPrivilegedNamespaces(): string[] {
  return ['kube-system', ...ADDON_PRIVILEGED.filter((n) => n !== 'kube-system')];
}

export function securityOptionsFromSpec(spec: Spec): SecurityOptions {
  const ps = spec.spec.security.podSecurity;
  const listed = Object.entries(ps.namespaces);
  const privileged = new Set([...defaultPrivilegedNamespaces(), ...ps.exemptNamespaces, ...listed.filter(([, l]) => l === 'privileged').map(([n]) => n)]);
  // A namespace the spec sets to another level is not privileged, even where an add-on would be.
  for (const [n, l] of listed) if (l !== 'privileged' && !ps.exemptNamespaces.includes(n)) privileged.delete(n);
  return { method: spec.spec.bootstrap.method, exemptNamespaces: [...ps.exemptNamespaces], privilegedNamespaces: [...privileged], waivers: [...spec.spec.security.waivers] };
}
