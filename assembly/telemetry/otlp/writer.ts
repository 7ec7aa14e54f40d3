// A reusable protobuf encoder for OTLP: nested messages with back-patched lengths, fixed64,
// doubles, packed repeated fields and UTF-8 strings written in place. Pure code.
//
// ADR 0004 chose a hand-written encoder over as-proto (whose generated code writes every member
// of a oneof, so it cannot encode OTLP's AnyValue); docs/adr/0007-otlp-export.md says why this
// one lives beside the exporter. One writer is reused for every message: reset() keeps its
// buffer, so a steady export rate allocates nothing once the buffer has reached the largest
// batch.

/** Wire types (protobuf encoding spec, "Message Structure"). */
export const WIRE_VARINT: u32 = 0;
export const WIRE_FIXED64: u32 = 1;
export const WIRE_LEN: u32 = 2;

/** Deepest nesting of begin()/end(); OTLP's deepest path here is 8 (request → … → AnyValue). */
const MAX_DEPTH: i32 = 16;

/** Bytes of `v` as a varint. */
export function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

export class PbWriter {
  private buf: Uint8Array;
  len: i32 = 0;
  private starts: StaticArray<i32> = new StaticArray<i32>(MAX_DEPTH);
  private depth: i32 = 0;
  /** Set when begin() nested deeper than MAX_DEPTH: the message is wrong and must not be sent. */
  overflowed: bool = false;

  constructor(initial: i32 = 256) {
    this.buf = new Uint8Array(initial > 16 ? initial : 16);
  }

  /** Empties the writer, keeping its buffer. */
  reset(): void {
    this.len = 0;
    this.depth = 0;
    this.overflowed = false;
  }

  /** Start of the encoded bytes (valid until the next write that grows the buffer). */
  get dataStart(): usize {
    return this.buf.dataStart;
  }

  /** The buffer's size: what the writer holds on to between messages. */
  get capacity(): i32 {
    return this.buf.length;
  }

  /** Gives up a buffer grown past `max` bytes (after an unusually large batch). */
  shrink(max: i32): void {
    if (this.buf.length > max && this.len == 0) this.buf = new Uint8Array(max);
  }

  reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length << 1;
    while (cap < need) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = next;
  }

  varint(value: u64): void {
    this.reserve(10);
    let p = this.buf.dataStart + <usize>this.len;
    const start = p;
    let v = value;
    while (v >= 0x80) {
      store<u8>(p++, <u8>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.len += <i32>(p - start);
  }

  tag(field: u32, wire: u32): void {
    this.varint((<u64>field << 3) | <u64>wire);
  }

  /** uint32/uint64/enum/bool field; int64 values pass as their two's complement. */
  varintField(field: u32, value: u64): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** Little-endian 8 bytes, no tag (a packed element). */
  fixed64(value: u64): void {
    this.reserve(8);
    store<u64>(this.buf.dataStart + <usize>this.len, value);
    this.len += 8;
  }

  /** fixed64 / sfixed64 field. */
  fixed64Field(field: u32, value: u64): void {
    this.tag(field, WIRE_FIXED64);
    this.fixed64(value);
  }

  doubleField(field: u32, value: f64): void {
    this.fixed64Field(field, reinterpret<u64>(value));
  }

  /** A string field (UTF-8, written in place: no temporary buffer). */
  stringField(field: u32, s: string): void {
    const n = String.UTF8.byteLength(s);
    this.tag(field, WIRE_LEN);
    this.varint(<u64>n);
    this.reserve(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.buf.dataStart + <usize>this.len);
    this.len += n;
  }

  /** Copies `size` bytes from `src` as they are (pre-encoded fields). */
  raw(src: usize, size: i32): void {
    if (size <= 0) return;
    this.reserve(size);
    memory.copy(this.buf.dataStart + <usize>this.len, src, <usize>size);
    this.len += size;
  }

  /** Copies all of `b` as it is. */
  rawBytes(b: ArrayBuffer): void {
    this.raw(changetype<usize>(b), b.byteLength);
  }

  /**
   * Opens a length-delimited field (a nested message or a packed array): one byte is set aside
   * for the length, which end() writes, moving the contents if the length needs more bytes.
   */
  begin(field: u32): void {
    this.tag(field, WIRE_LEN);
    if (this.depth >= MAX_DEPTH) {
      this.overflowed = true;
      return;
    }
    this.reserve(1);
    unchecked(this.starts[this.depth++] = this.len);
    this.len += 1;
  }

  end(): void {
    if (this.depth == 0) {
      this.overflowed = true;
      return;
    }
    const start = unchecked(this.starts[--this.depth]);
    const size = this.len - start - 1;
    const n = varintSize(<u64>size);
    if (n > 1) {
      this.reserve(n - 1);
      const body = this.buf.dataStart + <usize>start + 1;
      memory.copy(body + <usize>(n - 1), body, <usize>size);
      this.len += n - 1;
    }
    let p = this.buf.dataStart + <usize>start;
    let v = <u32>size;
    while (v >= 0x80) {
      store<u8>(p++, <u8>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    store<u8>(p, <u8>v);
  }

  /** Drops everything from byte `at` on (an unfinished record). */
  truncate(at: i32): void {
    if (at >= 0 && at <= this.len) this.len = at;
  }

  /** Removes the first `n` bytes, moving the rest to the front. */
  dropFront(n: i32): void {
    if (n <= 0) return;
    if (n >= this.len) {
      this.len = 0;
      return;
    }
    const p = this.buf.dataStart;
    memory.copy(p, p + <usize>n, <usize>(this.len - n));
    this.len -= n;
  }

  /** A copy of the encoded bytes. */
  toArrayBuffer(): ArrayBuffer {
    const out = new ArrayBuffer(this.len);
    memory.copy(changetype<usize>(out), this.buf.dataStart, <usize>this.len);
    return out;
  }
}
