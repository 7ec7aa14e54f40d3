// Rule matching and the weighted pick. Pure code: as-pect tests it directly.
//
// Names as Envoy's thrift_proxy compares them (router_impl.cc MethodNameRouteEntryImpl,
// ServiceNameRouteEntryImpl) and the rule model says (controller/rules/schema.ts): `service` is
// the multiplexed prefix before the first ':' (a call that is not multiplexed has no service and
// never matches a service rule); `method` is the part after `Service:` when the rule names a
// service, else the whole message name as sent.
import { HeaderKind, Rule, asciiLower } from "./config";

export class Call {
  /** Message name as sent ("Service:method" when multiplexed). */
  name: string = "";
  /** "" when not multiplexed. */
  service: string = "";
  /** The part after "Service:" (the whole name when not multiplexed). */
  method: string = "";
  multiplexed: bool = false;
  /** THeader headers, keys lower-cased. */
  headerKeys: string[] = [];
  headerValues: string[] = [];

  static of(name: string, keys: string[], values: string[]): Call {
    const c = new Call();
    c.name = name;
    const colon = name.indexOf(":");
    c.multiplexed = colon >= 0;
    c.service = colon >= 0 ? name.substring(0, colon) : "";
    c.method = colon >= 0 ? name.substring(colon + 1) : name;
    for (let i = 0; i < keys.length; i++) {
      c.headerKeys.push(asciiLower(keys[i]));
      c.headerValues.push(values[i]);
    }
    return c;
  }
}

export function ruleMatches(r: Rule, c: Call): bool {
  const named = r.service.kind != 0;
  if (named) {
    if (!c.multiplexed || !r.service.matches(c.service)) return false;
    if (!r.method.matches(c.method)) return false;
  } else if (!r.method.matches(c.name)) {
    return false;
  }
  for (let i = 0; i < r.headers.length; i++) {
    const h = r.headers[i];
    let found = false;
    for (let k = 0; k < c.headerKeys.length && !found; k++) {
      if (c.headerKeys[k] != h.name) continue;
      const v = c.headerValues[k];
      found = h.kind == HeaderKind.Present || (h.kind == HeaderKind.Exact ? v == h.value : v.startsWith(h.value));
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

/** xorshift32: deterministic under a seed, cheap, good enough for traffic splits. */
export class Rng {
  state: u32;

  constructor(seed: u32) {
    this.state = seed == 0 ? 0x9e3779b9 : seed;
  }

  next(): u32 {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x;
  }

  /** Uniform in [0, n) (n ≥ 1), without modulo bias worth measuring at these weights. */
  below(n: u32): u32 {
    return <u32>((<u64>this.next() * <u64>n) >>> 32);
  }
}

/** The cluster index a weighted route picks (one cluster: 0). */
export function pickCluster(r: Rule, rng: Rng): i32 {
  if (r.clusters.length <= 1) return 0;
  const x = rng.below(r.totalWeight);
  for (let i = 0; i < r.cumulative.length; i++) if (x < r.cumulative[i]) return i;
  return r.cumulative.length - 1;
}
