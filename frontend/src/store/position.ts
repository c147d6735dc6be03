// Board positions are opaque strings the server computes and clients compare as byte strings. For
// an optimistic move the client needs a position between two neighbours until the server's own
// arrives; it is never sent.

/** Byte-wise comparison (the positions are ASCII, so UTF-16 code units order the same way). */
export function comparePositions(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A string strictly between `a` and `b` (`b` null: after `a`). Requires a < b. */
export function between(a: string, b: string | null): string {
  let prefix = "";
  for (let i = 0; ; i++) {
    const lo = i < a.length ? a.charCodeAt(i) : 0;
    const hi = b !== null && i < b.length ? b.charCodeAt(i) : 0x7f;
    if (hi - lo > 1) return prefix + String.fromCharCode(Math.floor((lo + hi) / 2));
    // No room at this digit: keep a's digit and look further (after it, anything above a fits).
    prefix += String.fromCharCode(lo);
    if (hi > lo) b = null;
  }
}
