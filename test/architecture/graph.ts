/**
 * The module graph of src/ (and test/), read with the TypeScript compiler's parser: every import and export-from
 * declaration and every `import()` call, with whether it is type-only. Shared by the architecture tests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Edge {
  /** The specifier as written. */
  spec: string;
  /** The repo-relative file it resolves to, for relative specifiers that name a source file. */
  target?: string;
  typeOnly: boolean;
  dynamic: boolean;
  /** Names imported (value and type), `*` for a namespace import or `export *`. */
  names: string[];
}

export interface SourceModule {
  file: string;
  sf: ts.SourceFile;
  edges: Edge[];
}

const EXTS = ['.ts', '.tsx', '.mts', '.mjs', '.js'];

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const rel = path.posix.join(d, e.name);
      if (e.isDirectory()) walk(rel);
      else if (EXTS.some((x) => e.name.endsWith(x)) && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const stem = base.replace(/\.(js|mjs|jsx)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.mjs`, `${base}/index.ts`];
  return candidates.find((c) => existsSync(path.join(ROOT, c)) && EXTS.some((x) => c.endsWith(x)));
}

export function parseModule(file: string): SourceModule {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : file.endsWith('.ts') || file.endsWith('.mts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean, dynamic: boolean, names: string[]): void => {
    edges.push({ spec, target: resolve(file, spec), typeOnly, dynamic, names });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const names: string[] = [];
      let allTypes = c?.isTypeOnly ?? false;
      if (c?.name) { names.push('default'); allTypes = c.isTypeOnly; }
      if (c?.namedBindings && ts.isNamespaceImport(c.namedBindings)) names.push('*');
      if (c?.namedBindings && ts.isNamedImports(c.namedBindings)) {
        for (const el of c.namedBindings.elements) names.push((el.propertyName ?? el.name).text);
        if (!c.isTypeOnly && !c.name && c.namedBindings.elements.length > 0) allTypes = c.namedBindings.elements.every((el) => el.isTypeOnly);
      }
      add(node.moduleSpecifier.text, allTypes, false, names);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const names = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements.map((el) => (el.propertyName ?? el.name).text) : ['*'];
      add(node.moduleSpecifier.text, node.isTypeOnly, false, names);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false, true, ['*']);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true, false, node.qualifier ? [ts.isIdentifier(node.qualifier) ? node.qualifier.text : node.qualifier.left.getText()] : ['*']);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { file, sf, edges };
}

export function parseTree(dir: string): SourceModule[] {
  return listFiles(dir).map(parseModule);
}

/** Strongly connected components with more than one module (or a self-import): each is one or more import circles. */
export function circles(mods: SourceModule[], keep: (e: Edge) => boolean): string[][] {
  const adj = new Map<string, string[]>();
  for (const m of mods) adj.set(m.file, [...new Set(m.edges.filter((e) => e.target && keep(e)).map((e) => e.target!))].sort());
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of adj.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (adj.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of [...adj.keys()].sort()) if (!idx.has(v)) strong(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One shortest circle through `start` inside `comp`, as a path start → … → start, for the failure message. */
export function oneCircle(mods: SourceModule[], comp: string[], keep: (e: Edge) => boolean): string[] {
  const inComp = new Set(comp);
  const adj = new Map(mods.map((m) => [m.file, m.edges.filter((e) => e.target && keep(e) && inComp.has(e.target)).map((e) => e.target!)]));
  const start = comp[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of adj.get(v) ?? []) {
      if (w === start) {
        const p = [start];
        for (let x: string | undefined = v; x && x !== start; x = prev.get(x)) p.splice(1, 0, x);
        return [...p, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return comp;
}

/** The names a module exports (`default` for a default export), with their line, not counting `export * from`. */
export function exportsOf(m: SourceModule): { name: string; line: number; type: boolean }[] {
  const out: { name: string; line: number; type: boolean }[] = [];
  const at = (n: ts.Node): number => m.sf.getLineAndCharacterOfPosition(n.getStart(m.sf)).line + 1;
  for (const st of m.sf.statements) {
    const mods = ts.canHaveModifiers(st) ? ts.getModifiers(st) ?? [] : [];
    const exported = mods.some((x) => x.kind === ts.SyntaxKind.ExportKeyword);
    const isDefault = mods.some((x) => x.kind === ts.SyntaxKind.DefaultKeyword);
    if (ts.isExportDeclaration(st)) {
      if (st.exportClause && ts.isNamedExports(st.exportClause)) for (const el of st.exportClause.elements) out.push({ name: el.name.text, line: at(el), type: st.isTypeOnly || el.isTypeOnly });
      else if (st.exportClause && ts.isNamespaceExport(st.exportClause)) out.push({ name: st.exportClause.name.text, line: at(st), type: st.isTypeOnly });
    } else if (ts.isExportAssignment(st)) out.push({ name: 'default', line: at(st), type: false });
    else if (exported && isDefault) out.push({ name: 'default', line: at(st), type: false });
    else if (exported && ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push({ name: d.name.text, line: at(d), type: false });
    } else if (exported && (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name) {
      out.push({ name: st.name.text, line: at(st), type: ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) });
    }
  }
  return out;
}

/** `file#name` for every export of src/ that no module of src/ or test/ imports (a namespace import or `export *` uses them all). */
export function unusedExports(src: SourceModule[], users: SourceModule[]): { key: string; line: number; type: boolean }[] {
  const used = new Set<string>();
  for (const m of users) for (const e of m.edges) if (e.target) for (const n of e.names) used.add(`${e.target}#${n}`);
  return src
    .filter((m) => !used.has(`${m.file}#*`))
    .flatMap((m) => exportsOf(m).filter((x) => !used.has(`${m.file}#${x.name}`)).map((x) => ({ key: `${m.file}#${x.name}`, line: x.line, type: x.type })));
}
