import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { dubboProxyFilter } from "../../controller/dubbo/filter.js";
import type { NetworkFilter } from "../../controller/envoy/network-filter.js";
import { EnvoyConfigError, EnvoyValidator } from "../../controller/envoy/validate.js";
import { wasmNetworkFilter } from "../../controller/envoy/wasm-network-filter.js";
import { istioClusterForTarget, istioClusterName, parseIstioClusterName } from "../../controller/istio/cluster-name.js";
import { validateEnvoyFilter } from "../../controller/istio/envoy-filter.js";
import { ISTIO_1_29_OR_LATER } from "../../controller/istio/proxy-version.js";
import { withIstioClusters } from "../../controller/istio/rule-clusters.js";
import { rpcEnvoyFilter, type RpcEnvoyFilterProps } from "../../controller/istio/rpc-envoy-filter.js";
import { loadRuleSet, parseRuleSet } from "../../controller/rules/load.js";
import { rpcWasmFilter } from "../../controller/rules/wasm-filter.js";
import { thriftProxyFilter } from "../../controller/thrift/filter.js";
import { InputFileError } from "../../controller/yaml.js";

const validator = EnvoyValidator.shared();
const FILTER = "envoy.config.listener.v3.Filter";
const HOST = "catalog.shop.svc.cluster.local";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = process.exitCode;
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  process.exitCode = saved;
  return { code, stdout, stderr };
}

interface Patch {
  applyTo: string;
  match: { context: string; listener: { portNumber: number; filterChain: { filter: { name: string } } }; proxy?: { proxyVersion?: string } };
  patch: { operation: string; value: NetworkFilter };
}

function patchesOf(resource: Record<string, unknown>): Patch[] {
  return (resource.spec as { configPatches: Patch[] }).configPatches;
}

/**
 * What istiod does with these NETWORK_FILTER patches on one chain (istio/istio release-1.29
 * pilot/pkg/networking/core/envoyfilter/listener_patch.go patchNetworkFilters / patchNetworkFilter):
 * INSERT_BEFORE / REPLACE in the order written, each at the first filter of the matched name; then
 * MERGE into each matching filter's typed_config.
 */
function applyToChain(chain: NetworkFilter[], patches: readonly Patch[]): NetworkFilter[] {
  let out = [...chain];
  for (const p of patches) {
    const at = out.findIndex((f) => f.name === p.match.listener.filterChain.filter.name);
    if (at < 0) continue;
    if (p.patch.operation === "INSERT_BEFORE") out.splice(at, 0, p.patch.value);
    else if (p.patch.operation === "REPLACE") out[at] = p.patch.value;
  }
  for (const p of patches.filter((x) => x.patch.operation === "MERGE")) {
    out = out.map((f) => (f.name === p.match.listener.filterChain.filter.name ? { ...f, typed_config: { ...f.typed_config, ...p.patch.value.typed_config } } : f));
  }
  return out;
}

/** Istio's inbound TCP chain for a port (networkfilter.go buildCompleteNetworkFilters), reduced to names and tcp_proxy. */
function istioInboundChain(port: number): NetworkFilter[] {
  const stub = (name: string, type: string): NetworkFilter => ({ name, typed_config: { "@type": `type.googleapis.com/${type}` } });
  return [
    stub("istio.metadata_exchange", "envoy.tcp.metadataexchange.config.MetadataExchange"),
    stub("envoy.filters.network.rbac", "envoy.extensions.filters.network.rbac.v3.RBAC"),
    stub("istio.stats", "stats.PluginConfig"),
    {
      name: "envoy.filters.network.tcp_proxy",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", cluster: `inbound|${port}||`, stat_prefix: `inbound|${port}||` },
    },
  ];
}

function thriftRules() {
  return withIstioClusters(loadRuleSet("controller/rules/examples/thrift.yaml"), { host: HOST, port: 9090 }).rules;
}

function thriftProps(deployment: "connection" | "request", extra: Partial<RpcEnvoyFilterProps> = {}): RpcEnvoyFilterProps {
  const rules = thriftRules();
  return {
    deployment,
    nativeProxy: deployment === "request" ? thriftProxyFilter({ rules }).filter : undefined,
    port: 9090,
    protocol: "thrift",
    wasmFilter: rpcWasmFilter("thrift", { deployment, rules, wasmDir: "/var/local/lib/wasm" }),
    ...extra,
  };
}

