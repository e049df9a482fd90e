/**
 * The Kubernetes and Talos releases groundwork supports, and the defaults a new spec gets. Pure.
 *
 * Kubernetes: the three minors upstream maintains (kubernetes.io/releases: the newest three get patches); kubeadm
 * of one of them deploys its own minor (its skew policy allows the control plane one minor older, which the
 * range already covers). Talos: the three newest minors Sidero maintains; each runs the Kubernetes minors of its
 * compatibility table (siderolabs/talos pkg/machinery/compatibility/talosNNN: Minimum/MaximumKubernetesVersion),
 * which `talosctl gen config --talos-version` does not check for you.
 * The defaults are the newest patches the Go module proxy serves, the ones tools/real builds and tests run.
 */

export const DEFAULT_KUBERNETES_VERSION = '1.37.2';
export const DEFAULT_TALOS_VERSION = 'v1.14.1';

const SUPPORTED_KUBERNETES_MINORS = { min: 35, max: 37 } as const;
const SUPPORTED_TALOS_MINORS = { min: 12, max: 14 } as const;

/** Talos minor -> the Kubernetes minors it runs (inclusive), from Talos's compatibility package. */
const TALOS_KUBERNETES_MINORS: Readonly<Record<number, { min: number; max: number }>> = {
  12: { min: 30, max: 35 },
  13: { min: 31, max: 36 },
  14: { min: 32, max: 37 },
};

function parse(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.\d+$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const range = (r: { min: number; max: number }) => `1.${r.min} to 1.${r.max}`;

/** "1.35 to 1.37" and "v1.12 to v1.14", for help texts and messages. */
export const KUBERNETES_RANGE_TEXT = range(SUPPORTED_KUBERNETES_MINORS);
export const TALOS_RANGE_TEXT = `v${range(SUPPORTED_TALOS_MINORS).replace(' to ', ' to v')}`;

/** Why the version is outside the supported 1.<min>-1.<max> minors (the message), or undefined when inside (or not a version at all). */
function checkSupported(v: string, r: { min: number; max: number }, refusal: string): string | undefined {
  const p = parse(v);
  if (!p) return undefined;
  const [major, minor] = p;
  return major === 1 && minor >= r.min && minor <= r.max ? undefined : refusal;
}

/** Why groundwork refuses this Kubernetes version, or undefined when it is supported (or not a version at all). */
export function checkKubernetesVersion(v: string): string | undefined {
  return checkSupported(v, SUPPORTED_KUBERNETES_MINORS, `Kubernetes ${v.replace(/^v/, '')} is not supported: groundwork supports Kubernetes ${KUBERNETES_RANGE_TEXT} (e.g. "${DEFAULT_KUBERNETES_VERSION}")`);
}

export function checkTalosVersion(v: string): string | undefined {
  return checkSupported(v, SUPPORTED_TALOS_MINORS, `Talos ${v} is not supported: groundwork supports Talos ${TALOS_RANGE_TEXT} (e.g. "${DEFAULT_TALOS_VERSION}")`);
}

/** Why this Talos release cannot run this Kubernetes release, or undefined when it can (or either is unsupported). */
export function checkTalosKubernetesPair(talos: string, kubernetes: string): string | undefined {
  const t = parse(talos);
  const k = parse(kubernetes);
  if (!t || !k || k[0] !== 1) return undefined;
  const r = TALOS_KUBERNETES_MINORS[t[1]];
  if (t[0] !== 1 || !r || (k[1] >= r.min && k[1] <= r.max)) return undefined;
  return `Talos ${talos} runs Kubernetes ${range(r)}, not ${kubernetes.replace(/^v/, '')}: ${k[1] > r.max ? 'use a newer Talos (spec.bootstrap.talos.version) or an older Kubernetes' : 'use a newer Kubernetes'}`;
}
