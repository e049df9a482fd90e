/**
 * Where the wizard starts: the spec file read as YAML (yaml alone, no zod: the spec loader loads after the
 * first frame), or its problems when it is no YAML mapping.
 */
import { SpecError, type SpecIssue } from '../../errors.js';
import type { SpecInput } from '../../spec/schema.js';
import { parseYaml } from '../../spec/yaml-source.js';
import { defaultDraft } from './screens.js';

/** Where the wizard starts: the draft, the file's text (kept for a save that keeps its comments), or why it cannot be read. */
export interface StartingPoint {
  draft: SpecInput;
  /** The file's text when it parsed: saving edits this document (comments and key order stay). */
  text?: string;
  /** Why the file is no spec at all (YAML syntax, duplicate keys, not a mapping): shown before anything is edited. */
  problems?: SpecIssue[];
}

/**
 * An existing spec file's text as the wizard's starting draft. A file that is no YAML mapping is never opened
 * with defaults in its place: its problems (file, line, field) come back for the wizard to show, and the
 * operator chooses to start fresh. A file that parses opens as it is; its field errors show on their screens.
 */
export function draftFromYaml(text: string, file = 'cluster.yaml'): StartingPoint {
  try {
    const { data } = parseYaml(text, file);
    if (data && typeof data === 'object' && !Array.isArray(data)) return { draft: data as SpecInput, text };
    return { draft: defaultDraft(), problems: [{ file, line: 1, column: 1, path: '', message: 'is not a mapping with apiVersion, kind, metadata and spec (see examples/talos-ha.yaml)', severity: 'error' }] };
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    return { draft: defaultDraft(), problems: e.issues };
  }
}
