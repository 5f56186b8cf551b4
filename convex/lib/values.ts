/**
 * Equality of stored values as Convex compares them: NaN equals NaN, −0 and 0
 * differ (Convex orders floats by IEEE-754 total order), an int64 equals only an
 * int64, bytes compare by content, and an undefined field is no field (Convex
 * drops it on write). Every staleness check and verification compares with it.
 *
 * @example
 * sameValue({ score: NaN }, { score: NaN }); // true
 * sameValue(-0, 0);                          // false
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return Object.is(a, b);
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof ArrayBuffer || b instanceof ArrayBuffer) {
    if (!(a instanceof ArrayBuffer && b instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
    const [x, y] = [new Uint8Array(a), new Uint8Array(b)];
    return x.every((byte, i) => byte === y[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let fields = 0; // x's defined fields, each found equal in y
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    if (!Object.hasOwn(y, k) || y[k] === undefined || !sameValue(x[k], y[k])) return false;
    fields++;
  }
  for (const k of Object.keys(y)) if (y[k] !== undefined) fields--;
  return fields === 0;
}
