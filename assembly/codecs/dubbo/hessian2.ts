// Hessian 2.0 reader and skipper over a byte range [p + pos, p + end) — the subset a Dubbo
// decoder needs: strings (read as offsets, decoded on demand), ints, and a skipper for every
// value type. Grammar from the Hessian 2.0 Serialization Protocol (hessian.caucho.com
// doc/hessian-serialization.html, §3 grammar and §4 types); the encoder side checked against
// hessian.js lib/v2/encoder.js and the decoding of strings against com.caucho.hessian.io.
// Hessian2Input (parseUTF8Char: 1–3 byte sequences only).
//
// Strings: the length prefix counts UTF-16 code units, not bytes. Characters are encoded one code
// unit at a time as 1–3 byte UTF-8 sequences, so a surrogate pair is two 3-byte sequences
// (CESU-8; hessian.js byte/lib/byte.js putRawString does the same) and counts as 2. A 4-byte
// UTF-8 sequence (lead 0xf0–0xf7) or a continuation byte in lead position is rejected, as Java's
// Hessian2Input does ("bad utf-8 encoding"). A chunk never splits a surrogate pair (spec §4.12).
//
// The skipper is iterative with an explicit stack (`maxDepth` levels, default 64): a hostile
// body of nested lists ends in an error naming the depth, never in a stack overflow. Class
// definitions ('C') are per body: their field counts are kept (up to MAX_CLASS_DEFS) so objects
// ('O', 0x60–0x6f) skip the right number of fields.

/** Result of a reader step. */
export const enum HStatus {
  Ok = 0,
  /** The value runs past `end`: more bytes may complete it (the caller decides). */
  Short = 1,
  /** Not valid Hessian 2; `reader.error` names the bad value. */
  Bad = 2,
}

export const HESSIAN2_DEFAULT_MAX_DEPTH: i32 = 64;
import { hex } from "../../runtime/hex";
/** Class definitions kept per body; more is an error (each needs ≥ 3 bytes, so a cap is needed). */
export const MAX_CLASS_DEFS: i32 = 4096;

// Tags (spec §3).
export const TAG_NULL: u8 = 0x4e; // 'N'
export const TAG_TRUE: u8 = 0x54; // 'T'
export const TAG_FALSE: u8 = 0x46; // 'F'
export const TAG_INT: u8 = 0x49; // 'I'
export const TAG_LONG: u8 = 0x4c; // 'L'
export const TAG_LONG_INT: u8 = 0x59; // 'Y': long stored as int32
export const TAG_DOUBLE: u8 = 0x44; // 'D'
export const TAG_DATE_MS: u8 = 0x4a;
export const TAG_DATE_MIN: u8 = 0x4b;
export const TAG_STRING_FINAL: u8 = 0x53; // 'S'
export const TAG_STRING_CHUNK: u8 = 0x52; // 'R'
export const TAG_BINARY_FINAL: u8 = 0x42; // 'B'
export const TAG_BINARY_CHUNK: u8 = 0x41; // 'A'
export const TAG_LIST_TYPED: u8 = 0x55; // 'U' type value* 'Z'
export const TAG_LIST_TYPED_FIXED: u8 = 0x56; // 'V' type int value*
export const TAG_LIST: u8 = 0x57; // 'W' value* 'Z'
export const TAG_LIST_FIXED: u8 = 0x58; // 'X' int value*
export const TAG_MAP_TYPED: u8 = 0x4d; // 'M' type (value value)* 'Z'
export const TAG_MAP: u8 = 0x48; // 'H' (value value)* 'Z'
export const TAG_END: u8 = 0x5a; // 'Z'
export const TAG_CLASS_DEF: u8 = 0x43; // 'C' string int string*
export const TAG_OBJECT: u8 = 0x4f; // 'O' int value*
export const TAG_REF: u8 = 0x51; // 'Q' int

/**
 * Total size (tag included) of every value whose size the tag alone fixes; 0 for the rest.
 * Binary 0x20–0x2f is fixed too (1 + length). Filled once at module start.
 */
