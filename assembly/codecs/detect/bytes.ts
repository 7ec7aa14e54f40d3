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
