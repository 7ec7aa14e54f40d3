// A small strict JSON reader (RFC 8259) for plugin configuration, reading UTF-8 bytes.
// The bytes are checked as strict UTF-8 first (RFC 3629: no overlong forms, surrogates or code
// points past U+10FFFF), so a stray byte can never merge with the quote or bracket after it.
// Every error names what was found and the byte offset where reading stopped. Parsing is linear:
// duplicate keys are found through a hash set per object. Sizes are bounded (LIMITS below) and
// an input over a limit is rejected naming the limit. Nothing throws. Pure code.
// Why our own: docs/adr/0002-json-configuration.md.

export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

const KIND_NAMES: string[] = ["null", "boolean", "number", "string", "array", "object"];
import { hex } from "../hex";

export function kindName(kind: JsonKind): string {
  return KIND_NAMES[<i32>kind];
}

/** The limits every configuration is held to (filter READMEs, "Limits", list them). */
export namespace LIMITS {
  /** Bytes in one configuration. */
  export const CONFIG_BYTES: i32 = 1048576;
  /** Items in one array, members in one object. */
  export const ENTRIES: i32 = 100000;
  /** UTF-8 bytes in one string (key or value), after escapes are decoded. */
  export const STRING_BYTES: i32 = 4096;
  /** Arrays and objects inside one another. */
  export const DEPTH: i32 = 64;
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  /**
   * A string's value. For a number, its text as written (`1e309`, `18446744073709551616`) when
   * printing `num` would not give it back; "" for a plain integer (use numberText()).
   */
  str: string = "";
  /** Array items (scalars share one empty array: no allocation per leaf). */
  items: JsonValue[] = NO_VALUES;
  /** Object members in document order (keys are unique: duplicates are a parse error). */
  keys: string[] = NO_KEYS;
  values: JsonValue[] = NO_VALUES;

  /** Member `key` of an object, null when absent or when this is not an object. */
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.values[i];
    return null;
  }

  get isObject(): bool {
    return this.kind == JsonKind.Object;
  }

  /** A number's text as written. */
  numberText(): string {
    return this.str.length > 0 ? this.str : (<i64>this.num).toString();
  }
}

// Never written to: the reader gives every array and object its own lists.
const NO_VALUES: JsonValue[] = [];
const NO_KEYS: string[] = [];

export class JsonParse {
  constructor(public value: JsonValue | null, public error: string, public position: i32) {}
  get ok(): bool {
    return this.error.length == 0;
  }
  /** "<error> at byte <n>", or "" when the text parsed. */
  message(): string {
    return this.ok ? "" : this.error + " at byte " + this.position.toString();
  }
}

/**
 * Offset of the first byte that breaks strict UTF-8 in [p, p+len), or -1. `truncated` tells
 * whether the input ended inside a sequence.
 */
function utf8Error(p: usize, len: i32): i32 {
  let i = 0;
  while (i < len) {
    const b = <i32>load<u8>(p + <usize>i);
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b == 0xe0) { need = 2; lo = 0xa0; }
    else if (b == 0xed) { need = 2; hi = 0x9f; }
    else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b == 0xf0) { need = 3; lo = 0x90; }
    else if (b == 0xf4) { need = 3; hi = 0x8f; }
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= len) return i;
      const c = <i32>load<u8>(p + <usize>(i + k));
      if (c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

/** Length of the UTF-8 sequence that starts with lead byte `b` (the input is already valid). */
@inline function seqLen(b: i32): i32 {
  return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

/** A code point as U+ writes it: upper-case hex, at least 4 digits. */
function codeHex(code: i32): string {
  let u = "";
  for (let v = code; v > 0 || u.length < 4; v >>= 4) u = String.fromCharCode(HEX_UPPER.charCodeAt(v & 0xf)) + u;
  return u;
}

const HEX_UPPER = "0123456789ABCDEF";

function hex2(b: i32): string {
  return "0x" + hex(<u32>b, 2);
}

/**
 * A stack of values in chunks of CHUNK. A list being read collects its members here and gets an
 * exact-size array at its end. Why not push into the list's own array: the incremental GC re-greys
 * an array each time a new (white) member is stored into it once it is black, and then visits
 * every member again, so one growing array of n items costs O(n²) across a parse. A chunk is
 * re-greyed instead, and the final copy allocates nothing, so no GC step runs during it.
 */
const CHUNK_BITS = 8;
const CHUNK = 1 << CHUNK_BITS;

class Stack<T> {
  chunks: StaticArray<T>[] = [];
  length: i32 = 0;

  push(v: T): void {
    const c = this.length >> CHUNK_BITS;
    if (c == this.chunks.length) this.chunks.push(new StaticArray<T>(CHUNK));
    unchecked(this.chunks[c][this.length & (CHUNK - 1)] = v);
    this.length++;
  }

  at(i: i32): T {
    return unchecked(this.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]);
  }

  /** Items [base, length) as a new array; the stack shrinks back to `base`. */
  take(base: i32): T[] {
    const n = this.length - base;
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) unchecked(out[i] = this.at(base + i));
    this.length = base;
    return out;
  }
}

