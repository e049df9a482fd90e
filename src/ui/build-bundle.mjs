/**
 * `npm run build`, second half: bundles the wizard's UI path (ink, react, yaml, zod, the spec loader and the
 * screens) into dist/ui/wizard/bundle.js. Loading ink and react as hundreds of separate ES modules costs
 * several hundred ms; one file brings the first screen within the 200 ms goal (issue 9).
 * src/wizard.ts uses the bundle only when it is newer than tsc's dist/ui/wizard/index.js, so a later
 * `tsc` alone can never leave a stale bundle in charge. The first frame is bundled apart (below): yaml and the
 * screens' data, drawn before any of this loads (issue 16).
 */
import { build } from 'esbuild';
import { NODE_ESM_BUNDLE } from '../node-bundle.mjs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');
const outfile = path.join(root, 'dist/ui/wizard/bundle.js');

// Modules that hold classes or state shared with the rest of the CLI (errors for instanceof, run records,
// exec, kube) stay outside the bundle and are imported from tsc's dist/ copy, so there is one of each.
const SHARED = ['errors.ts', 'run/', 'exec/', 'kube/'];

/** Points a shared src module at its compiled dist twin, relative to the bundle. */
const shareWithDist = {
  name: 'share-with-dist',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const abs = path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      const rel = path.relative(src, abs).split(path.sep).join('/');
      if (rel.startsWith('..') || !SHARED.some((s) => rel === s || rel.startsWith(s))) return undefined;
      const target = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
      let spec = path.relative(path.dirname(outfile), target).split(path.sep).join('/');
      if (!spec.startsWith('.')) spec = `./${spec}`;
      return { path: spec, external: true };
    });
  },
};

/** ink loads react-devtools-core only when DEV=true, and it is not installed: a stub keeps the bundle loadable. */
const stubDevtools = {
  name: 'stub-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: "export default { initialize() {}, connectToDevTools() { throw new Error('react-devtools-core is not installed'); } };",
      loader: 'js',
    }));
  },
};

/**
 * yoga-layout's wasm is a base64 data: URL, which it fetch()es when fetch exists: in Node that loads undici
 * (~25 ms) to decode a string it can decode itself. Shadowing fetch in that one module takes its other path.
 */
const yogaWithoutFetch = {
  name: 'yoga-without-fetch',
  setup(b) {
    b.onLoad({ filter: /yoga-layout[\\/]dist[\\/]binaries[\\/].*\.js$/ }, async (args) => ({
      contents: `var fetch = undefined;\n${await readFile(args.path, 'utf8')}`,
      loader: 'js',
    }));
  },
};

// The spec stack (zod, the spec loader: model.ts) is imported after ink's first frame: a chunk of its own.
const wizardDist = path.join(root, 'dist/ui/wizard');
await mkdir(wizardDist, { recursive: true });
for (const f of await readdir(wizardDist)) if (/^(bundle|first-paint)-chunk-/.test(f)) await rm(path.join(wizardDist, f));
await build({
  entryPoints: { bundle: path.join(src, 'ui/wizard/index.tsx') },
  outdir: wizardDist,
  splitting: true,
  chunkNames: 'bundle-chunk-[hash]',
  ...NODE_ESM_BUNDLE,
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [shareWithDist, stubDevtools, yogaWithoutFetch],
  sourcemap: true,
});

// The first frame (first-paint.ts), over tsc's copy of the same module (whichever build ran last wrote it from
// the current source), with the yaml parser in a chunk of its own that only an existing cluster.yaml loads.
// Unbundled, yaml alone takes ~70 ms to load; bundled but inline, its parse still delays a new spec's frame.
await build({
  entryPoints: [path.join(src, 'ui/wizard/first-paint.ts')],
  outdir: wizardDist,
  entryNames: '[name]',
  chunkNames: 'first-paint-chunk-[hash]',
  splitting: true,
  ...NODE_ESM_BUNDLE,
  sourcemap: true,
});
