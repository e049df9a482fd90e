/**
 * What every esbuild bundle of ours shares (src/ui/build-bundle.mjs, src/kube/build-bundle.mjs,
 * src/exec/build-bundle.mjs): one minified ES module for Node 20, with a real require() for the CommonJS files
 * inside it.
 */
export const NODE_ESM_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: "import { createRequire as __gwCreateRequire } from 'node:module'; const require = __gwCreateRequire(import.meta.url);" },
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};
