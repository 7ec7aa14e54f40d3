/**
 * A rule set's clusters renamed to the clusters istiod gives a sidecar (cluster-name.ts), so the
 * wasm filter's `envoy.tcp_proxy.cluster` and the native proxy's routes name clusters that exist
 * in the mesh. The renamed set keeps the original's file and lines, so a later refusal still
 * points at the rule.
 *
 * A rule's cluster becomes, in order: the target given for it (`--cluster <name>=<target>`); the
 * name itself when it already is an Istio cluster name; a subset of `host` named like it
 * (`outbound|<port>|<name>|<host>`, which needs a DestinationRule subset of that name). A cluster
 * none of these settles is refused at the rule's line.
 */
import type { LoadedRuleSet } from "../rules/load.js";
import { routedClusters, rulePath } from "../rules/native.js";
import type { Rule } from "../rules/schema.js";
import { istioClusterForTarget, istioClusterName, parseIstioClusterName } from "./cluster-name.js";

export interface IstioRuleClustersProps {
  /** The port rendered for: the default port of a target without one. */
  readonly port: number;
  /** Rule cluster name → target (`<host>[:<port>][/<subset>]`, `inbound`, or an Istio cluster name). @default {} */
  readonly clusters?: Readonly<Record<string, string>>;
  /**
   * The service the clients dial (its FQDN). A rule cluster without a target is taken as a subset of
   * it, named like the rule cluster.
   * @default undefined (every rule cluster needs a target or must be an Istio cluster name)
   */
  readonly host?: string;
}

export interface IstioRuleSet {
  /** The rule set with every route naming an Istio cluster. */
  readonly rules: LoadedRuleSet;
  /** Rule cluster → Istio cluster, sorted by rule cluster. */
  readonly clusters: ReadonlyMap<string, string>;
  /** What the clusters need in the mesh (DestinationRule subsets), one sentence each. */
  readonly notes: readonly string[];
}

/** Renames every cluster of `set` to an Istio cluster; throws at the rule's line for a cluster it cannot name. */
export function withIstioClusters(set: LoadedRuleSet, props: IstioRuleClustersProps): IstioRuleSet {
  const targets = props.clusters ?? {};
  const named = routedClusters(set.ruleSet.spec.rules);
  for (const name of Object.keys(targets).sort()) {
    if (!named.includes(name)) {
      throw new Error(`cluster ${name} is not routed to by any rule of ${set.file}; rules route to: ${named.join(", ")} (fix or remove --cluster ${name}=…)`);
    }
  }
  let host: string | undefined;
  try {
    host = props.host === undefined ? undefined : istioClusterForTarget(props.host, props.port);
  } catch (err) {
    throw new Error(`--host ${props.host}: ${(err as Error).message}`);
  }
  const hostCluster = host === undefined ? undefined : parseIstioClusterName(host);
  if (hostCluster !== undefined && (hostCluster.direction !== "outbound" || hostCluster.subset !== undefined)) {
    throw new Error(`--host ${props.host}: give the service's FQDN (and port), without a subset, e.g. orders.shop.svc.cluster.local`);
  }
  const resolved = new Map<string, string>();
  for (const name of Object.keys(targets).sort()) {
    try {
      resolved.set(name, istioClusterForTarget(targets[name]!, props.port));
    } catch (err) {
      throw new Error(`--cluster ${name}=${targets[name]}: ${(err as Error).message}`);
    }
  }
  const subsets = new Set<string>();
  const resolve = (name: string, index: number): string => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    let out: string;
    if (parseIstioClusterName(name) !== undefined) {
      out = name;
    } else if (host !== undefined) {
      const { port, host: fqdn } = hostCluster as { port: number; host: string };
      try {
        out = istioClusterName({ direction: "outbound", host: fqdn, port, subset: name });
      } catch (err) {
        throw set.errorAt(rulePath(index, "route"), `cluster ${JSON.stringify(name)} cannot be a subset of ${props.host}: ${(err as Error).message}; map it with --cluster ${name}=<host>[:<port>][/<subset>]`);
      }
      subsets.add(name);
    } else {
      throw set.errorAt(
        rulePath(index, "route"),
        `cluster ${JSON.stringify(name)} is not a cluster of an Istio sidecar; map it with --cluster ${name}=<host>[:<port>][/<subset>] ` +
          `(e.g. ${name}=orders.shop.svc.cluster.local/v2), or give --host <service FQDN> to take it as a subset of that service`,
      );
    }
    resolved.set(name, out);
    return out;
  };
  const rules: Rule[] = set.ruleSet.spec.rules.map((rule, i) => {
    if (rule.route === undefined) return rule;
    if ("cluster" in rule.route) return { ...rule, route: { cluster: resolve(rule.route.cluster, i) } };
    const weighted = rule.route.weightedClusters.map((w) => ({ name: resolve(w.name, i), weight: w.weight }));
    const seen = new Map<string, string>();
    rule.route.weightedClusters.forEach((w, k) => {
      const other = seen.get(weighted[k]!.name);
      if (other !== undefined) {
        throw set.errorAt(
          rulePath(i, "route", "weightedClusters"),
          `rule ${rule.name}: clusters ${other} and ${w.name} are both ${weighted[k]!.name} in Istio; merge them into one entry with the summed weight`,
        );
      }
      seen.set(weighted[k]!.name, w.name);
    });
    return { ...rule, route: { weightedClusters: weighted } };
  });
  const notes = [...subsets].sort().map((s) =>
    `cluster ${s} is ${resolved.get(s)}: a DestinationRule for ${props.host} must define subset ${s}, or istiod builds no such cluster`);
  return {
    clusters: new Map([...resolved].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    notes,
    rules: { ...set, ruleSet: { ...set.ruleSet, spec: { ...set.ruleSet.spec, rules } } },
  };
}
