/**
 * The OpenAPI documents kubectl reads. kubectl 1.32 uses /openapi/v3 for two things: whether the server
 * validates fields itself (a PATCH operation with a `fieldValidation` query parameter for the kind — then
 * `kubectl apply --validate=strict`, the default, leaves validation to the server, which the lab does with
 * the kubernetes-models schemas), and strategic-merge metadata (components.schemas; when a kind's schema is
 * absent kubectl falls back to its compiled-in Go types for built-in kinds, which is what the lab relies on).
 * /openapi/v2 is served as an empty swagger document for clients that insist on fetching it.
 */
import type { ResourceType } from '../store/types.js';
import { apiVersionOf } from '../store/resources.js';
import { KUBE_VERSION } from './discovery.js';

function gvPath(rt: ResourceType): string {
  return rt.group === '' ? `api/${rt.version}` : `apis/${rt.group}/${rt.version}`;
}

export function openApiV2(_types: ResourceType[]): Record<string, unknown> {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion }, paths: {}, definitions: {} };
}

/**
 * The same empty swagger document in gnostic's protobuf (openapi_v2.Document: swagger = 1, info = 2 with
 * title = 1 and version = 2), which is what kubectl asks /openapi/v2 for when it validates a `kind: List`
 * (a kind no /openapi/v3 document describes). Types absent from the document are not validated client-side;
 * the server validates them.
 */
export function openApiV2Protobuf(): Buffer {
  const field = (n: number, value: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2]), varint(value.length), value]);
  const info = Buffer.concat([field(1, Buffer.from('Kubernetes')), field(2, Buffer.from(KUBE_VERSION.gitVersion))]);
  return Buffer.concat([field(1, Buffer.from('2.0')), field(2, info)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The media type kubectl and client-go ask /openapi/v2 for, and the one kube-apiserver answers with. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
export const OPENAPI_V2_PROTOBUF_ANSWER = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

export function openApiV3Index(types: ResourceType[]): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const rt of types) {
    const p = gvPath(rt);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${KUBE_VERSION.gitVersion}` };
  }
  return { paths };
}

const PARAMS = [
  { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
  { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
  { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
];

export function openApiV3Doc(types: ResourceType[], gv: string): Record<string, unknown> | undefined {
  const mine = types.filter((t) => gvPath(t) === gv);
  if (mine.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const rt of mine) {
    const gvk = { group: rt.group, version: rt.version, kind: rt.kind };
    const base = `/${gv}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.resource}`;
    const op = (action: string, params = PARAMS) => ({
      operationId: `${action}${rt.kind}`,
      parameters: params,
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    });
    paths[base] = { get: op('list', []), post: op('post') };
    paths[`${base}/{name}`] = { get: op('get', []), put: op('put'), patch: op('patch'), delete: op('delete', []) };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
    'x-groundwork-lab': apiVersionOf(mine[0]),
  };
}
