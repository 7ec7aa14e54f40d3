// Which rules can match a request, found without scanning every rule: each exact interface the
// rules name maps to the rules naming it; rules whose service is a prefix, a glob or absent are
// "open" and tried for every interface. A lookup merges the two lists by rule index, so the first
// match over the candidates is the first match over all rules. Memory stays linear in the rule
// count (a rule is in one list), and a request costs a binary search plus its candidates, whatever
// the number of rules (config.ts MAX_RULES). Pure code: as-pect tests it directly.
import { NameKind } from "../rpc/name-match";
import { Rule } from "../rpc/rule";
import { Call } from "../rpc/call";
import { ruleMatches } from "../rpc/match";

const NONE: i32[] = [];

export class RuleIndex {
  /** The exact interfaces the rules name, sorted (binary search: no hash map in the module). */
  private names: string[] = [];
  /** Per entry of `names`: the rules naming that interface exactly, in rule order. */
  private lists: i32[][] = [];
  /** Rules that do not name one exact interface, in rule order: candidates of every interface. */
  private open: i32[] = [];
  /** Some rule reads attachments (headers or group): requests are decoded in full. */
  readonly readsAttachments: bool;

  constructor(public rules: Rule[]) {
    let attachments = false;
    for (let i = 0; i < rules.length; i++) {
      const r = unchecked(rules[i]);
      if (r.headers.length > 0 || r.group.length > 0) attachments = true;
      if (r.service.kind != NameKind.Exact) {
        this.open.push(i);
        continue;
      }
      const t = r.service.text;
      const names = this.names;
      const at = this.lowerBound(t);
      if (at < names.length && unchecked(names[at]) == t) {
        unchecked(this.lists[at]).push(i);
        continue;
      }
      // Insertion into sorted order (Array#sort or #splice would add their code to the module).
      const lists = this.lists;
      names.push(t);
      lists.push(NONE);
      for (let k = names.length - 1; k > at; k--) {
        unchecked((names[k] = names[k - 1]));
        unchecked((lists[k] = lists[k - 1]));
      }
      unchecked((names[at] = t));
      unchecked((lists[at] = [i]));
    }
    this.readsAttachments = attachments;
  }

  /** The first entry of `names` not below `name` (names.length when all are). */
  private lowerBound(name: string): i32 {
    const names = this.names;
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (unchecked(names[mid]) < name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The rules naming `iface` exactly, in rule order (empty when none does). */
  private exact(iface: string): i32[] {
    const at = this.lowerBound(iface);
    const names = this.names;
    return at < names.length && unchecked(names[at]) == iface ? unchecked(this.lists[at]) : NONE;
  }

  /** Distinct exact interfaces indexed. */
  get interfaces(): i32 {
    return this.names.length;
  }

  /** The rules to try for `iface`, in rule order (allocates: `first` merges without a list). */
  candidates(iface: string): i32[] {
    const out: i32[] = [];
    const a = this.exact(iface);
    const b = this.open;
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && unchecked(a[i]) < unchecked(b[j]))) out.push(unchecked(a[i++]));
      else out.push(unchecked(b[j++]));
    }
    return out;
  }

  /** Index of the first rule `c` matches, -1 for none. */
  first(c: Call): i32 {
    const rules = this.rules;
    const a = this.exact(c.service);
    const b = this.open;
    const na = a.length;
    const nb = b.length;
    let i = 0;
    let j = 0;
    while (i < na || j < nb) {
      let at: i32;
      if (j >= nb || (i < na && unchecked(a[i]) < unchecked(b[j]))) at = unchecked(a[i++]);
      else at = unchecked(b[j++]);
      if (ruleMatches(unchecked(rules[at]), c)) return at;
    }
    return -1;
  }
}