const FIXED_SIZE = new StaticArray<u8>(256);
function fillFixedSize(): void {
  for (let t = 0x80; t <= 0xbf; t++) FIXED_SIZE[t] = 1; // int -16..47
  for (let t = 0xc0; t <= 0xcf; t++) FIXED_SIZE[t] = 2; // int -2048..2047
  for (let t = 0xd0; t <= 0xd7; t++) FIXED_SIZE[t] = 3; // int -262144..262143
  FIXED_SIZE[TAG_INT] = 5;
  for (let t = 0xd8; t <= 0xef; t++) FIXED_SIZE[t] = 1; // long -8..15
  for (let t = 0xf0; t <= 0xff; t++) FIXED_SIZE[t] = 2; // long -2048..2047
  for (let t = 0x38; t <= 0x3f; t++) FIXED_SIZE[t] = 3; // long -262144..262143
  FIXED_SIZE[TAG_LONG_INT] = 5;
  FIXED_SIZE[TAG_LONG] = 9;
  FIXED_SIZE[0x5b] = 1; // double 0.0
  FIXED_SIZE[0x5c] = 1; // double 1.0
  FIXED_SIZE[0x5d] = 2; // double as byte
  FIXED_SIZE[0x5e] = 3; // double as short
  FIXED_SIZE[0x5f] = 5; // double as float
  FIXED_SIZE[TAG_DOUBLE] = 9;
  FIXED_SIZE[TAG_DATE_MS] = 9;
  FIXED_SIZE[TAG_DATE_MIN] = 5;
  FIXED_SIZE[TAG_NULL] = 1;
  FIXED_SIZE[TAG_TRUE] = 1;
  FIXED_SIZE[TAG_FALSE] = 1;
  for (let t = 0x20; t <= 0x2f; t++) FIXED_SIZE[t] = <u8>(1 + t - 0x20); // binary 0..15
}
fillFixedSize();

/** Size of a value with tag `t` when the tag fixes it, else 0 (exported for the layout test). */
export function fixedSize(t: u32): i32 {
  return <i32>unchecked(FIXED_SIZE[t & 0xff]);
}

@inline export function isStringTag(t: u32): bool {
  return t <= 0x1f || (t >= 0x30 && t <= 0x33) || t == TAG_STRING_FINAL || t == TAG_STRING_CHUNK;
}

@inline export function isIntTag(t: u32): bool {
  return (t >= 0x80 && t <= 0xd7) || t == TAG_INT;
}

@inline function isBinaryTag(t: u32): bool {
  return (t >= 0x20 && t <= 0x2f) || (t >= 0x34 && t <= 0x37) || t == TAG_BINARY_FINAL || t == TAG_BINARY_CHUNK;
}

/** Skip `n` UTF-16 code units of Hessian UTF-8; returns the end, or -1 (short) / -2 (bad lead byte at `badAt`). */
let badAt: i32 = 0;
@inline export function skipChars(p: usize, pos: i32, end: i32, n: i32): i32 {
  // ASCII in 8-byte steps: service paths, methods and attachment keys are ASCII.
  while (n >= 8 && pos + 8 <= end) {
    if ((load<u64>(p + <usize>pos) & 0x8080808080808080) != 0) break;
    pos += 8;
    n -= 8;
  }
  while (n > 0) {
    if (pos >= end) return -1;
    const b = <u32>load<u8>(p + <usize>pos);
    if (b < 0x80) pos += 1;
    else if ((b & 0xe0) == 0xc0) pos += 2;
    else if ((b & 0xf0) == 0xe0) pos += 3;
    else {
      badAt = pos;
      return -2;
    }
    n--;
  }
  return pos > end ? -1 : pos;
}

export const SCAN_SHORT: i32 = -1;
export const SCAN_BAD_TAG: i32 = -2;
export const SCAN_BAD_UTF8: i32 = -3;
/** After SCAN_BAD_TAG: the bad tag followed a non-final chunk (set on failure only). */
let badInChunk: bool = false;

/**
 * Where `scanString` puts what it found: the first chunk's data offset, that chunk's UTF-8 byte
 * length, the total length in UTF-16 units, and whether the string has several chunks. Any type
 * with these four fields will do (`scanString` is generic and inlined): the Dubbo decoder passes
 * the unmanaged DubboString it fills, so its hot path writes each result once, straight to plain
 * memory, never through a wasm global or a managed object. `SCAN_SCRATCH` is the one the reader
 * uses (copied out at once; one wasm instance runs one call at a time).
 */
@unmanaged
export class HessianSpan {
  data: i32 = 0;
  bytes: i32 = 0;
  chars: i32 = 0;
  chunked: bool = false;
}
const SCAN_SCRATCH: HessianSpan = changetype<HessianSpan>(memory.data(16, 8));