/**
 * Open-addressing set of an object's keys (positions in the key stack), so a duplicate is found
 * in constant time per member. Small objects skip it: a scan of up to SCAN_KEYS keys is cheaper.
 */
const SCAN_KEYS = 8;

class KeySet {
  slots: StaticArray<i32> = new StaticArray<i32>(32);
  count: i32 = 0;

  constructor(public keys: Stack<string>, public base: i32) {}

  /** Adds the key at stack position `index`; false when an equal key is already present. */
  add(index: i32): bool {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const key = this.keys.at(index);
    const mask = this.slots.length - 1;
    let s = hashKey(key) & mask;
    while (true) {
      const at = this.slots[s];
      if (at == 0) break;
      if (this.keys.at(this.base + at - 1) == key) return false;
      s = (s + 1) & mask;
    }
    this.slots[s] = index - this.base + 1;
    this.count++;
    return true;
  }

  grow(): void {
    const old = this.slots;
    const next = new StaticArray<i32>(old.length * 2);
    const mask = next.length - 1;
    for (let i = 0; i < old.length; i++) {
      const at = old[i];
      if (at == 0) continue;
      let s = hashKey(this.keys.at(this.base + at - 1)) & mask;
      while (next[s] != 0) s = (s + 1) & mask;
      next[s] = at;
    }
    this.slots = next;
  }
}

/** FNV-1a over the UTF-16 units. */
function hashKey(s: string): i32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = (h ^ <u32>s.charCodeAt(i)) * 0x01000193;
  return <i32>(h ^ (h >> 16));
}

class Reader {
  pos: i32 = 0;
  error: string = "";
  errorAt: i32 = 0;
  readonly p: usize;
  /** Members of the lists being read, innermost last (see Stack). */
  readonly values: Stack<JsonValue> = new Stack<JsonValue>();
  readonly keys: Stack<string> = new Stack<string>();

  constructor(public buf: ArrayBuffer, public len: i32) {
    this.p = changetype<usize>(buf);
  }

  fail(message: string): JsonValue | null {
    return this.failAt(message, this.pos);
  }

  /** "expected <what>, found <what stands at pos>": one builder for every such error. */
  expected(what: string): JsonValue | null {
    return this.fail("expected " + what + ", found " + this.describe(this.pos));
  }

  failAt(message: string, at: i32): JsonValue | null {
    if (this.error.length == 0) {
      this.error = message;
      this.errorAt = at;
    }
    return null;
  }

  byteAt(i: i32): i32 {
    return byteIn(this.p, this.len, i);
  }

  peek(): i32 {
    return this.byteAt(this.pos);
  }

  skipSpace(): void {
    while (this.pos < this.len) {
      const c = <i32>load<u8>(this.p + <usize>this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  /** What stands at byte `at`, for an error: a character, a control byte, a BOM, or the end. */
  describe(at: i32): string {
    const c = this.byteAt(at);
    if (c < 0) return "end of input";
    if (c < 0x20 || c == 0x7f) return "control character " + hex2(c);
    if (c < 0x80) return "'" + String.fromCharCode(c) + "'";
    const n = seqLen(c);
    const ch = String.UTF8.decodeUnsafe(this.p + <usize>at, <usize>n);
    const code = ch.codePointAt(0);
    // A BOM is named the same way wherever it stands: it is never whitespace here (RFC 8259 §8.1).
    if (code == 0xfeff) return "byte order mark (U+FEFF)";
    return "'" + ch + "' (U+" + codeHex(code) + ")";
  }

  value(depth: i32): JsonValue | null {
    this.skipSpace();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      const v = new JsonValue();
      v.kind = JsonKind.String;
      v.str = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return boolValue(true);
    if (this.literal("false")) return boolValue(false);
    if (this.literal("null")) return new JsonValue();
    return this.expected("a value");
  }

  literal(word: string): bool {
    const n = word.length;
    if (this.len - this.pos < n) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.p + <usize>(this.pos + i)) != word.charCodeAt(i)) return false;
    }
    this.pos += n;
    return true;
  }

