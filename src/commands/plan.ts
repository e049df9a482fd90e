import type { CommandModule } from './types.js';

const mod: CommandModule = {
  register(program) {
    program.command('plan').description('(being built)');
  },
};
export default mod;
