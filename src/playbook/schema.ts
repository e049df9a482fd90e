/**
 * The playbook format (playbooks/*.yaml): external command sequences as data. playbooks/README.md is the
 * reference for authors; this zod schema is its enforcement. Extend, don't rename.
 */
import { z } from 'zod';
import { STAGES } from '../run/types.js';

/** "30s", "2m", "1h", "500ms" or a number of milliseconds. */
const Duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(ms|s|m|h)$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a duration like "30s", "2m", "1h" or a number of milliseconds` }),
]);

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDuration(d: number | string): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** One argv element as written. YAML reads `6443` as a number; it is an argument all the same. */
const ArgTemplate = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

/** An argv list: the program and its arguments, one element each, never a shell string. */
const ArgvTemplate = z.array(ArgTemplate).min(1, 'must list the program and its arguments, e.g. [talosctl, version]');

/** A dotted path into the vars: `nodes.controlPlanes`, `spec.network.cni`, `item.address`, `nodes.all[0].name`. */
const VarPath = z
  .string()
  .regex(/^[A-Za-z_][\w-]*(\.[A-Za-z_0-9][\w-]*|\[\d+\])*$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a path like "spec.bootstrap.method" or "nodes.controlPlanes"` });

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const When = z.union([
  VarPath,
  z.strictObject({
    path: VarPath,
    equals: Scalar.optional(),
    notEquals: Scalar.optional(),
  }),
]);

const Capture = z.union([
  z.string().regex(/^[A-Za-z_]\w*$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a name for ctx.values (letters, digits, _)` }),
  z.strictObject({ name: z.string().regex(/^[A-Za-z_]\w*$/), secret: z.boolean().default(false) }),
]);

export const PlaybookStep = z.strictObject({
  /** Unique within the playbook; forEach steps become `<id>:<item.name or index>`. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a step id: lower-case letters, digits and "-"` }),
  title: z.string().min(1),
  run: ArgvTemplate,
  forEach: VarPath.optional(),
  when: When.optional(),
  /** A file the step creates: when it exists the step is already done. */
  creates: z.string().min(1).optional(),
  /** argv whose exit code 0 means the step is already done. */
  unless: ArgvTemplate.optional(),
  /** Recorded in state.json when it succeeds and never run again from that state dir. */
  once: z.boolean().default(false),
  timeout: Duration.optional(),
  retries: z.number().int().min(0).max(10).default(0),
  /** A file the step writes that holds secrets: chmod 0600 and its contents are redacted everywhere. */
  secret: z.string().min(1).optional(),
  /** Keep the command's stdout (trimmed) in ctx.values for later steps: `{{ values.<name> }}`. */
  capture: Capture.optional(),
});

export const Playbook = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a playbook name: lower-case letters, digits and "-"` }),
  stage: z.enum(STAGES),
  description: z.string().optional(),
  steps: z.array(PlaybookStep).min(1, 'must list at least one step'),
});

export type PlaybookStep = z.output<typeof PlaybookStep>;
export type Playbook = z.output<typeof Playbook>;
export type When = z.output<typeof When>;
