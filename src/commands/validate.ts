import { wholeNumber } from './flags.js';
import { defineCommand } from './types.js';
import { commandContext, type CommandContext } from './context.js';
import type { RunValidateOptions } from '../validate/index.js';

export interface ValidateFlags {
  kubeconfig?: string;
  context?: string;
  only?: string;
  junit?: string;
  keep: boolean;
  imageRegistry?: string;
  timeout: number;
  printRbac: boolean;
  auditLog?: string;
}

/** validate's flags as the validate service's options (`only`: the suites, parsed by the service's parseSuites). */
export function validateOptions(o: ValidateFlags, ctx: CommandContext, parseSuites: (list: string | undefined) => RunValidateOptions['only']): RunValidateOptions {
  return {
    io: ctx.io,
    kubeconfig: o.kubeconfig,
    context: o.context,
    only: parseSuites(o.only),
    keep: o.keep,
    imageRegistry: o.imageRegistry,
    timeoutS: o.timeout,
    junit: o.junit,
    json: ctx.json,
    // As the progress on stderr is drawn.
    color: ctx.colorOn(ctx.io.stderr),
    specFile: ctx.file,
    stateDir: ctx.stateDir,
    env: ctx.io.env,
    ...(o.auditLog ? { security: { auditLog: o.auditLog } } : {}),
  };
}

export default defineCommand((program, io, setExit) => {
  program
    .command('validate')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster to test (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('--only <suites>', 'only these suites (comma-separated: control-plane,connectivity,dns,netpol,scheduling,storage,security)')
    .option('--audit-log <file>', 'the API server\'s audit log, where this machine can read it: the security suite proves a request of its own lands there')
    .option('--junit <file>', 'also write the results as JUnit XML to this file')
    .option('--keep', 'keep the test namespaces for inspection (printed at the end)', false)
    .option('--image-registry <registry>', 'pull the probe image from this mirror (default: spec.images.registry, else registry.k8s.io)')
    .option('--timeout <seconds>', 'how long each suite waits for pods and volumes (1-3600)', wholeNumber(1, 3600, 'seconds'), 120)
    .option('--print-rbac', 'print the minimal ClusterRole validate needs and exit', false)
    .addHelpText('after', '\nExamples:\n  $ groundwork validate --kubeconfig admin.conf\n  $ groundwork validate --only connectivity,netpol --junit validate.xml\n  $ groundwork validate --only security --audit-log /var/log/kubernetes/audit/audit.log\n  $ groundwork validate --print-rbac | kubectl apply -f -')
    .action(async (o: ValidateFlags, cmd) => {
      const v = await import('../validate/index.js');
      if (o.printRbac) {
        await v.printRbac(io);
        setExit(0);
        return;
      }
      const code = await v.runValidate(validateOptions(o, commandContext(cmd, io, { specOptional: true }), v.parseSuites));
      setExit(code);
    });
});
