/**
 * `npm run build`, fourth part: bundles execa and its dependencies into dist/exec/execa.bundle.js, one file
 * instead of ~100 modules (issue 17). src/exec/index.ts loads it on the first spawn, and only when it is newer than
 * tsc's dist/exec/index.js, so a later `tsc` alone can never leave a stale bundle in charge; from src (tests) there
 * is no bundle and the package loads as it is.
 */
import { build } from 'esbuild';
import { NODE_ESM_BUNDLE } from '../node-bundle.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

await build({
  stdin: { contents: "export { execa } from 'execa';", resolveDir: root, loader: 'js' },
  outfile: path.join(root, 'dist/exec/execa.bundle.js'),
  ...NODE_ESM_BUNDLE,
});
