import { z } from 'zod';
import { ClusterSpec } from './schema.js';

/** JSON Schema of cluster.yaml as a user writes it (defaults optional), for yaml-language-server. */
export function specJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ClusterSpec, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://groundwork.dev/schemas/cluster-v1alpha1.json', title: 'groundwork Cluster spec' };
}
