// Mixer-style rules: a rule matches attributes and names the handlers it feeds. Pure code.
import { AttributeBag } from "./attributes";
import { Attr, RequestAttributes, attrPresent, attrValue, isResponseAttr } from "./request";

export enum MatchKind {
  Exact = 0,
  Prefix = 1,
  Present = 2,
}

export const MATCH_KIND_NAMES: string[] = ["exact", "prefix", "present"];

/** One attribute condition: `{"request.path": {"prefix": "/api/"}}`. */
export class AttrMatch {
  constructor(public attr: i32, public kind: MatchKind, public value: string) {}
}

export class TelemetryRule {
  name: string = "";
  /** All must hold (an empty list matches every request). */
  matches: AttrMatch[] = [];
  /** Bit i set: the rule feeds handler i. */
  handlerMask: u32 = 0;
}

export function attrMatches(m: AttrMatch, bag: AttributeBag, r: RequestAttributes): bool {
  if (m.kind == MatchKind.Present) return attrPresent(m.attr, bag, r);
  const v = attrValue(m.attr, bag, r);
  return m.kind == MatchKind.Exact ? v == m.value : v.startsWith(m.value);
}

/** False for what is only known at the end of a request (response attributes, body sizes). */
export function knownAtRequestHeaders(a: i32): bool {
  return a != Attr.RequestTotalSize && !isResponseAttr(a);
}

/**
 * Whether `rule` matches. With `requestOnly` the conditions on response attributes are taken as
 * met (they are not known yet): the answer is "could match", used to decide before forwarding.
 */
export function ruleMatches(rule: TelemetryRule, bag: AttributeBag, r: RequestAttributes, requestOnly: bool): bool {
  for (let i = 0; i < rule.matches.length; i++) {
    const m = rule.matches[i];
    if (requestOnly && isResponseAttr(m.attr)) continue;
    if (!attrMatches(m, bag, r)) return false;
  }
  return true;
}

/** The handlers every matching rule names, as a bit set. */
export function matchedHandlers(rules: TelemetryRule[], bag: AttributeBag, r: RequestAttributes, requestOnly: bool): u32 {
  let mask: u32 = 0;
  for (let i = 0; i < rules.length; i++) {
    if (ruleMatches(rules[i], bag, r, requestOnly)) mask |= rules[i].handlerMask;
  }
  return mask;
}
