/**
 * The lab's admin routes (`/lab/<name>/<subpath>`, e.g. faults), answered the same on the embedded API server and
 * on the admin listener beside a real one (src/lab/real/node-servers.ts).
 */
import type { AdminHandler } from '../types.js';

/** The route's answer (`{ status: 'Success' }` when it has none); undefined when no route has that name (a 404). */
export async function answerAdmin(admin: ReadonlyMap<string, AdminHandler>, method: string, segs: readonly string[], readBody: () => Promise<unknown>): Promise<unknown> {
  const h = segs[0] === 'lab' && segs.length >= 2 ? admin.get(segs[1]!) : undefined;
  if (!h) return undefined;
  return (await h(method, `/${segs.slice(2).join('/')}`, await readBody())) ?? { status: 'Success' };
}