/** A stand-in for the dubbo filter (root id dubbo, routing per request): what rpcEnvoyFilter takes as its input. */
function dubboWasm(routing: string): NetworkFilter {
  return wasmNetworkFilter({ configuration: { routing }, failurePolicy: "FAIL_RELOAD", name: "dubbo", wasmPath: "/var/local/lib/wasm/dubbo.wasm" });
}

function wasmJson(f: NetworkFilter): Record<string, unknown> {
  return JSON.parse((f.typed_config as unknown as { config: { configuration: { value: string } } }).config.configuration.value) as Record<string, unknown>;
}

describe("Istio cluster names", () => {
  it("builds istiod's names (pilot/pkg/model/service.go BuildSubsetKey)", () => {
    assert.equal(istioClusterName({ direction: "outbound", host: HOST, port: 9090 }), `outbound|9090||${HOST}`);
    assert.equal(istioClusterName({ direction: "outbound", host: HOST, port: 9090, subset: "v2" }), `outbound|9090|v2|${HOST}`);
    assert.equal(istioClusterName({ direction: "inbound", port: 9090 }), "inbound|9090||");
  });

  it("reads command-line targets: host, host:port, host/subset, inbound, and Istio names as they are", () => {
    assert.equal(istioClusterForTarget(HOST, 9090), `outbound|9090||${HOST}`);
    assert.equal(istioClusterForTarget(`${HOST}:9091/v2`, 9090), `outbound|9091|v2|${HOST}`);
    assert.equal(istioClusterForTarget(`${HOST}/blue`, 9090), `outbound|9090|blue|${HOST}`);
    assert.equal(istioClusterForTarget("inbound", 9090), "inbound|9090||");
    assert.equal(istioClusterForTarget(`outbound|20880|v1|${HOST}`, 9090), `outbound|20880|v1|${HOST}`);
    assert.deepEqual(parseIstioClusterName(`outbound|20880|v1|${HOST}`), { direction: "outbound", host: HOST, port: 20880, subset: "v1" });
    assert.equal(parseIstioClusterName("catalog"), undefined);
    assert.equal(parseIstioClusterName("inbound|9090|v1|"), undefined);
  });

  const refused: Array<[string, RegExp]> = [
    ["catalog", /short name; istiod names clusters by the service's FQDN, e\.g\. catalog\.<namespace>\.svc\.cluster\.local/],
    [`${HOST}/V2`, /subset "V2" must be a DNS-1123 label/],
    [`${HOST}:0`, /port 0 must be an integer in \[1, 65535\]/],
    ["outbound|9090||", /is not an Istio cluster name; give <host>\[:<port>\]\[\/<subset>\]/],
    ["Catalog.Shop", /must be a lower-case DNS name/],
  ];
  for (const [target, message] of refused) {
    it(`refuses the target ${JSON.stringify(target)} naming the accepted forms`, () => {
      assert.throws(() => istioClusterForTarget(target, 9090), message);
    });
  }
});

describe("rule clusters renamed to Istio's", () => {
  const text = `apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: t }
spec:
  rules:
    - { name: a, route: { cluster: v1 } }
    - { name: b, route: { weightedClusters: [{ name: v1, weight: 9 }, { name: v2, weight: 1 }] } }
    - { name: c, policy: { deny: true } }
`;

  it("maps --cluster targets, takes the rest as subsets of --host, and notes the DestinationRule subsets needed", () => {
    const r = withIstioClusters(parseRuleSet(text, "rs.yaml"), { clusters: { v1: "inbound" }, host: HOST, port: 9090 });
    assert.deepEqual([...r.clusters], [["v1", "inbound|9090||"], ["v2", `outbound|9090|v2|${HOST}`]]);
    assert.deepEqual(r.rules.ruleSet.spec.rules.map((x) => x.route), [
      { cluster: "inbound|9090||" },
      { weightedClusters: [{ name: "inbound|9090||", weight: 9 }, { name: `outbound|9090|v2|${HOST}`, weight: 1 }] },
      undefined,
    ]);
    assert.deepEqual(r.notes, [`cluster v2 is outbound|9090|v2|${HOST}: a DestinationRule for ${HOST} must define subset v2, or istiod builds no such cluster`]);
    // The renamed set still points at the file's lines.
    assert.equal(r.rules.errorAt(["spec", "rules", 1], "x").line, 7);
  });

  it("refuses a cluster nothing names, at the rule's line, with both fixes", () => {
    assert.throws(() => withIstioClusters(parseRuleSet(text, "rs.yaml"), { port: 9090 }), (err: unknown) => {
      assert.ok(err instanceof InputFileError);
      assert.equal(err.line, 6);
      assert.match(err.message, /cluster "v1" is not a cluster of an Istio sidecar; map it with --cluster v1=<host>\[:<port>\]\[\/<subset>\].*or give --host/);
      return true;
    });
  });

  it("refuses a --cluster no rule routes to, and two weighted clusters that become one", () => {
    assert.throws(() => withIstioClusters(parseRuleSet(text, "rs.yaml"), { clusters: { v3: HOST }, host: HOST, port: 9090 }),
      /cluster v3 is not routed to by any rule of rs\.yaml; rules route to: v1, v2/);
    assert.throws(() => withIstioClusters(parseRuleSet(text, "rs.yaml"), { clusters: { v1: HOST, v2: HOST }, port: 9090 }),
      /rs\.yaml:7:\d+: rule b: clusters v1 and v2 are both outbound\|9090\|\|catalog\.shop\.svc\.cluster\.local in Istio; merge them/);
    assert.throws(() => withIstioClusters(parseRuleSet(text, "rs.yaml"), { host: `${HOST}/v1`, port: 9090 }), /--host .*without a subset/);
    assert.throws(() => withIstioClusters(parseRuleSet(text, "rs.yaml"), { host: "catalog", port: 9090 }), /^Error: --host catalog: cluster target "catalog": host "catalog" is a short name/);
  });
});

describe("rpcEnvoyFilter: per connection", () => {
  const { resource, warnings } = rpcEnvoyFilter(thriftProps("connection"));
  const patches = patchesOf(resource);

  it("inserts the wasm filter before tcp_proxy and merges IMMEDIATE + max_early_data_bytes into tcp_proxy, on SIDECAR_OUTBOUND port 9090", () => {
    assert.deepEqual(patches.map((p) => [p.applyTo, p.match.context, p.match.listener.portNumber, p.match.listener.filterChain.filter.name, p.patch.operation]), [
      ["NETWORK_FILTER", "SIDECAR_OUTBOUND", 9090, "envoy.filters.network.tcp_proxy", "INSERT_BEFORE"],
      ["NETWORK_FILTER", "SIDECAR_OUTBOUND", 9090, "envoy.filters.network.tcp_proxy", "MERGE"],
    ]);
    assert.equal(patches[0]!.patch.value.name, "envoy.filters.network.wasm");
    assert.equal(wasmJson(patches[0]!.patch.value).routing, "connection");
    const merged = patches[1]!.patch.value.typed_config;
    assert.equal(merged.upstream_connect_mode, "IMMEDIATE");
    assert.equal(merged.max_early_data_bytes, 16384);
    assert.equal(merged.cluster, undefined, "the MERGE must leave Istio's cluster alone");
  });

  it("routes the filter's rules to Istio cluster names", () => {
    const rules = wasmJson(patches[0]!.patch.value).rules as Array<{ route?: { cluster?: string } }>;
    assert.equal(rules[0]!.route!.cluster, `outbound|9090|catalog-blue|${HOST}`);
  });

  it("guards both patches with one proxyVersion that admits Istio 1.29 (Envoy 1.37: the tcp_proxy fields)", () => {
    const versions = new Set(patches.map((p) => p.match.proxy?.proxyVersion));
    assert.equal(versions.size, 1);
    const re = new RegExp([...versions][0]!);
    for (const v of ["1.29.0", "1.30.2", "1.31-dev"]) assert.ok(re.test(v), v);
    for (const v of ["1.28.3", "1.24.1", ""]) assert.ok(!re.test(v), v);
    assert.equal([...versions][0], ISTIO_1_29_OR_LATER);
  });

  it("is a valid EnvoyFilter whose Envoy objects are valid Filters (the MERGE as merged into Istio's tcp_proxy)", () => {
    validateEnvoyFilter(resource);
    assert.deepEqual(validator.validate(patches[0]!.patch.value, FILTER), []);
    const chain = applyToChain(istioInboundChain(9090), patches);
    assert.deepEqual(validator.validate(chain.at(-1), FILTER), []);
  });

  it("keeps Istio's metadata exchange, RBAC and stats ahead of the filter", () => {
    const chain = applyToChain(istioInboundChain(9090), patchesOf(rpcEnvoyFilter(thriftProps("connection", { context: "inbound" })).resource));
    assert.deepEqual(chain.map((f) => f.name), [
      "istio.metadata_exchange", "envoy.filters.network.rbac", "istio.stats", "envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy",
    ]);
    assert.equal(chain.at(-1)!.typed_config.cluster, "inbound|9090||");
  });

  it("warns that an outbound tcp_proxy with weighted_clusters ignores the filter's choice", () => {
    assert.ok(warnings.some((w) => /weighted_clusters.*ignores envoy\.tcp_proxy\.cluster/.test(w)), warnings.join("\n"));
    const inbound = rpcEnvoyFilter(thriftProps("connection", { context: "inbound" }));
    assert.equal(patchesOf(inbound.resource)[0]!.match.context, "SIDECAR_INBOUND");
    assert.deepEqual(inbound.warnings, []);
  });

  it("dubbo per connection: the given filter before tcp_proxy, paired like thrift's", () => {
    const patches = patchesOf(rpcEnvoyFilter({ deployment: "connection", port: 20880, protocol: "dubbo", wasmFilter: dubboWasm("connection") }).resource);
    assert.deepEqual(patches.map((p) => p.patch.operation), ["INSERT_BEFORE", "MERGE"]);
    assert.equal(patches[1]!.patch.value.typed_config.upstream_connect_mode, "IMMEDIATE");
  });
});

describe("rpcEnvoyFilter: per request", () => {
  it("thrift: inserts the wasm filter, then replaces tcp_proxy with thrift_proxy; RBAC and stats stay first", () => {
    const { resource } = rpcEnvoyFilter(thriftProps("request", { context: "inbound" }));
    const patches = patchesOf(resource);
    assert.deepEqual(patches.map((p) => p.patch.operation), ["INSERT_BEFORE", "REPLACE"]);
    assert.ok(patches.every((p) => p.match.listener.filterChain.filter.name === "envoy.filters.network.tcp_proxy"));
    const chain = applyToChain(istioInboundChain(9090), patches);
    assert.deepEqual(chain.map((f) => f.name), [
      "istio.metadata_exchange", "envoy.filters.network.rbac", "istio.stats", "envoy.filters.network.wasm", "envoy.filters.network.thrift_proxy",
    ]);
    for (const p of patches) assert.deepEqual(validator.validate(p.patch.value, FILTER), []);
    assert.equal(wasmJson(patches[0]!.patch.value).routing, "request");
  });

  it("dubbo: dubbo_proxy carries the route table with Istio cluster names; the wasm filter is the given one", () => {
    const rules = withIstioClusters(loadRuleSet("controller/rules/examples/dubbo.yaml"), { host: "orders.shop.svc.cluster.local", port: 20880,
      clusters: { payments: "payments.shop.svc.cluster.local" } }).rules;
    const wasm = dubboWasm("request");
    const { resource, warnings } = rpcEnvoyFilter({ deployment: "request", nativeProxy: dubboProxyFilter({ rules }).filter, port: 20880, protocol: "dubbo", wasmFilter: wasm });
    const patches = patchesOf(resource);
    assert.deepEqual(patches[0]!.patch.value, wasm);
    const native = patches[1]!.patch.value;
    assert.equal(native.name, "envoy.filters.network.dubbo_proxy");
    const routeConfigs = (native.typed_config.multiple_route_config as { route_config: Array<{ routes: Array<{ route: { cluster?: string } }> }> }).route_config;
    assert.equal(routeConfigs[0]!.routes[0]!.route.cluster, "outbound|20880|orders-v2|orders.shop.svc.cluster.local");
    assert.ok(JSON.stringify(routeConfigs).includes("outbound|20880||payments.shop.svc.cluster.local"));
    assert.deepEqual(validator.validate(native, FILTER), []);
    assert.equal(resource.metadata && (resource.metadata as { name: string }).name, "protomesh-dubbo-request-outbound-20880");
    assert.ok(warnings.some((w) => /replaces tcp_proxy on every outbound TCP listener of port 20880/.test(w)));
    assert.ok(warnings.some((w) => /istio_tcp_sent\/received_bytes_total stay 0/.test(w)));
  });

  it("rejects an Envoy object with an unknown field (the proto validator runs on every patch value)", () => {
    const props = thriftProps("request");
    const bad = { ...props.nativeProxy!, typed_config: { ...props.nativeProxy!.typed_config, bogus: 1 } };
    assert.throws(() => rpcEnvoyFilter({ ...props, nativeProxy: bad }), (err: unknown) => err instanceof EnvoyConfigError && /bogus/.test(err.message));
    const badWasm = { ...props.wasmFilter, typed_config: { ...props.wasmFilter.typed_config, extra: true } };
    assert.throws(() => rpcEnvoyFilter({ ...props, wasmFilter: badWasm }), EnvoyConfigError);
  });
});

describe("rpcEnvoyFilter refusals", () => {
  const refused: Array<{ name: string; props: () => RpcEnvoyFilterProps; message: RegExp }> = [
    { name: "a wasm filter of another protocol", props: () => ({ ...thriftProps("request"), wasmFilter: dubboWasm("request") }),
      message: /wasmFilter runs root id "dubbo"; a thrift rule set needs the thrift filter/ },
    { name: "a filter configured for the other deployment", props: () => ({ ...thriftProps("request"), wasmFilter: thriftProps("connection").wasmFilter }),
      message: /configured with routing "connection" but the deployment is per request; render its configuration with routing "request"/ },
    { name: "per request without the native proxy", props: () => ({ ...thriftProps("request"), nativeProxy: undefined }),
      message: /per request needs nativeProxy, the envoy\.filters\.network\.thrift_proxy filter/ },
    { name: "per connection with a native proxy", props: () => ({ ...thriftProps("connection"), nativeProxy: thriftProps("request").nativeProxy }),
      message: /per connection tcp_proxy forwards; nativeProxy .* applies to deployment request only/ },
    { name: "the other protocol's native proxy", props: () => ({ ...thriftProps("request"), protocol: "dubbo", wasmFilter: dubboWasm("request") }),
      message: /nativeProxy must be envoy\.filters\.network\.dubbo_proxy for dubbo/ },
    { name: "the sidecar's redirect port", props: () => thriftProps("connection", { port: 15006 }), message: /port 15006 is the sidecar's own redirect port/ },
    { name: "max_early_data_bytes beyond Envoy's rule", props: () => thriftProps("connection", { maxEarlyDataBytes: 2_000_000 }),
      message: /maxEarlyDataBytes 2000000 must be an integer in \[1, 1048576\]/ },
    { name: "max_early_data_bytes per request", props: () => thriftProps("request", { maxEarlyDataBytes: 1024 }), message: /per request .* replaces tcp_proxy, remove it/ },
    { name: "a name that is no DNS label", props: () => thriftProps("connection", { name: "Thrift_Routes" }), message: /must be a DNS-1123 label/ },
  ];
  for (const t of refused) {
    it(`refuses ${t.name}`, () => assert.throws(() => rpcEnvoyFilter(t.props()), t.message));
  }

  it("refuses a plugin configuration the filter would refuse, in the filter's words", () => {
    const wasm = wasmNetworkFilter({ configuration: { routing: "connection", transport: "tcp" }, name: "thrift", wasmPath: "/x/thrift.wasm" });
    assert.throws(() => rpcEnvoyFilter({ ...thriftProps("connection"), wasmFilter: wasm }), /thrift: invalid configuration: .*transport/);
  });
});

describe("render rules --istio (CLI)", () => {
  const base = ["render", "rules", "--proxy", "thrift", "--rules", "controller/rules/examples/thrift.yaml", "--istio", "--port", "9090"];

  it("renders one deterministic EnvoyFilter per deployment, with notes and warnings on stderr", async () => {
    for (const deployment of ["connection", "request"]) {
      const argv = [...base, "--host", HOST, "--namespace", "shop", "--selector", "app=web", "--deployment", deployment];
      const a = await cli(...argv);
      assert.equal(a.code, 0, a.stderr);
      assert.equal((await cli(...argv)).stdout, a.stdout);
      assert.match(a.stdout, /^# Generated by protomesh for the thrift rules of controller\/rules\/examples\/thrift\.yaml in Istio/);
      const resource = parse(a.stdout) as Record<string, unknown>;
      validateEnvoyFilter(resource);
      assert.deepEqual(resource.metadata, { name: `protomesh-thrift-${deployment}-outbound-9090`, namespace: "shop" });
      assert.deepEqual((resource.spec as { workloadSelector: unknown }).workloadSelector, { labels: { app: "web" } });
      const ops = patchesOf(resource).map((p) => p.patch.operation);
      assert.deepEqual(ops, deployment === "connection" ? ["INSERT_BEFORE", "MERGE"] : ["INSERT_BEFORE", "REPLACE"]);
      assert.match(a.stderr, /^protomesh: note: cluster catalog is outbound\|9090\|catalog\|catalog\.shop\.svc\.cluster\.local: a DestinationRule/m);
      assert.match(a.stderr, /^protomesh: warning: SIDECAR_OUTBOUND port 9090/m);
    }
  });

  it("per request, the wasm filter decodes the wire thrift_proxy is given", async () => {
    const r = await cli(...base, "--host", HOST, "--transport", "HEADER", "--protocol", "COMPACT");
    assert.equal(r.code, 0, r.stderr);
    const [wasm, native] = patchesOf(parse(r.stdout) as Record<string, unknown>).map((p) => p.patch.value);
    assert.deepEqual([native!.typed_config.transport, native!.typed_config.protocol], ["HEADER", "COMPACT"]);
    const json = wasmJson(wasm!);
    assert.deepEqual([json.transport, json.protocol], ["header", "compact"]);
  });

  const errors: Array<{ name: string; argv: string[]; message: RegExp }> = [
    { name: "--istio without --port", argv: ["render", "rules", "--proxy", "thrift", "--rules", "controller/rules/examples/thrift.yaml", "--istio"],
      message: /--istio needs --port <port>: the service port \(--context outbound\) or the workload's port \(--context inbound\)/ },
    { name: "a standalone flag with --istio", argv: [...base, "--host", HOST, "--listen-port", "10001"], message: /--listen-port applies to the standalone bootstrap; remove it with --istio/ },
    { name: "an Istio flag without --istio", argv: ["render", "rules", "--proxy", "thrift", "--rules", "controller/rules/examples/thrift.yaml", "--namespace", "shop", "--host", HOST],
      message: /--namespace, --host apply to the Istio output; add --istio or remove them/ },
    { name: "a rule cluster Istio has no name for", argv: base, message: /controller\/rules\/examples\/thrift\.yaml:\d+:\d+: cluster "catalog-blue" is not a cluster of an Istio sidecar/ },
    { name: "--max-early-data-bytes per request", argv: [...base, "--host", HOST, "--max-early-data-bytes", "4096"], message: /--max-early-data-bytes pairs tcp_proxy per connection/ },
    { name: "a --cluster target that is no FQDN", argv: [...base, "--cluster", "catalog=catalog"], message: /--cluster catalog=catalog: cluster target "catalog": host "catalog" is a short name/ },
  ];
  it("--proxy dubbo renders dubbo_proxy behind the dubbo filter, its configuration from the same rules", async () => {
    const r = await cli("render", "rules", "--proxy", "dubbo", "--rules", "controller/rules/examples/dubbo.yaml", "--istio", "--port", "20880",
      "--host", "orders.shop.svc.cluster.local", "--cluster", "payments=payments.shop.svc.cluster.local");
    assert.equal(r.code, 0, r.stderr);
    const [wasm, native] = patchesOf(parse(r.stdout) as Record<string, unknown>).map((p) => p.patch.value);
    assert.equal(wasm!.name, "envoy.filters.network.wasm");
    assert.equal(native!.name, "envoy.filters.network.dubbo_proxy");
    const config = wasmJson(wasm!) as { routing: string; rules: unknown[] };
    assert.equal(config.routing, "request");
    assert.ok(JSON.stringify(config.rules).includes("outbound|20880||payments.shop.svc.cluster.local"), JSON.stringify(config.rules));
  });

  it("--context inbound with --cluster x=inbound routes to the workload's own inbound cluster", async () => {
    const r = await cli(...base, "--context", "inbound", "--deployment", "connection", "--cluster", "catalog=inbound", "--cluster", "catalog-blue=inbound",
      "--cluster", "search-v1=search.shop.svc.cluster.local", "--cluster", "search-v2=search.shop.svc.cluster.local:9091/v2");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const patches = patchesOf(parse(r.stdout) as Record<string, unknown>);
    assert.ok(patches.every((p) => p.match.context === "SIDECAR_INBOUND"));
    const clusters = JSON.stringify(wasmJson(patches[0]!.patch.value).rules);
    for (const c of ["inbound|9090||", "outbound|9090||search.shop.svc.cluster.local", "outbound|9091|v2|search.shop.svc.cluster.local"]) assert.ok(clusters.includes(c), c);
  });

  for (const t of errors) {
    it(`fails on ${t.name}, naming the flag or line and the fix`, async () => {
      const r = await cli(...t.argv);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, t.message);
    });
  }
});