/**
 * Scans the string (any chunking) whose first tag is at `pos`: returns its end, SCAN_SHORT,
 * SCAN_BAD_TAG or SCAN_BAD_UTF8 (the offending byte at `scanBadAt()`); on success sets
 * `out.data` (first chunk's data), `out.bytes` (its byte length), `out.chars` (UTF-16 units)
 * and `out.chunked`; on failure `out` is unspecified.
 */
@inline export function scanString<S>(p: usize, pos: i32, end: i32, out: S): i32 {
  let chars = 0;
  let first = true;
  let final = false;
  while (!final) {
    if (pos >= end) return SCAN_SHORT;
    const t = <i32>load<u8>(p + <usize>pos);
    let n: i32;
    if (t <= 0x1f) {
      n = t;
      pos += 1;
      final = true;
    } else if (<u32>(t - 0x30) <= 3) {
      if (pos + 2 > end) return SCAN_SHORT;
      n = ((t - 0x30) << 8) | <i32>load<u8>(p + <usize>pos, 1);
      pos += 2;
      final = true;
    } else if (t == TAG_STRING_FINAL || t == TAG_STRING_CHUNK) {
      if (pos + 3 > end) return SCAN_SHORT;
      n = (<i32>load<u8>(p + <usize>pos, 1) << 8) | <i32>load<u8>(p + <usize>pos, 2);
      pos += 3;
      final = t == TAG_STRING_FINAL;
    } else {
      badAt = pos;
      badInChunk = !first;
      return SCAN_BAD_TAG;
    }
    const next = skipChars(p, pos, end, n);
    if (next < 0) return next == -1 ? SCAN_SHORT : SCAN_BAD_UTF8;
    if (first) {
      out.data = pos;
      out.bytes = next - pos;
      out.chunked = !final;
    }
    chars += n;
    pos = next;
    first = false;
  }
  out.chars = chars;
  return pos;
}

/** Offset of the byte SCAN_BAD_TAG / SCAN_BAD_UTF8 refers to. */
export function scanBadAt(): i32 {
  return badAt;
}

function hex2(b: u32): string {
  const s = hex(b & 0xff);
  return s.length == 1 ? "0x0" + s : "0x" + s;
}

const KIND_FIXED: u8 = 0; // count = values left
const KIND_LIST_Z: u8 = 1; // values until 'Z'
const KIND_MAP_Z: u8 = 2; // count = values read (a 'Z' is only valid at an even count)

/**
 * One reader per decoder (allocated once). `reset` per body; every step reads at `pos` and, on
 * Ok, leaves `pos` after the value. On Short or Bad `pos` is unspecified: the caller restarts the
 * value from its own saved offset (a Dubbo decoder only reads whole bodies through the skipper).
 */
export class Hessian2Reader {
  p: usize = 0;
  pos: i32 = 0;
  end: i32 = 0;
  /** Names the bad value after Bad (and what ran short after Short). */
  error: string = "";
  maxDepth: i32;
  classCount: i32 = 0;
  /** Result of `readInt`. */
  intValue: i64 = 0;
  // Result of `readString`: the first chunk's data offset, total UTF-16 units, whether chunked,
  // and the byte length of the data when not chunked.
  strData: i32 = 0;
  strBytes: i32 = 0;
  strChars: i32 = 0;
  strChunked: bool = false;
  private kinds: StaticArray<u8>;
  private counts: StaticArray<i32>;
  private classFields: StaticArray<i32> = new StaticArray<i32>(MAX_CLASS_DEFS);

  constructor(maxDepth: i32 = HESSIAN2_DEFAULT_MAX_DEPTH) {
    const depth = maxDepth < 1 ? 1 : maxDepth;
    this.maxDepth = depth;
    this.kinds = new StaticArray<u8>(depth);
    this.counts = new StaticArray<i32>(depth);
  }

  /** A new body: class definitions start over (Dubbo uses one Hessian2Input per body). */
  @inline reset(p: usize, pos: i32, end: i32): void {
    this.p = p;
    this.pos = pos;
    this.end = end;
    this.classCount = 0;
  }

  /** Same body, grown or moved buffer (definitions kept). */
  @inline rebase(p: usize, end: i32): void {
    this.p = p;
    this.end = end;
  }

  @inline peek(): i32 {
    return this.pos < this.end ? <i32>load<u8>(this.p + <usize>this.pos) : -1;
  }

  short(what: string, at: i32): HStatus {
    this.error = "hessian2 " + what + " at offset " + at.toString() + " runs past the end of the data";
    return HStatus.Short;
  }

