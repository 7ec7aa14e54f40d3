// Header matchers of the rule model: THeader info headers (Thrift) and attachments (Dubbo). Names
// compare case-insensitively (Envoy keeps both in an HTTP header map), values exactly. Pure code.

export const enum HeaderKind {
  Exact = 0,
  Prefix = 1,
  Present = 2,
}

/** One `{name, exact|prefix|present}` entry; `name` is lower-cased. */
export class HeaderMatch {
  constructor(public name: string, public kind: HeaderKind, public value: string) {}

  /** Does a header with this (lower-cased) name's value `v` satisfy the entry? */
  accepts(v: string): bool {
    return this.kind == HeaderKind.Present || (this.kind == HeaderKind.Exact ? v == this.value : v.startsWith(this.value));
  }
}

/** ASCII lower case (header names are ASCII; String#toLowerCase brings Unicode tables). */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length && !upper; i++) {
    const c = s.charCodeAt(i);
    upper = c >= 65 && c <= 90;
  }
  if (!upper) return s;
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = <u16>(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return String.UTF16.decode(out.buffer);
}
