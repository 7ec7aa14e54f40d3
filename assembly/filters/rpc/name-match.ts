// Name matchers of the rule model (controller/rules/schema.ts): exact, prefix, glob. Pure code.

export const enum NameKind {
  /** The rule does not name this part: everything matches. */
  Any = 0,
  Exact = 1,
  /** Never matches the prefix alone (an empty remainder). */
  Prefix = 2,
  /** `*` stands for one or more characters. */
  Glob = 3,
}

export class NameMatch {
  constructor(public kind: NameKind, public text: string) {}

  matches(s: string): bool {
    switch (this.kind) {
      case NameKind.Any: return true;
      case NameKind.Exact: return s == this.text;
      case NameKind.Prefix: return s.length > this.text.length && s.startsWith(this.text);
      default: return globMatch(this.text, 0, s, 0);
    }
  }
}

/** `*` stands for one or more characters. */
export function globMatch(p: string, pi: i32, s: string, si: i32): bool {
  while (pi < p.length) {
    const c = p.charCodeAt(pi);
    if (c == 42) {
      // Rest of the pattern after this star; the star takes at least one character.
      for (let k = si + 1; k <= s.length; k++) if (globMatch(p, pi + 1, s, k)) return true;
      return false;
    }
    if (si >= s.length || s.charCodeAt(si) != c) return false;
    pi++;
    si++;
  }
  return si == s.length;
}
