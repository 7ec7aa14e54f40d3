// Which rules can match a request, found without scanning every rule: an index from each exact
// interface the rules name to the rules that can match it (that interface's exact rules and every
// rule whose service is a prefix, a glob or absent), in rule order, so the first match over the
// candidates is the first match over all rules. Pure code: as-pect tests it directly.
import { NameKind } from "../rpc/name-match";
import { Rule } from "../rpc/rule";
import { Call } from "../rpc/call";
import { ruleMatches } from "../rpc/match";

export class RuleIndex {
  /** The exact interfaces the rules name, sorted (binary search: no hash map in the module). */
  private names: string[] = [];
  /** Rule indices per entry of `names`. */
  private lists: i32[][] = [];
  /** Rules that do not name one exact interface: the candidates of every other interface. */
  private open: i32[] = [];
  /** Some rule reads attachments (headers or group): requests are decoded in full. */
  readonly readsAttachments: bool;

  constructor(public rules: Rule[]) {
    let attachments = false;
    const exact: string[] = [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.headers.length > 0 || r.group.length > 0) attachments = true;
      if (r.service.kind == NameKind.Exact) {
        // Insertion into sorted order (rules are few; Array#sort would add its code to the module).
        const t = r.service.text;
        let at = 0;
        while (at < exact.length && exact[at] < t) at++;
        if (at < exact.length && exact[at] == t) continue;
        exact.push(t);
        for (let k = exact.length - 1; k > at; k--) exact[k] = exact[k - 1];
        exact[at] = t;
      } else {
        this.open.push(i);
      }
    }
    this.readsAttachments = attachments;
    for (let k = 0; k < exact.length; k++) {
      const name = exact[k];
      const list: i32[] = [];
      for (let i = 0; i < rules.length; i++) {
        const s = rules[i].service;
        if (s.kind != NameKind.Exact || s.text == name) list.push(i);
      }
      this.names.push(name);
      this.lists.push(list);
    }
  }

  /** The rules to try for `iface`, in rule order. */
  candidates(iface: string): i32[] {
    let lo = 0;
    let hi = this.names.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const n = unchecked(this.names[mid]);
      if (n == iface) return unchecked(this.lists[mid]);
      if (n < iface) lo = mid + 1;
      else hi = mid - 1;
    }
    return this.open;
  }

  /** Index of the first rule `c` matches, -1 for none. */
  first(c: Call): i32 {
    const list = this.candidates(c.service);
    for (let i = 0; i < list.length; i++) {
      const at = unchecked(list[i]);
      if (ruleMatches(unchecked(this.rules[at]), c)) return at;
    }
    return -1;
  }
}
