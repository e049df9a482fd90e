import { defineCommand } from './types.js';
import { commandContext } from './context.js';

export default defineCommand((program, io, setExit) => {
  const spec = program.command('spec');
  spec
    .command('schema')
    .description('print the JSON Schema of cluster.yaml, for editors (yaml-language-server) to validate and complete it')
    .action(async () => {
      const { specJsonSchema } = await import('../spec/json-schema.js');
      io.stdout.write(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
    });
  spec
    .command('check')
    .description('validate a spec and print it with every default filled in')
    .action(async (_o, cmd) => {
      const ctx = commandContext(cmd, io);
      const { loadSpecAndWarn } = await import('../setup.js');
      const loaded = await loadSpecAndWarn(ctx.file, io);
      if (ctx.json) io.stdout.write(`${JSON.stringify(loaded.spec, null, 2)}\n`);
      else {
        const { stringify } = await import('yaml');
        io.stdout.write(stringify(loaded.spec));
      }
      setExit(0);
    });
});
