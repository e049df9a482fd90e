/**
 * `npm run build`, third part: bundles the one piece of @kubernetes/client-node the kube door uses (KubeConfig:
 * kubeconfig reading and merging, auth plugins, TLS options) into dist/kube/client-node.bundle.js. The package's
 * entry loads the generated API clients and models too (~826 modules, ~1.5 s); KubeConfig alone, in one file,
 * loads in a fraction of that (issue 17). src/kube/client.ts uses the bundle only when it is newer than tsc's
 * dist/kube/client.js, so a later `tsc` alone can never leave a stale bundle in charge; from src (tests) there
 * is no bundle and the package loads as it is.
 */
import { build } from 'esbuild';
import { NODE_ESM_BUNDLE } from '../node-bundle.mjs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outfile = path.join(root, 'dist/kube/client-node.bundle.js');
const pkgDist = path.dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node'));

/**
 * config.js takes createConfiguration and ServerConfiguration (for makeApiClient, which the door never calls)
 * from the generated barrel, which re-exports every model; point that one import at the two files that define them.
 */
const genWithoutModels = {
  name: 'gen-without-models',
  setup(b) {
    b.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      path.resolve(args.resolveDir) === pkgDist ? { path: 'gen-slim', namespace: 'gen-slim', pluginData: args.resolveDir } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'gen-slim' }, () => ({
      contents: `export { createConfiguration } from ${JSON.stringify(path.join(pkgDist, 'gen/configuration.js'))};\nexport { ServerConfiguration } from ${JSON.stringify(path.join(pkgDist, 'gen/servers.js'))};\n`,
      loader: 'js',
      resolveDir: pkgDist,
    }));
  },
};

await build({
  stdin: { contents: "export { KubeConfig } from '@kubernetes/client-node/dist/config.js';", resolveDir: root, loader: 'js' },
  outfile,
  ...NODE_ESM_BUNDLE,
  plugins: [genWithoutModels],
});