  object(depth: i32): JsonValue | null {
    if (depth >= LIMITS.DEPTH) return this.fail("nesting deeper than the limit of " + LIMITS.DEPTH.toString());
    this.pos++; // {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    const keys = this.keys;
    const values = this.values;
    const keyBase = keys.length;
    const valueBase = values.length;
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      v.keys = [];
      v.values = [];
      return v;
    }
    let set: KeySet | null = null;
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.expected("a string key");
      const keyAt = this.pos;
      const key = this.string();
      if (key === null) return null;
      const n = keys.length - keyBase;
      if (n >= LIMITS.ENTRIES) {
        return this.failAt("more than " + LIMITS.ENTRIES.toString() + " members in an object (the limit per object)", keyAt);
      }
      keys.push(key);
      let unique = true;
      if (n < SCAN_KEYS) {
        for (let i = keyBase; i < keyBase + n; i++) if (keys.at(i) == key) unique = false;
      } else {
        if (set === null) {
          set = new KeySet(keys, keyBase);
          for (let i = keyBase; i < keyBase + n; i++) set.add(i);
        }
        unique = set.add(keyBase + n);
      }
      if (!unique) return this.failAt("duplicate key \"" + key + "\"", keyAt);
      this.skipSpace();
      if (this.peek() != 0x3a) return this.expected("':' after key \"" + key + "\"");
      this.pos++;
      const member = this.value(depth + 1);
      if (member === null) return null;
      values.push(member);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x7d) {
        this.pos++;
        v.keys = keys.take(keyBase);
        v.values = values.take(valueBase);
        return v;
      }
      return this.expected("',' or '}' in object");
    }
    return null;
  }

  array(depth: i32): JsonValue | null {
    if (depth >= LIMITS.DEPTH) return this.fail("nesting deeper than the limit of " + LIMITS.DEPTH.toString());
    this.pos++; // [
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    const values = this.values;
    const base = values.length;
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      v.items = [];
      return v;
    }
    while (true) {
      this.skipSpace();
      if (values.length - base >= LIMITS.ENTRIES) {
        return this.fail("more than " + LIMITS.ENTRIES.toString() + " items in an array (the limit per array)");
      }
      const item = this.value(depth + 1);
      if (item === null) return null;
      values.push(item);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x5d) {
        this.pos++;
        v.items = values.take(base);
        return v;
      }
      return this.expected("',' or ']' in array");
    }
    return null;
  }

  /** Reads a string starting at its opening quote; null on error. */
  string(): string | null {
    const start = this.pos;
    this.pos++; // "
    let out = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.len) {
        this.fail("unterminated string");
        return null;
      }
      const c = <i32>load<u8>(this.p + <usize>this.pos);
      if (c == 0x22) break;
      if (c < 0x20) {
        this.fail("unescaped " + this.describe(this.pos) + " in string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      out += this.run(runStart, this.pos);
      this.pos++; // backslash
      const e = this.peek();
      const ch = shortEscape(e);
      if (ch >= 0) out += String.fromCharCode(ch);
      else if (e == 0x75) {
        const escAt = this.pos - 1;
        const code = this.hex4(this.pos + 1);
        if (code < 0) {
          this.failAt("invalid \\u escape", escAt);
          return null;
        }
        this.pos += 4;
        // A surrogate must come as an escaped pair: a lone half is not a character (RFC 8259 §8.2).
        if (code >= 0xd800 && code <= 0xdfff) {
          const low = code <= 0xdbff && this.byteAt(this.pos + 1) == 0x5c && this.byteAt(this.pos + 2) == 0x75
            ? this.hex4(this.pos + 3) : -1;
          if (low < 0xdc00 || low > 0xdfff) {
            this.failAt("unpaired surrogate \\u" + hex(<u32>code) + " in string", escAt);
            return null;
          }
          out += String.fromCharCode(code, low);
          this.pos += 6;
        } else {
          out += String.fromCharCode(code);
        }
      } else {
        this.fail("invalid escape " + this.describe(this.pos));
        return null;
      }
      this.pos++;
      runStart = this.pos;
    }
    // Without escapes the string is the run itself: one allocation, no concatenation.
    out = out.length == 0 ? this.run(runStart, this.pos) : out + this.run(runStart, this.pos);
    this.pos++; // closing quote
    if (String.UTF8.byteLength(out) > LIMITS.STRING_BYTES) {
      this.failAt("string longer than the limit of " + LIMITS.STRING_BYTES.toString() + " bytes", start);
      return null;
    }
    return out;
  }

  run(from: i32, to: i32): string {
    return to > from ? String.UTF8.decodeUnsafe(this.p + <usize>from, <usize>(to - from)) : "";
  }

  /** Value of 4 hex digits at byte `at`, or -1. */
  hex4(at: i32): i32 {
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const d = hexDigit(this.byteAt(at + i));
      if (d < 0) return -1;
      code = (code << 4) | d;
    }
    return code;
  }

  number(): JsonValue | null {
    // Scanned over plain locals: a method call per byte would re-spill the reader each time.
    const p = this.p;
    const len = this.len;
    const start = this.pos;
    let i = start;
    const neg = byteIn(p, len, i) == 0x2d;
    let plain = true;
    if (neg) i++;
    const first = byteIn(p, len, i);
    if (first == 0x30) {
      i++;
      if (isDigit(byteIn(p, len, i))) {
        this.pos = skipDigits(p, len, i);
        return this.failAt("leading zero in number " + this.run(start, this.pos), start);
      }
    } else if (first >= 0x31 && first <= 0x39) {
      i = skipDigits(p, len, i);
    } else {
      this.pos = i;
      return this.expected("a digit");
    }
    if (byteIn(p, len, i) == 0x2e) {
      plain = false;
      i++;
      if (!isDigit(byteIn(p, len, i))) {
        this.pos = i;
        return this.expected("a digit after '.'");
      }
      i = skipDigits(p, len, i);
    }
    const e = byteIn(p, len, i);
    if (e == 0x65 || e == 0x45) {
      plain = false;
      i++;
      const s = byteIn(p, len, i);
      if (s == 0x2b || s == 0x2d) i++;
      if (!isDigit(byteIn(p, len, i))) {
        this.pos = i;
        return this.expected("a digit in exponent");
      }
      i = skipDigits(p, len, i);
    }
    this.pos = i;
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    if (plain && i - start <= 15) {
      // A plain integer prints back as written: no copy of its text (most numbers in a config).
      let n: i64 = 0;
      for (let k = neg ? start + 1 : start; k < i; k++) n = n * 10 + <i64>(load<u8>(p + <usize>k) - 0x30);
      v.num = neg ? (n == 0 ? -0.0 : <f64>-n) : <f64>n;
      if (neg && n == 0) v.str = "-0";
    } else {
      v.str = this.run(start, i);
      v.num = F64.parseFloat(v.str);
    }
    return v;
  }
}

