// Unchecked big/little-endian reads over a raw byte view. Callers bounds-check first (the
// contract in ../README.md: length → peek → bounds-check → consume), so these never see an
// index outside [0, len).

@inline export function at(p: usize, i: i32): u32 {
  return <u32>load<u8>(p + <usize>i);
}

@inline export function be16(p: usize, i: i32): u32 {
  return (at(p, i) << 8) | at(p, i + 1);
}

@inline export function be24(p: usize, i: i32): u32 {
  return (at(p, i) << 16) | (at(p, i + 1) << 8) | at(p, i + 2);
}

@inline export function be32(p: usize, i: i32): u32 {
  return (at(p, i) << 24) | (at(p, i + 1) << 16) | (at(p, i + 2) << 8) | at(p, i + 3);
}

@inline export function le24(p: usize, i: i32): u32 {
  return at(p, i) | (at(p, i + 1) << 8) | (at(p, i + 2) << 16);
}

@inline export function le32(p: usize, i: i32): u32 {
  return at(p, i) | (at(p, i + 1) << 8) | (at(p, i + 2) << 16) | (at(p, i + 3) << 24);
}

/** ASCII upper-case of one byte (other bytes unchanged). */
@inline export function upper(b: u32): u32 {
  return b - 0x61 < 26 ? b - 0x20 : b;
}

/**
 * The `n` (≤ 8) bytes at p + off as a little-endian u64, so up to 8 bytes compare against a
 * packed constant in one operation. Reads exactly n bytes: never past what the caller checked.
 */
@inline export function packLE(p: usize, off: i32, n: i32): u64 {
  if (n >= 8) return load<u64>(p + <usize>off);
  let v: u64 = 0;
  for (let i = 0; i < n; i++) v |= <u64>at(p, off + i) << (<u64>i << 3);
  return v;
}

/**
 * prefixOf for a literal of `n` ≤ 8 bytes packed little-endian into `word` (byte 0 in the low
 * bits): -1 on a mismatch, else the number of bytes compared (what is available, ≤ n). No
 * string and no call: the packed form is what the hot detectors use.
 */
@inline export function prefixWord(p: usize, len: i32, off: i32, word: u64, n: i32): i32 {
  const avail = len - off;
  if (avail < n) n = avail < 0 ? 0 : avail;
  if (n == 0) return 0;
  const mask: u64 = n >= 8 ? u64.MAX_VALUE : (<u64>1 << (<u64>n << 3)) - 1;
  return ((packLE(p, off, n) ^ word) & mask) != 0 ? -1 : n;
}

/**
 * Compares buf[off, off + n) with the first bytes of `lit` (an ASCII literal), where n is what
 * is available (≤ lit.length). Answers -1 on a mismatch, else the number of bytes compared.
 */
export function prefixOf(p: usize, len: i32, off: i32, lit: string): i32 {
  let n = lit.length;
  const avail = len - off;
  if (avail < n) n = avail < 0 ? 0 : avail;
  // i < lit.length, so the UTF-16 unit can be read directly (charCodeAt is a bounds-checked call).
  const l = changetype<usize>(lit);
  for (let i = 0; i < n; i++) {
    if (at(p, off + i) != <u32>load<u16>(l + (<usize>i << 1))) return -1;
  }
  return n;
}
