// Deterministic CFS session names: a re-run of the same workflow finds (409) and adopts the session
// its first run created instead of starting a second one. CFS limits names to 45 characters of a
// DNS label.

/** FNV-1a, 32 bit: stable across runs and platforms, and pure (workflows call it). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

export function customizationSessionName(requestId: string, imageId: string): string {
  const image = imageId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12);
  return `bootimg-${image}-${fnv1a(`${requestId}|${imageId}`)}`;
}

export const sessionNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
