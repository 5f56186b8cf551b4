/**
 * Byte surgery on a ZIP's central directory, to make the damaged exports the
 * loader must refuse (a wrong CRC-32, a wrong stated size) from good ones.
 */
/** Offset of `name`'s central directory header in `zip`. */
export function centralHeader(zip: Buffer, name: string): number {
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let at = zip.indexOf(signature); at >= 0; at = zip.indexOf(signature, at + 4)) {
    const length = zip.readUInt16LE(at + 28);
    if (zip.toString("utf8", at + 46, at + 46 + length) === name) return at;
  }
  throw new Error(`no central directory header for ${name}`);
}

/** The ZIP with `name`'s CRC-32 (as its directory states it) changed. */
export function withWrongCrc(zip: Buffer, name: string): Buffer {
  const out = Buffer.from(zip);
  const at = centralHeader(out, name);
  out.writeUInt32LE((out.readUInt32LE(at + 16) ^ 0x5a5a5a5a) >>> 0, at + 16);
  return out;
}

/** The ZIP with `name`'s uncompressed size (ZIP64 extra field of its directory header, as Convex writes it) changed by `delta`. */
export function withWrongSize(zip: Buffer, name: string, delta: number): Buffer {
  const out = Buffer.from(zip);
  const at = centralHeader(out, name);
  const extra = at + 46 + out.readUInt16LE(at + 28);
  if (out.readUInt16LE(extra) !== 0x0001) throw new Error("expected a ZIP64 extra field first");
  out.writeBigUInt64LE(out.readBigUInt64LE(extra + 4) + BigInt(delta), extra + 4);
  return out;
}
