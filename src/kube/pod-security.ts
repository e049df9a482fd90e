/**
 * Pod Security admission labels (pure: no client import). A namespace groundwork creates says its level for all
 * three modes, so a cluster's defaults (Talos: enforce baseline, audit and warn restricted) never decide it and
 * helm installs into privileged namespaces do not print a restricted-level warning per object.
 */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

const POD_SECURITY_LABEL_PREFIX = 'pod-security.kubernetes.io/';

export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const mode of ['enforce', 'audit', 'warn'] as const) {
    labels[`${POD_SECURITY_LABEL_PREFIX}${mode}`] = level;
    labels[`${POD_SECURITY_LABEL_PREFIX}${mode}-version`] = 'latest';
  }
  return labels;
}
