import { defineCommand } from './types.js';
import { commandContext } from './context.js';

export default defineCommand((program, io, setExit) => {
  const explain = program.command('explain');
  explain
    .command('netpol')
    .argument('<file>', 'YAML file with one or more NetworkPolicies (multi-document; "-" reads stdin)')
    .description('print each NetworkPolicy as plain logic and warn about the classic mistakes')
    .addHelpText('after', '\nExample:\n  $ groundwork explain netpol policies.yaml\n  $ kubectl get netpol -A -o yaml | groundwork explain netpol -')
    .action(async (file: string, _o, cmd) => {
      const { explainNetpolFile } = await import('../validate/explain-netpol.js');
      setExit(await explainNetpolFile(file, { io, json: commandContext(cmd, io).json }));
    });
});
