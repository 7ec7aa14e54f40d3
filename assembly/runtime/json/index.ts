// A small strict JSON reader (RFC 8259) for plugin configuration. Values form a tagged tree;
// errors are values naming what was expected and the offset (UTF-16 code units into the text)
// where reading stopped. Nothing throws. Pure code.
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

export function kindName(kind: JsonKind): string {
  return KIND_NAMES[<i32>kind];
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  /** Array items. */
  items: JsonValue[] = [];
  /** Object members in document order (keys are unique: duplicates are a parse error). */
  keys: string[] = [];
  values: JsonValue[] = [];

  /** Member `key` of an object, null when absent or when this is not an object. */
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.values[i];
    return null;
  }

  get isObject(): bool {
    return this.kind == JsonKind.Object;
  }
}

export class JsonParse {
  constructor(public value: JsonValue | null, public error: string, public position: i32) {}
  get ok(): bool {
    return this.error.length == 0;
  }
  /** "<error> at offset <n>", or "" when the text parsed. */
  message(): string {
    return this.ok ? "" : this.error + " at offset " + this.position.toString();
  }
}

const MAX_DEPTH = 64;

class Reader {
  pos: i32 = 0;
  error: string = "";
  errorAt: i32 = 0;

  constructor(public text: string) {}

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) {
      this.error = message;
      this.errorAt = this.pos;
    }
    return null;
  }

  @inline peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  describe(c: i32): string {
    if (c < 0) return "end of input";
    if (c < 0x20) return "control character 0x" + c.toString(16);
    return "'" + String.fromCharCode(c) + "'";
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
    return this.fail("expected a value, found " + this.describe(c));
  }

  literal(word: string): bool {
    if (this.text.length - this.pos < word.length) return false;
    if (this.text.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  object(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++; // {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail("expected a string key, found " + this.describe(this.peek()));
      const keyAt = this.pos;
      const key = this.string();
      if (key === null) return null;
      for (let i = 0; i < v.keys.length; i++) {
        if (v.keys[i] == key) {
          this.pos = keyAt;
          return this.fail("duplicate key \"" + key + "\"");
        }
      }
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':' after key \"" + key + "\", found " + this.describe(this.peek()));
      this.pos++;
      const member = this.value(depth + 1);
      if (member === null) return null;
      v.keys.push(key);
      v.values.push(member);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x7d) {
        this.pos++;
        return v;
      }
      return this.fail("expected ',' or '}' in object, found " + this.describe(c));
    }
    return null;
  }

  array(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++; // [
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x5d) {
        this.pos++;
        return v;
      }
      return this.fail("expected ',' or ']' in array, found " + this.describe(c));
    }
    return null;
  }

  /** Reads a string starting at its opening quote; null on error. */
  string(): string | null {
    const t = this.text;
    this.pos++; // "
    let out = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= t.length) {
        this.fail("unterminated string");
        return null;
      }
      const c = t.charCodeAt(this.pos);
      if (c == 0x22) {
        out += t.substring(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) {
        this.fail("unescaped " + this.describe(c) + " in string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      out += t.substring(runStart, this.pos);
      this.pos++; // backslash
      const e = this.peek();
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        let code = 0;
        for (let i = 1; i <= 4; i++) {
          const h = this.pos + i < t.length ? t.charCodeAt(this.pos + i) : -1;
          const d = hexDigit(h);
          if (d < 0) {
            this.fail("invalid \\u escape");
            return null;
          }
          code = (code << 4) | d;
        }
        // Surrogate halves are kept as UTF-16 units, so escaped pairs recombine naturally.
        out += String.fromCharCode(code);
        this.pos += 4;
      } else {
        this.fail("invalid escape " + this.describe(e));
        return null;
      }
      this.pos++;
      runStart = this.pos;
    }
    return null;
  }

  number(): JsonValue | null {
    const t = this.text;
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    if (first == 0x30) {
      this.pos++;
    } else if (first >= 0x31 && first <= 0x39) {
      while (isDigit(this.peek())) this.pos++;
    } else {
      return this.fail("expected a digit, found " + this.describe(first));
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) return this.fail("expected a digit after '.', found " + this.describe(this.peek()));
      while (isDigit(this.peek())) this.pos++;
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const s = this.peek();
      if (s == 0x2b || s == 0x2d) this.pos++;
      if (!isDigit(this.peek())) return this.fail("expected a digit in exponent, found " + this.describe(this.peek()));
      while (isDigit(this.peek())) this.pos++;
    }
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.num = F64.parseFloat(t.substring(start, this.pos));
    return v;
  }
}

@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
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

/** Parses one JSON document; anything but whitespace after it is an error. */
export function parseJson(text: string): JsonParse {
  const r = new Reader(text);
  const v = r.value(0);
  if (v === null) return new JsonParse(null, r.error, r.errorAt);
  r.skipSpace();
  if (r.pos < text.length) {
    return new JsonParse(null, "unexpected " + r.describe(r.peek()) + " after the value", r.pos);
  }
  return new JsonParse(v, "", 0);
}
