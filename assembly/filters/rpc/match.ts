// Which rule a call matches: the first, in order. Pure code.
//
// A rule that names a service matches only calls that name one, with the service matcher on the
// service and the method matcher on the method within it; a rule that names no service matches
// its method against Call.unscoped. Version and group compare exactly; every header entry must
// hold (a name present several times holds when any of its values does).
import { NameKind } from "./name-match";
import { Rule } from "./rule";
import { Call } from "./call";

export function ruleMatches(r: Rule, c: Call): bool {
  if (r.service.kind != NameKind.Any) {
    if (!c.hasService || !r.service.matches(c.service) || !r.method.matches(c.method)) return false;
  } else if (!r.method.matches(c.unscoped)) {
    return false;
  }
  if (r.version.length > 0 && r.version != c.version) return false;
  if (r.group.length > 0 && r.group != c.group) return false;
  for (let i = 0; i < r.headers.length; i++) {
    const h = r.headers[i];
    let found = false;
    for (let k = 0; k < c.headerKeys.length && !found; k++) {
      found = c.headerKeys[k] == h.name && h.accepts(c.headerValues[k]);
    }
    if (!found) return false;
  }
  return true;
}

/** Index of the first matching rule, -1 for none. */
export function firstMatch(rules: Rule[], c: Call): i32 {
  for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i], c)) return i;
  return -1;
}
