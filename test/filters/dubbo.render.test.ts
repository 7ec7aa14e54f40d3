/**
 * The controller's Dubbo renders: both standalone deployments validate against Envoy's protos,
 * carry the wasm configuration the filter accepts, and pair tcp_proxy as the filter needs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { loadRuleSet, parseRuleSet } from "../../controller/rules/load.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { dubboPerConnectionBootstrapProps, dubboPerRequestBootstrapProps } from "../../controller/dubbo/standalone.js";
import { dubboWasmConfiguration } from "../../controller/dubbo/wasm-config.js";

const RULES = parseRuleSet(`
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: orders }
spec:
  rules:
    - name: canary
      match: { service: { exact: com.acme.Orders }, group: blue, version: 2.0.0, headers: [{ name: x-canary, present: true }] }
      route: { weightedClusters: [{ name: orders-v2, weight: 90 }, { name: orders-v1, weight: 10 }] }
    - name: no-delete
      match: { service: { exact: com.acme.Orders }, method: { exact: delete } }
      policy: { deny: true, message: "delete is disabled" }
    - name: orders
      match: { service: { exact: com.acme.Orders } }
      route: { cluster: orders-v1 }
      policy: { rateLimit: { tokens: 100, interval: 1s } }
      fault: { delay: { duration: 50ms, percent: 5 }, abort: { message: "drill", percent: 1 } }
`, "orders.yaml");

type Json = Record<string, unknown>;

function chainOf(config: Json): Json {
  const listeners = (config.static_resources as Json).listeners as Json[];
  return (listeners[0]!.filter_chains as Json[])[0]!;
}

function wasmConfiguration(config: Json): string {
  const wasm = (chainOf(config).filters as Json[]).find((f) => f.name === "envoy.filters.network.wasm")!;
  return (((wasm.typed_config as Json).config as Json).configuration as Json).value as string;
}

describe("dubbo controller renders", () => {
  it("per connection: wasm filter → tcp_proxy IMMEDIATE + max_early_data_bytes, validated", () => {
    const config = bootstrap(dubboPerConnectionBootstrapProps({ rules: RULES, seed: 1 }));
    const text = wasmConfiguration(config);
    assert.deepEqual(checkConfiguration("dubbo", text), []);
    const parsed = JSON.parse(text) as Json;
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(dubboWasmConfiguration({ rules: RULES, seed: 1, routing: "connection" }))));
    assert.equal(parsed.routing, "connection");
    assert.deepEqual((parsed.rules as Json[])[0]!.match, { service: { exact: "com.acme.Orders" }, group: "blue", version: "2.0.0", headers: [{ name: "x-canary", present: true }] });
    const tcp = (chainOf(config).filters as Json[])[1]!.typed_config as Json;
    assert.equal(tcp.cluster, "dubbo-default");
    assert.equal(tcp.upstream_connect_mode, "IMMEDIATE");
    assert.equal((tcp.max_early_data_bytes as number) > 0, true);
    const clusters = ((config.static_resources as Json).clusters as Json[]).map((c) => c.name);
    assert.deepEqual(clusters, ["orders-v1", "orders-v2", "dubbo-default"]);
  });

  it("per request: wasm filter (routing request) → dubbo_proxy from the same rules, validated", () => {
    const { props, warnings } = dubboPerRequestBootstrapProps({ rules: RULES });
    const config = bootstrap(props);
    const text = wasmConfiguration(config);
    assert.deepEqual(checkConfiguration("dubbo", text), []);
    assert.equal((JSON.parse(text) as Json).routing, "request");
    assert.deepEqual((chainOf(config).filters as Json[]).map((f) => f.name), ["envoy.filters.network.wasm", "envoy.filters.network.dubbo_proxy"]);
    // dubbo_proxy cannot refuse, limit or inject faults: the warnings say the wasm filter does.
    assert.ok(warnings.some((w) => w.includes("no-delete")));
  });

  it("renders the example rule set for both deployments", () => {
    const set = loadRuleSet("controller/rules/examples/dubbo.yaml");
    assert.deepEqual(checkConfiguration("dubbo", JSON.stringify(dubboWasmConfiguration({ rules: set }))), []);
    bootstrap(dubboPerConnectionBootstrapProps({ rules: set }));
    bootstrap(dubboPerRequestBootstrapProps({ rules: set }).props);
  });

  it("refuses what the filter refuses, in its words", () => {
    assert.deepEqual(checkConfiguration("dubbo", { routing: "stream" }), ['"routing" must be one of connection, request, found "stream"']);
    assert.deepEqual(checkConfiguration("dubbo", { colour: 1 }), ['unknown field "colour" (known: stat_prefix, routing, decode_timeout_ms, max_body_bytes, seed, rules, telemetry)']);
    assert.deepEqual(checkConfiguration("dubbo", { rules: [{ name: "x" }] }), ['"rules[0].route" is required unless policy.deny is true']);
    assert.deepEqual(checkConfiguration("dubbo", { decode_timeout_ms: 0 }), ['"decode_timeout_ms" must be a duration in milliseconds, an integer 1..600000, found 0']);
    assert.deepEqual(checkConfiguration("dubbo", { max_body_bytes: 16777217 }), ['"max_body_bytes" must be a size in bytes, an integer 1..16777216, found 16777217']);
    assert.deepEqual(checkConfiguration("dubbo", {}), []);
  });
});
