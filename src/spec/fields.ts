/**
 * Spec field types whose text has a grammar of its own: node taints and cron schedules. Each is parsed once, here,
 * at the spec edge; everything downstream (kubeadm, Talos, the lab, the backup CronJob) reads the parsed form.
 * Kept apart from schema.ts so the schema stays a list of fields.
 */
import { z } from 'zod';
import { Cron } from 'croner';
import { QUALIFIED_NAME_PART, isDnsSubdomain } from './names.js';

// ---- taints ---------------------------------------------------------------------------------------------------

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
type TaintEffect = (typeof TAINT_EFFECTS)[number];

/** A node taint as the spec holds it after parsing; `value` is "" when the taint has none. */
export interface Taint {
  key: string;
  value: string;
  effect: TaintEffect;
}

const isLabelName = (v: string) => v.length <= 63 && QUALIFIED_NAME_PART.test(v);

/** A Kubernetes label key (and taint key): [prefix/]name, prefix a DNS subdomain, name up to 63 characters. */
export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  return isLabelName(name) && (prefix === undefined || isDnsSubdomain(prefix));
}

export function isLabelValue(v: string): boolean {
  return v === '' || isLabelName(v);
}

function keyProblem(key: string): string | undefined {
  if (key === '') return 'has an empty key';
  const slash = key.lastIndexOf('/');
  if (slash >= 0 && !isDnsSubdomain(key.slice(0, slash))) return `has key prefix "${key.slice(0, slash)}", which is not a DNS subdomain`;
  if (!isLabelKey(key)) return `has key "${key}": the name part must be 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  return undefined;
}

/**
 * "key=value:Effect" or "key:Effect", as `kubectl taint` writes them. Returns the taint, or what is wrong with the
 * text in words (the effect is required and case-sensitive, as the API server has it).
 */
export function parseTaintText(text: string): Taint | string {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return `has no effect: write key[=value]:${TAINT_EFFECTS.join('|')}`;
  const effect = text.slice(colon + 1);
  const kv = text.slice(0, colon);
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    const meant = TAINT_EFFECTS.find((e) => e.toLowerCase() === effect.toLowerCase());
    return `has effect "${effect}"; a taint's effect is NoSchedule, PreferNoSchedule or NoExecute${meant ? ` (did you mean ${meant}?)` : ''}`;
  }
  const eq = kv.indexOf('=');
  const key = eq < 0 ? kv : kv.slice(0, eq);
  const value = eq < 0 ? '' : kv.slice(eq + 1);
  const bad = keyProblem(key);
  if (bad) return bad;
  if (!isLabelValue(value)) return `has value "${value}": at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  return { key, value, effect: effect as TaintEffect };
}

/** The text form again (for messages, the wizard and `kubectl taint`). */
function formatTaint(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

/** A taint as the Kubernetes API (and kubeadm's nodeRegistration.taints) writes it: no empty value. */
export function toKubeTaint(t: Taint): { key: string; value?: string; effect: TaintEffect } {
  return t.value === '' ? { key: t.key, effect: t.effect } : { key: t.key, value: t.value, effect: t.effect };
}

const taintFromText = z.string().transform((text, ctx): Taint => {
  const t = parseTaintText(text);
  if (typeof t === 'string') {
    ctx.issues.push({ code: 'custom', message: `${JSON.stringify(text)} is not a taint: it ${t}`, input: text });
    return z.NEVER;
  }
  return t;
});

const taintObject = z
  .strictObject({ key: z.string(), value: z.string().default(''), effect: z.enum(TAINT_EFFECTS) })
  .transform((o, ctx): Taint => {
    const t = parseTaintText(formatTaint(o as Taint));
    if (typeof t === 'string') {
      ctx.issues.push({ code: 'custom', message: `is not a taint: it ${t}`, input: o });
      return z.NEVER;
    }
    return t;
  });

/** One node taint: "key[=value]:Effect" (kubectl's form) or {key, value, effect}; always `Taint` once parsed. */
export const taintSpec = z.union([taintFromText, taintObject]).meta({
  description: 'A node taint, "key[=value]:NoSchedule|PreferNoSchedule|NoExecute" as in kubectl taint, or {key, value, effect}.',
});

// ---- cron schedules -------------------------------------------------------------------------------------------

/** The descriptors Kubernetes' CronJob parser (robfig/cron's standard parser) takes besides five fields. */
const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * A five-field schedule (or a descriptor) as a Kubernetes CronJob takes it, parsed by croner in UTC. Croner's
 * extensions that the CronJob controller rejects (L, W, #, seconds and years) are refused. Returns the schedule or
 * what is wrong with it in words.
 */
export function parseCronSchedule(text: string): Cron | string {
  const s = text.trim();
  if (s.startsWith('@')) {
    if (!CRON_MACROS.includes(s)) return `is not one of the descriptors ${CRON_MACROS.join(', ')}`;
  } else {
    const fields = s.split(/\s+/);
    if (fields.length !== 5) return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has five: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"`;
    if (/[LW#]/i.test(s.replace(/[A-Z]{3}/gi, (m) => (/^(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)$/i.test(m) ? '' : m))))
      return 'uses L, W or #, which croner knows but a Kubernetes CronJob does not';
  }
  try {
    return new Cron(s, { mode: '5-part', utcOffset: 0 });
  } catch (e) {
    return `is not a cron schedule: ${(e as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

/** A backup (CronJob) schedule: checked with croner, kept as the text the CronJob gets. */
export const cronSchedule = z.string().superRefine((text, ctx) => {
  const c = parseCronSchedule(text);
  if (typeof c === 'string') ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} ${c}`, input: text });
});


// ---- security checks and their waivers ------------------------------------------------------------------------

/**
 * The IDs of `groundwork validate --only security` (src/validate/security/catalog.ts describes each). They are
 * the contract a waiver names, so they live at the spec edge and never change meaning.
 */
export const SECURITY_CHECK_IDS = ['GW-SEC-001', 'GW-SEC-002', 'GW-SEC-003', 'GW-SEC-004', 'GW-SEC-005', 'GW-SEC-006', 'GW-SEC-007', 'GW-SEC-008', 'GW-SEC-009'] as const;
export type SecurityCheckId = (typeof SECURITY_CHECK_IDS)[number];

/** A calendar day, YYYY-MM-DD, that exists (2027-02-30 does not). */
export function parseIsoDay(text: string): Date | string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return 'is not a date like "2027-03-31" (YYYY-MM-DD)';
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return 'is not a day of the calendar';
  return d;
}

const isoDay = z.string().superRefine((text, ctx) => {
  const d = parseIsoDay(text);
  if (typeof d === 'string') ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} ${d}`, input: text });
});

/**
 * A waiver: a named security check that may fail without failing the run, with the reason an auditor reads and
 * the day it stops applying (it lapses at the end of that day, UTC). Every report lists every waiver.
 */
export const securityWaiver = z.strictObject({
  check: z.enum(SECURITY_CHECK_IDS, { error: (iss) => `${JSON.stringify(iss.input)} is not a security check ID: one of ${SECURITY_CHECK_IDS.join(', ')}` }),
  reason: z.string().trim().min(10, 'says too little: give the reason an auditor can check (at least 10 characters)'),
  expires: isoDay.meta({ description: 'YYYY-MM-DD: the waiver lapses at the end of this day (UTC), and the check fails again.' }),
});
export type SecurityWaiver = z.output<typeof securityWaiver>;