  private bad(message: string): HStatus {
    this.error = message;
    return HStatus.Bad;
  }

  /** An int in any of its four encodings (spec §4.6). */
  readInt(): HStatus {
    const at = this.pos;
    if (at >= this.end) return this.short("int", at);
    const p = this.p + <usize>at;
    const t = <i32>load<u8>(p);
    const size = fixedSize(t);
    if (!isIntTag(t)) return this.bad("expected a hessian2 int at offset " + at.toString() + ", found tag " + hex2(t));
    if (at + size > this.end) return this.short("int", at);
    let v: i32;
    if (t == TAG_INT) v = <i32>bswap<u32>(load<u32>(p, 1));
    else if (t <= 0xbf) v = t - 0x90;
    else if (t <= 0xcf) v = ((t - 0xc8) << 8) | <i32>load<u8>(p, 1);
    else v = ((t - 0xd4) << 16) | (<i32>load<u8>(p, 1) << 8) | <i32>load<u8>(p, 2);
    this.intValue = v;
    this.pos = at + size;
    return HStatus.Ok;
  }

  /** A string in any chunking (spec §4.12); sets strData / strBytes / strChars / strChunked. */
  readString(): HStatus {
    const start = this.pos;
    const span = SCAN_SCRATCH;
    const next = scanString(this.p, start, this.end, span);
    if (next < 0) return this.stringFailed(next, start);
    this.strData = span.data;
    this.strBytes = span.bytes;
    this.strChars = span.chars;
    this.strChunked = span.chunked;
    this.pos = next;
    return HStatus.Ok;
  }

  /** The message for a failed `scanString` of the string at `start`. */
  stringFailed(code: i32, start: i32): HStatus {
    if (code == SCAN_SHORT) return this.short("string", start);
    const b = <u32>load<u8>(this.p + <usize>badAt);
    if (code == SCAN_BAD_UTF8) return this.bad("invalid hessian2 utf-8 byte " + hex2(b) + " at offset " + badAt.toString());
    return this.bad((badInChunk ? "expected a hessian2 string chunk" : "expected a hessian2 string") + " at offset " + badAt.toString() + ", found tag " + hex2(b));
  }

  /** A binary value in any chunking (spec §4.1). */
  private skipBinary(): HStatus {
    const start = this.pos;
    let pos = start;
    const end = this.end;
    const p = this.p;
    let final = false;
    let first = true;
    while (!final) {
      if (pos >= end) return this.short("binary", start);
      const t = <i32>load<u8>(p + <usize>pos);
      let n: i32;
      if (t >= 0x20 && t <= 0x2f) {
        n = t - 0x20;
        pos += 1;
        final = true;
      } else if (t >= 0x34 && t <= 0x37) {
        if (pos + 2 > end) return this.short("binary", start);
        n = ((t - 0x34) << 8) | <i32>load<u8>(p + <usize>pos, 1);
        pos += 2;
        final = true;
      } else if (t == TAG_BINARY_FINAL || t == TAG_BINARY_CHUNK) {
        if (pos + 3 > end) return this.short("binary", start);
        n = (<i32>load<u8>(p + <usize>pos, 1) << 8) | <i32>load<u8>(p + <usize>pos, 2);
        pos += 3;
        final = t == TAG_BINARY_FINAL;
      } else {
        return this.bad((first ? "expected hessian2 binary" : "expected a hessian2 binary chunk") + " at offset " + pos.toString() + ", found tag " + hex2(t));
      }
      if (n > end - pos) return this.short("binary", start);
      pos += n;
      first = false;
    }
    this.pos = pos;
    return HStatus.Ok;
  }

  /** A list or map type: a type name string or an int reference to an earlier type (spec §4.9). */
  private skipType(): HStatus {
    const at = this.pos;
    if (at >= this.end) return this.short("type", at);
    const t = <u32>load<u8>(this.p + <usize>at);
    if (isStringTag(t)) return this.readString();
    if (isIntTag(t)) return this.readInt();
    return this.bad("expected a hessian2 type (string or int) at offset " + at.toString() + ", found tag " + hex2(t));
  }

  /** A length that must fit in the bytes left (each element takes at least one byte). */
  private readCount(what: string): HStatus {
    const at = this.pos;
    const s = this.readInt();
    if (s != HStatus.Ok) return s;
    const n = this.intValue;
    if (n < 0) return this.bad("invalid hessian2 " + what + " " + n.toString() + " at offset " + at.toString());
    if (n > <i64>(this.end - this.pos)) return this.short(what + " " + n.toString(), at);
    return HStatus.Ok;
  }

