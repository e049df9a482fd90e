import type { CommandModule } from './types.js';

const mod: CommandModule = {
  register(program) {
    program.command('setup').description('(being built)');
  },
};
export default mod;