/** Byte `i` of [p, p+len), or -1 past the end. */
@inline function byteIn(p: usize, len: i32, i: i32): i32 {
  return i < len ? <i32>load<u8>(p + <usize>i) : -1;
}

/** Position of the first non-digit at or after `i`. */
function skipDigits(p: usize, len: i32, i: i32): i32 {
  while (isDigit(byteIn(p, len, i))) i++;
  return i;
}

@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** The character a one-letter escape (`\"`, `\n`…) stands for, or -1 for any other letter. */
function shortEscape(e: i32): i32 {
  if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
  if (e == 0x62) return 0x08;
  if (e == 0x66) return 0x0c;
  if (e == 0x6e) return 0x0a;
  if (e == 0x72) return 0x0d;
  if (e == 0x74) return 0x09;
  return -1;
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function boolValue(b: bool): JsonValue {
  const v = new JsonValue();
  v.kind = JsonKind.Bool;
  v.bool = b;
  return v;
}

/** True when `buf` holds only JSON whitespace (space, tab, LF, CR): a filter's "all defaults". */
export function isBlank(buf: ArrayBuffer): bool {
  const p = changetype<usize>(buf);
  const n = buf.byteLength;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return false;
  }
  return true;
}

/**
 * Parses one JSON document from UTF-8 bytes; anything but whitespace after it is an error. Checks,
 * in order: the size limit, strict UTF-8, then the grammar and the other limits.
 */
export function parseJsonBytes(buf: ArrayBuffer): JsonParse {
  const len = buf.byteLength;
  if (len > LIMITS.CONFIG_BYTES) {
    return new JsonParse(null, "configuration of " + len.toString() + " bytes is larger than the limit of " +
      LIMITS.CONFIG_BYTES.toString() + " bytes", LIMITS.CONFIG_BYTES);
  }
  const p = changetype<usize>(buf);
  const bad = utf8Error(p, len);
  if (bad >= 0) {
    let seq = "";
    const n = min(seqLen(<i32>load<u8>(p + <usize>bad)), len - bad);
    for (let i = 0; i < n; i++) seq += (i > 0 ? " " : "") + hex2(<i32>load<u8>(p + <usize>(bad + i)));
    return new JsonParse(null, "invalid UTF-8 (bytes " + seq + ")", bad);
  }
  const r = new Reader(buf, len);
  const v = r.value(0);
  if (v === null) return new JsonParse(null, r.error, r.errorAt);
  r.skipSpace();
  if (r.pos < len) {
    return new JsonParse(null, "unexpected " + r.describe(r.pos) + " after the value", r.pos);
  }
  return new JsonParse(v, "", 0);
}

/** Parses `text` as its UTF-8 encoding (a lone surrogate in `text` encodes as invalid UTF-8). */
export function parseJson(text: string): JsonParse {
  return parseJsonBytes(String.UTF8.encode(text));
}
