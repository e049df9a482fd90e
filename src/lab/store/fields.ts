/**
 * Strict field validation (`?fieldValidation=Strict`, which kubectl sends by default): the field names each
 * Kubernetes type allows, read from kubernetes-models' generated type declarations (one .d.ts per type, each
 * an `export interface` with quoted property names and imported property types). An object field that its
 * type does not declare is reported like the apiserver's strict decoder does: `unknown field "spec.foo"`.
 * Where a declaration cannot be read, everything below it is allowed: better a missed typo than a valid
 * manifest refused.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { groupOf } from './resources.js';

type TypeRef = { kind: 'leaf' } | { kind: 'ref'; file: string } | { kind: 'array'; of: TypeRef } | { kind: 'map'; of: TypeRef };

interface Decl {
  props: Map<string, TypeRef>;
}

const decls = new Map<string, Promise<Decl | undefined>>();
let modelsDir: string | undefined;

function kubernetesModelsDir(): string {
  if (!modelsDir) {
    const require = createRequire(import.meta.url);
    modelsDir = path.dirname(require.resolve('kubernetes-models/package.json'));
  }
  return modelsDir;
}

/** Removes comments, keeps everything else. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Splits `"a"?: T; "b": U;` into [name, typeText] pairs, respecting nested <>, {}, (). */
function splitProps(body: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /"([^"]+)"\??\s*:/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    let depth = 0;
    let i = re.lastIndex;
    for (; i < body.length; i++) {
      const ch = body[i];
      if (ch === '<' || ch === '{' || ch === '(') depth++;
      else if (ch === '>' || ch === '}' || ch === ')') depth--;
      else if (ch === ';' && depth === 0) break;
    }
    out.push([m[1], body.slice(re.lastIndex, i).trim()]);
    re.lastIndex = i + 1;
  }
  return out;
}

function parseType(text: string, imports: Map<string, string>): TypeRef {
  const t = text.trim();
  const arr = t.match(/^Array<([\s\S]*)>$/);
  if (arr) return { kind: 'array', of: parseType(arr[1], imports) };
  const map = t.match(/^\{\s*\[key: string\]\s*:\s*([\s\S]*?);?\s*\}$/);
  if (map) return { kind: 'map', of: parseType(map[1], imports) };
  const file = imports.get(t);
  if (file) return { kind: 'ref', file };
  return { kind: 'leaf' };
}

async function loadDecl(file: string): Promise<Decl | undefined> {
  let p = decls.get(file);
  if (!p) {
    p = (async () => {
      let src: string;
      try {
        src = stripComments(await readFile(file, 'utf8'));
      } catch {
        return undefined;
      }
      const imports = new Map<string, string>();
      for (const m of src.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
        const spec = m[2];
        const target = spec.startsWith('.') ? path.resolve(path.dirname(file), `${spec}.d.ts`) : resolvePackageDts(spec);
        if (!target) continue;
        for (const name of m[1].split(',').map((s) => s.trim())) imports.set(name, target);
      }
      const start = src.search(/export interface I\w+(?: extends [\w, ]+)? \{/);
      if (start < 0) return undefined; // a type alias (IntOrString, Quantity, Time): a leaf
      const open = src.indexOf('{', start);
      let depth = 0;
      let end = open;
      for (; end < src.length; end++) {
        if (src[end] === '{') depth++;
        else if (src[end] === '}' && --depth === 0) break;
      }
      const props = new Map<string, TypeRef>();
      for (const [name, type] of splitProps(src.slice(open + 1, end))) props.set(name, parseType(type, imports));
      return props.size > 0 ? { props } : undefined;
    })();
    decls.set(file, p);
  }
  return p;
}

function resolvePackageDts(spec: string): string | undefined {
  try {
    const require = createRequire(path.join(kubernetesModelsDir(), 'package.json'));
    const pkg = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
    const pkgDir = path.dirname(require.resolve(`${pkg}/package.json`));
    return path.join(pkgDir, `${spec.slice(pkg.length + 1)}.d.ts`);
  } catch {
    return undefined;
  }
}

async function walk(value: unknown, t: TypeRef, at: string, out: string[]): Promise<void> {
  if (value === null || value === undefined) return;
  if (t.kind === 'array') {
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) await walk(value[i], t.of, `${at}[${i}]`, out);
    return;
  }
  if (t.kind === 'map') {
    if (typeof value === 'object' && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) await walk(v, t.of, `${at}.${k}`, out);
    return;
  }
  if (t.kind !== 'ref' || typeof value !== 'object' || Array.isArray(value)) return;
  const decl = await loadDecl(t.file);
  if (!decl) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const child = decl.props.get(k);
    const p = at === '' ? k : `${at}.${k}`;
    if (!child) out.push(p);
    else await walk(v, child, p, out);
  }
}

/** Field paths in `obj` that its kind's schema does not declare, e.g. ['spec.containers[0].imagee']. */
export async function findUnknownFields(obj: { kind: string; apiVersion: string }): Promise<string[]> {
  const { group, version } = groupOf(obj.apiVersion);
  const file = path.join(kubernetesModelsDir(), group === '' ? version : path.join(group, version), `${obj.kind}.d.ts`);
  const out: string[] = [];
  await walk(obj, { kind: 'ref', file }, '', out);
  return out;
}