  /** 'C' string int string*: keeps the field count for later objects (spec §4.8). */
  private classDef(): HStatus {
    const at = this.pos;
    if (this.classCount >= MAX_CLASS_DEFS) {
      return this.bad("more than " + MAX_CLASS_DEFS.toString() + " hessian2 class definitions in one body (offset " + at.toString() + ")");
    }
    this.pos = at + 1;
    let s = this.readString();
    if (s != HStatus.Ok) return s;
    s = this.readCount("class field count");
    if (s != HStatus.Ok) return s;
    const fields = <i32>this.intValue;
    for (let i = 0; i < fields; i++) {
      s = this.readString();
      if (s != HStatus.Ok) return s;
    }
    unchecked((this.classFields[this.classCount++] = fields));
    return HStatus.Ok;
  }

  private push(kind: u8, count: i32, depth: i32, at: i32): i32 {
    if (depth >= this.maxDepth) {
      this.error = "hessian2 nesting deeper than " + this.maxDepth.toString() + " at offset " + at.toString();
      return -1;
    }
    unchecked((this.kinds[depth] = kind));
    unchecked((this.counts[depth] = count));
    return depth + 1;
  }

  /** Skips exactly one value (with any class definitions before it), whatever its nesting. */
  skipValue(): HStatus {
    const p = this.p;
    const end = this.end;
    let pos = this.pos;
    let depth = 0;
    let started = false;
    while (true) {
      if (depth > 0) {
        const d = depth - 1;
        const kind = unchecked(this.kinds[d]);
        if (kind == KIND_FIXED) {
          if (unchecked(this.counts[d]) == 0) {
            depth--;
            continue;
          }
        } else {
          if (pos >= end) return this.short("list or map", pos);
          if (load<u8>(p + <usize>pos) == TAG_END) {
            if (kind == KIND_MAP_Z && (unchecked(this.counts[d]) & 1) != 0) {
              return this.bad("hessian2 map ends after a key without a value at offset " + pos.toString());
            }
            pos++;
            depth--;
            continue;
          }
        }
      } else if (started) {
        this.pos = pos;
        return HStatus.Ok;
      }
      if (pos >= end) return this.short("value", pos);
      const t = <u32>load<u8>(p + <usize>pos);
      if (t == TAG_CLASS_DEF) {
        // A definition is not a value: the value it precedes is.
        this.pos = pos;
        const s = this.classDef();
        if (s != HStatus.Ok) return s;
        pos = this.pos;
        continue;
      }
      if (depth > 0) {
        const d = depth - 1;
        if (unchecked(this.kinds[d]) == KIND_FIXED) unchecked((this.counts[d] -= 1));
        else unchecked((this.counts[d] += 1));
      } else {
        started = true;
      }
      const size = fixedSize(t);
      if (size != 0) {
        if (size > end - pos) return this.short("value", pos);
        pos += size;
        continue;
      }
      this.pos = pos;
      let s: HStatus = HStatus.Ok;
      if (isStringTag(t)) {
        s = this.readString();
      } else if (isBinaryTag(t)) {
        s = this.skipBinary();
      } else if (t == TAG_REF) {
        this.pos = pos + 1;
        s = this.readInt();
      } else if (t == TAG_LIST || t == TAG_MAP) {
        depth = this.push(t == TAG_LIST ? KIND_LIST_Z : KIND_MAP_Z, 0, depth, pos);
        if (depth < 0) return HStatus.Bad;
        this.pos = pos + 1;
      } else if (t == TAG_LIST_TYPED || t == TAG_MAP_TYPED) {
        this.pos = pos + 1;
        s = this.skipType();
        if (s == HStatus.Ok) {
          depth = this.push(t == TAG_LIST_TYPED ? KIND_LIST_Z : KIND_MAP_Z, 0, depth, pos);
          if (depth < 0) return HStatus.Bad;
        }
      } else if (t == TAG_LIST_TYPED_FIXED || t == TAG_LIST_FIXED || (t >= 0x70 && t <= 0x7f)) {
        this.pos = pos + 1;
        if (t == TAG_LIST_TYPED_FIXED || (t >= 0x70 && t <= 0x77)) s = this.skipType();
        let n: i32 = 0;
        if (s == HStatus.Ok) {
          if (t >= 0x70) {
            n = <i32>(t & 7);
          } else {
            s = this.readCount("list length");
            n = <i32>this.intValue;
          }
        }
        if (s == HStatus.Ok && n > 0) {
          depth = this.push(KIND_FIXED, n, depth, pos);
          if (depth < 0) return HStatus.Bad;
        }
      } else if (t == TAG_OBJECT || (t >= 0x60 && t <= 0x6f)) {
        let ref: i64;
        if (t == TAG_OBJECT) {
          this.pos = pos + 1;
          s = this.readInt();
          ref = this.intValue;
        } else {
          this.pos = pos + 1;
          ref = <i64>(t - 0x60);
        }
        if (s == HStatus.Ok) {
          if (ref < 0 || ref >= <i64>this.classCount) {
            return this.bad("hessian2 object at offset " + pos.toString() + " refers to undefined class definition " + ref.toString());
          }
          const fields = unchecked(this.classFields[<i32>ref]);
          if (fields > 0) {
            depth = this.push(KIND_FIXED, fields, depth, pos);
            if (depth < 0) return HStatus.Bad;
          }
        }
      } else if (t == TAG_END) {
        return this.bad("unexpected hessian2 end marker 'Z' at offset " + pos.toString());
      } else {
        return this.bad("invalid hessian2 tag " + hex2(t) + " at offset " + pos.toString());
      }
      if (s != HStatus.Ok) return s;
      pos = this.pos;
    }
  }
}

