/**
 * The wizard's data: a draft cluster spec edited screen by screen, the questions each screen asks (every one
 * answered by a spec field or a flag, so `--yes` runs can answer them too), and live validation through the
 * same loader that reads cluster.yaml. Pure: no React, no I/O.
 */
import { isMap, isScalar, isSeq, stringify, type Document } from 'yaml';
import { SpecError, type SpecIssue } from '../../errors.js';
import { parseSpec, type LoadedSpec } from '../../spec/load.js';
import { parseYaml } from '../../spec/yaml-source.js';
import type { SpecInput } from '../../spec/schema.js';
import { analyzeSubnets, type SubnetFinding } from '../../net/subnets.js';
import type { Path } from './screens.js';

// The questions and defaults live in screens.ts (light, for the first paint); one import serves both.
export * from './screens.js';
export * from './start.js';


/**
 * Writes the draft into the parsed document in place: unchanged nodes (and their comments, quoting and key
 * order) stay as they were; changed scalars keep their comments; keys the draft dropped are deleted; new keys
 * are added at the end of their mapping.
 */
function applyDraft(doc: Document, path: Path, value: unknown): void {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (value === undefined) {
    if (path.length > 0 && doc.hasIn(path)) doc.deleteIn(path);
    return;
  }
  const replace = (): void => {
    if (path.length === 0) doc.contents = doc.createNode(value) as typeof doc.contents;
    else doc.setIn(path, doc.createNode(value));
  };
  if (Array.isArray(value)) {
    if (!isSeq(node)) return replace();
    value.forEach((v, i) => {
      if (i < node.items.length) applyDraft(doc, [...path, i], v);
      else node.items.push(doc.createNode(v));
    });
    node.items.length = value.length;
    return;
  }
  if (value !== null && typeof value === 'object') {
    if (!isMap(node)) return replace();
    const obj = value as Record<string, unknown>;
    for (const pair of [...node.items]) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof k !== 'string' || obj[k] === undefined) node.delete(pair.key);
    }
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) applyDraft(doc, [...path, k], v);
    return;
  }
  if (isScalar(node)) {
    if (node.value !== value) node.value = value;
    return;
  }
  replace();
}

/** The text to save: the operator's own file with the draft written into it (comments kept), or a new file. */
export function specText(draft: SpecInput, original?: string): string {
  if (original === undefined) return toYaml(draft);
  const { source } = parseYaml(original, 'cluster.yaml');
  applyDraft(source.doc, [], JSON.parse(JSON.stringify(draft)) as unknown);
  return source.doc.toString();
}

export function toYaml(draft: SpecInput): string {
  return `# yaml-language-server: $schema=./groundwork.schema.json\n${stringify(draft)}`;
}

export interface Validation {
  loaded?: LoadedSpec;
  /** Issues keyed by dotted spec path (spec.nodes[0].name). */
  byPath: Map<string, SpecIssue[]>;
  issues: SpecIssue[];
}

/** Validates the draft with the same loader as cluster.yaml, so the wizard and files agree on every rule. */
export function validateDraft(draft: SpecInput, file = 'cluster.yaml'): Validation {
  const byPath = new Map<string, SpecIssue[]>();
  let issues: SpecIssue[] = [];
  let loaded: LoadedSpec | undefined;
  try {
    loaded = parseSpec(toYaml(draft), file);
    issues = loaded.warnings;
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    issues = e.issues;
  }
  for (const i of issues) byPath.set(i.path, [...(byPath.get(i.path) ?? []), i]);
  return { loaded, byPath, issues };
}

/** Live overlap and capacity findings for the network screen (no routes: those are checked by preflight). */
export function networkFindings(v: Validation): SubnetFinding[] {
  const s = v.loaded?.spec;
  if (!s) return [];
  try {
    return analyzeSubnets({
      podCIDR: s.spec.network.podCIDR,
      serviceCIDR: s.spec.network.serviceCIDR,
      nodeMaskSize: s.spec.network.nodeMaskSize,
      nodes: s.spec.nodes.map((n) => ({ name: n.name, address: n.address })),
      routes: [],
      kubernetesVersion: s.spec.kubernetesVersion,
    }).filter((f) => f.status !== 'pass');
  } catch {
    return [];
  }
}
