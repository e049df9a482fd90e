/**
 * Image references and the air-gap mirror (spec.images.registry). Pure.
 *
 * A mirror keeps the image's path and replaces only its registry host: quay.io/cilium/cilium becomes
 * mirror.local:5000/cilium/cilium, docker.io/library/busybox becomes mirror.local:5000/library/busybox. That is
 * how `crane copy` / `skopeo sync` lay out a mirror, and it keeps two images with the same name from different
 * registries apart only when their paths differ (quay.io/x and docker.io/x would collide; none of ours do).
 */

/** Splits a reference into registry host and the rest ("docker.io" when the reference names none). */
export function splitImageRegistry(ref: string): { registry: string; path: string } {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  // Docker's rule: the first component is a registry when it has a dot or a port, or is "localhost".
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) return { registry: first, path: ref.slice(slash + 1) };
  return { registry: 'docker.io', path: slash < 0 ? `library/${ref}` : ref };
}

/** The registry part of the mirror setting, without trailing slashes; "" means upstream. */
export function normalizeMirror(registry: string): string {
  return registry.trim().replace(/\/+$/, '');
}

/** A repository (no tag) or a full reference, rewritten to the mirror when one is set. */
export function mirrorImage(mirror: string, ref: string): string {
  const m = normalizeMirror(mirror);
  if (m === '') return ref;
  return `${m}/${splitImageRegistry(ref).path}`;
}

/** `repository:tag` through the mirror. */
export function imageRef(mirror: string, repository: string, tag: string): string {
  return `${mirrorImage(mirror, repository)}:${tag}`;
}
