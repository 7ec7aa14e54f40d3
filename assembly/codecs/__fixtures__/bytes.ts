// Byte builders for the codec specs (hand-made frames next to the real captures).

export class Bytes {
  data: u8[] = [];
  u8(b: u32): Bytes { this.data.push(<u8>b); return this; }
  be16(v: u32): Bytes { return this.u8(v >> 8).u8(v); }
  be24(v: u32): Bytes { return this.u8(v >> 16).u8(v >> 8).u8(v); }
  be32(v: u32): Bytes { return this.u8(v >> 24).u8(v >> 16).u8(v >> 8).u8(v); }
  le24(v: u32): Bytes { return this.u8(v).u8(v >> 8).u8(v >> 16); }
  le32(v: u32): Bytes { return this.u8(v).u8(v >> 8).u8(v >> 16).u8(v >> 24); }
  /** Latin-1 text (each char one byte). */
  text(s: string): Bytes {
    for (let i = 0; i < s.length; i++) this.u8(<u32>s.charCodeAt(i));
    return this;
  }
  zeros(n: i32): Bytes {
    for (let i = 0; i < n; i++) this.u8(0);
    return this;
  }
  raw(b: StaticArray<u8>): Bytes {
    for (let i = 0; i < b.length; i++) this.data.push(b[i]);
    return this;
  }
  get length(): i32 { return this.data.length; }
  /** A stable copy the detectors can point into. */
  build(): StaticArray<u8> {
    const out = new StaticArray<u8>(this.data.length);
    for (let i = 0; i < this.data.length; i++) out[i] = this.data[i];
    return out;
  }
}

export function bytes(): Bytes {
  return new Bytes();
}

export function text(s: string): StaticArray<u8> {
  return new Bytes().text(s).build();
}

@inline export function ptr(b: StaticArray<u8>): usize {
  return changetype<usize>(b);
}

/** Deterministic xorshift32 bytes for "random" negative inputs. */
export function pseudoRandom(seed: u32, n: i32): StaticArray<u8> {
  const out = new StaticArray<u8>(n);
  let x = seed == 0 ? 0x9e3779b9 : seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = <u8>x;
  }
  return out;
}

export function latin1(p: usize, off: i32, len: i32): string {
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(load<u8>(p + <usize>(off + i)));
  return s;
}
