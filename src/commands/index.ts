/**
 * The commands, in help order: what the root help lists (name, one-line summary, whether it takes options) and
 * how to load each. Light on purpose (no command module is imported here): `groundwork --help` prints from this
 * table alone, and a run loads only the module of the command it runs (issue 17). cli.ts gives the loaded
 * command its summary from here, so the two never drift.
 */
import type { CommandModule } from './types.js';

interface CommandEntry {
  name: string;
  summary: string;
  /** The command has flags of its own: root help lists it as "name [options]", as commander does. */
  options: boolean;
  load(): Promise<{ default: CommandModule }>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'plan', options: true, summary: 'print every stage and step with its exact argv and the files it would write; runs nothing', load: () => import('./plan.js') },
  { name: 'setup', options: true, summary: 'run the stages for the cluster in the spec: preflight, bootstrap, cni, monitoring, backup, validate, drill', load: () => import('./setup.js') },
  { name: 'rehearse', options: true, summary: 'run the whole flow on the lab, on this machine: preflight, the plan as a dry run, validation and a restore drill', load: () => import('./rehearse.js') },
  { name: 'preflight', options: true, summary: 'check machines, etcd disk, subnets, ports and tools before bootstrap; every failure says why and how to fix it', load: () => import('./preflight.js') },
  { name: 'spec', options: false, summary: 'work with the cluster spec (cluster.yaml)', load: () => import('./spec.js') },
  { name: 'validate', options: true, summary: 'run runtime tests against a live cluster: control plane, connectivity matrix, DNS, NetworkPolicy, scheduling, storage', load: () => import('./validate.js') },
  { name: 'explain', options: false, summary: 'explain Kubernetes objects in plain words', load: () => import('./explain.js') },
  { name: 'drill', options: true, summary: 'rehearse a restore without touching the cluster: snapshot, check, restore into a scratch dir, boot a throw-away member, verify, time it', load: () => import('./drill.js') },
  { name: 'lab', options: false, summary: 'a Kubernetes-API-compatible lab cluster on this machine, to rehearse and test against', load: () => import('./lab.js') },
];

/** A global flag as commander defines it (src/commands/flags.ts addGlobalOptions): whether it takes a value. */
interface GlobalFlag {
  short?: string;
  long?: string;
  required?: boolean;
  optional?: boolean;
}

/**
 * The command the words name, as commander will read them: the first word that is no flag (nor the value of one
 * of `globals`, the program's options); after `help`, the word it asks about. undefined: none named (root help,
 * the wizard) or an unknown word.
 */
export function commandNamed(argv: readonly string[], globals: readonly GlobalFlag[]): CommandEntry | undefined {
  const takesValue = new Set(globals.filter((g) => g.required || g.optional).flatMap((g) => [g.short, g.long].filter((f) => f !== undefined)));
  let afterHelp = false;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') break;
    if (w.startsWith('-')) {
      if (takesValue.has(w)) i++;
      continue;
    }
    if (w === 'help' && !afterHelp) {
      afterHelp = true;
      continue;
    }
    return COMMANDS.find((c) => c.name === w);
  }
  return undefined;
}
