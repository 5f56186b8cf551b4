/**
 * Convex document ids as the backend encodes them (get-convex/convex-backend,
 * crates/value/src/id_v6.rs and base32.rs): VInt(table number) ++ 16-byte
 * internal id ++ footer (Fletcher-16 of the rest XOR version 0, little-endian),
 * in Crockford base32 with lowercase letters, no padding.
 *
 * The loader decodes every `_id` and every reference with it, so a reference to
 * the wrong table is caught by its table number, as Convex itself would.
 *
 * @example
 * const id = encodeConvexId(10001, new Uint8Array(16).fill(7));
 * decodeConvexId(id); // { tableNumber: 10001, internalId: Uint8Array(16) }
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));
const VERSION = 0;

function encodedLength(bytes: number): number {
  return Math.floor(bytes / 5) * 8 + [0, 2, 4, 5, 7][bytes % 5]!;
}
/** 1 + 16 + 2 bytes at least, 5 + 16 + 2 at most. */
const MIN_LENGTH = encodedLength(19);
const MAX_LENGTH = encodedLength(23);

function base32(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 5) {
    // 40 bits of the chunk, big-endian, zero-padded (as encode_into_inner does).
    let block = 0n;
    for (let j = 0; j < 5; j++) block = (block << 8n) | BigInt(bytes[i + j] ?? 0);
    const chars = encodedLength(Math.min(5, bytes.length - i));
    for (let k = 0; k < chars; k++) out += ALPHABET[Number((block >> BigInt(35 - 5 * k)) & 31n)];
  }
  return out;
}

function unbase32(text: string): Uint8Array | null {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of text) {
    const v = DECODE.get(c);
    if (v === undefined) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
      acc &= (1 << bits) - 1;
    }
  }
  return Uint8Array.from(bytes);
}

function fletcher16(bytes: Uint8Array): number {
  let c0 = 0;
  let c1 = 0;
  for (const b of bytes) {
    c0 = (c0 + b) & 0xff;
    c1 = (c1 + c0) & 0xff;
  }
  return (c1 << 8) | c0;
}

function vint(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    if (n < 0x80) return [...out, n];
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
}

/** The id Convex gives document `internalId` (16 bytes) of table number `tableNumber` (≥ 1). */
export function encodeConvexId(tableNumber: number, internalId: Uint8Array): string {
  if (!Number.isInteger(tableNumber) || tableNumber < 1 || tableNumber >= 2 ** 32) throw new Error(`bad table number ${tableNumber}`);
  if (internalId.length !== 16) throw new Error("an internal id is 16 bytes");
  const body = Uint8Array.from([...vint(tableNumber), ...internalId]);
  const footer = fletcher16(body) ^ VERSION;
  return base32(Uint8Array.from([...body, footer & 0xff, footer >> 8]));
}

/** The table number and internal id of a Convex id, or null if `id` is not one (bad length, alphabet, checksum or encoding). */
export function decodeConvexId(id: string): { tableNumber: number; internalId: Uint8Array } | null {
  if (id.length < MIN_LENGTH || id.length > MAX_LENGTH) return null;
  const bytes = unbase32(id);
  if (bytes === null) return null;
  let tableNumber = 0;
  let pos = 0;
  for (let shift = 1; ; shift *= 128) {
    if (pos >= 5 || pos >= bytes.length) return null;
    const b = bytes[pos++]!;
    tableNumber += (b & 0x7f) * shift;
    if (b < 0x80) break;
  }
  if (tableNumber === 0 || bytes.length !== pos + 18) return null;
  const footer = bytes[pos + 16]! | (bytes[pos + 17]! << 8);
  if ((fletcher16(bytes.subarray(0, pos + 16)) ^ VERSION) !== footer) return null;
  const internalId = bytes.slice(pos, pos + 16);
  // One-to-one, as decode() insists: the canonical encoding must be the text given.
  if (encodeConvexId(tableNumber, internalId) !== id) return null;
  return { tableNumber, internalId };
}