/**
 * Decodes the string whose first tag is at `tagPos` (any chunking) into an AssemblyScript string.
 * Assumes the string was validated by `readString` over the same bytes; returns "" otherwise.
 */
export function hessianString(p: usize, tagPos: i32, end: i32, chars: i32): string {
  if (chars <= 0) return "";
  const out = changetype<string>(__new(<usize>chars << 1, idof<string>()));
  const o = changetype<usize>(out);
  let written = 0;
  let pos = tagPos;
  while (written < chars && pos < end) {
    const t = <i32>load<u8>(p + <usize>pos);
    let n: i32;
    if (t <= 0x1f) {
      n = t;
      pos += 1;
    } else if (t >= 0x30 && t <= 0x33) {
      n = ((t - 0x30) << 8) | <i32>load<u8>(p + <usize>pos, 1);
      pos += 2;
    } else {
      n = (<i32>load<u8>(p + <usize>pos, 1) << 8) | <i32>load<u8>(p + <usize>pos, 2);
      pos += 3;
    }
    if (n > chars - written) n = chars - written;
    for (let i = 0; i < n; i++) {
      const b = <u32>load<u8>(p + <usize>pos);
      let c: u32;
      if (b < 0x80) {
        c = b;
        pos += 1;
      } else if (b < 0xe0) {
        c = ((b & 0x1f) << 6) | (<u32>load<u8>(p + <usize>pos, 1) & 0x3f);
        pos += 2;
      } else {
        c = ((b & 0x0f) << 12) | ((<u32>load<u8>(p + <usize>pos, 1) & 0x3f) << 6) | (<u32>load<u8>(p + <usize>pos, 2) & 0x3f);
        pos += 3;
      }
      store<u16>(o + (<usize>written << 1), <u16>c);
      written++;
    }
  }
  return out;
}

/**
 * Whether the unchunked Hessian UTF-8 data at [p + data, p + data + bytes) equals `s` code unit
 * for code unit, without allocating.
 */
export function hessianEquals(p: usize, data: i32, bytes: i32, s: string): bool {
  const n = s.length;
  // Every code unit takes 1–3 bytes.
  if (bytes < n || bytes > n * 3) return false;
  const sp = changetype<usize>(s);
  let pos = data;
  const end = data + bytes;
  for (let i = 0; i < n; i++) {
    if (pos >= end) return false;
    const b = <u32>load<u8>(p + <usize>pos);
    let c: u32;
    if (b < 0x80) {
      c = b;
      pos += 1;
    } else if (b < 0xe0) {
      if (pos + 2 > end) return false;
      c = ((b & 0x1f) << 6) | (<u32>load<u8>(p + <usize>pos, 1) & 0x3f);
      pos += 2;
    } else {
      if (pos + 3 > end) return false;
      c = ((b & 0x0f) << 12) | ((<u32>load<u8>(p + <usize>pos, 1) & 0x3f) << 6) | (<u32>load<u8>(p + <usize>pos, 2) & 0x3f);
      pos += 3;
    }
    if (c != <u32>load<u16>(sp + (<usize>i << 1))) return false;
  }
  return pos == end;
}
