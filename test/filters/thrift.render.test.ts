/**
 * The controller's Thrift renders: both standalone deployments validate against Envoy's protos,
 * carry the wasm configuration the filter accepts, and pair tcp_proxy as the filter needs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { thriftPerConnectionBootstrapProps, thriftPerRequestBootstrapProps } from "../../controller/thrift/standalone.js";
import { thriftWasmConfiguration } from "../../controller/thrift/wasm-config.js";

const RULES = parseRuleSet(`
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: orders }
spec:
  rules:
    - name: canary
      match: { service: { exact: Orders }, headers: [{ name: x-canary, present: true }] }
      route: { weightedClusters: [{ name: orders-v2, weight: 90 }, { name: orders-v1, weight: 10 }] }
    - name: no-delete
      match: { service: { exact: Orders }, method: { exact: delete } }
      policy: { deny: true, message: "delete is disabled" }
    - name: orders
      match: { service: { exact: Orders } }
      route: { cluster: orders-v1 }
      policy: { rateLimit: { tokens: 100, interval: 1s } }
`, "orders.yaml");

type Json = Record<string, unknown>;

function wasmConfiguration(config: Json): string {
  const listeners = (config.static_resources as Json).listeners as Json[];
  const chain = (listeners[0]!.filter_chains as Json[])[0]!;
  const wasm = (chain.filters as Json[]).find((f) => f.name === "envoy.filters.network.wasm")!;
  const plugin = ((wasm.typed_config as Json).config as Json);
  return ((plugin.configuration as Json).value as string);
}

describe("thrift controller renders", () => {
  it("per connection: wasm filter → tcp_proxy IMMEDIATE + max_early_data_bytes, validated", () => {
    const config = bootstrap(thriftPerConnectionBootstrapProps({ rules: RULES, seed: 1 }));
    const text = wasmConfiguration(config);
    assert.deepEqual(checkConfiguration("thrift", text), []);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(thriftWasmConfiguration({ rules: RULES, seed: 1 }))));
    const chain = (((config.static_resources as Json).listeners as Json[])[0]!.filter_chains as Json[])[0]!;
    const tcp = ((chain.filters as Json[])[1]!.typed_config as Json);
    assert.equal(tcp.cluster, "thrift-default");
    assert.equal((tcp.max_early_data_bytes as number) > 0, true);
    const clusters = ((config.static_resources as Json).clusters as Json[]).map((c) => c.name);
    assert.deepEqual(clusters, ["orders-v1", "orders-v2", "thrift-default"]);
  });

  it("per request: wasm filter → thrift_proxy from the same rules, validated", () => {
    const { props, warnings } = thriftPerRequestBootstrapProps({ rules: RULES });
    const config = bootstrap(props);
    assert.deepEqual(checkConfiguration("thrift", wasmConfiguration(config)), []);
    const chain = (((config.static_resources as Json).listeners as Json[])[0]!.filter_chains as Json[])[0]!;
    assert.deepEqual((chain.filters as Json[]).map((f) => f.name), ["envoy.filters.network.wasm", "envoy.filters.network.thrift_proxy"]);
    // thrift_proxy cannot refuse or rate-limit: the warnings say the wasm filter does.
    assert.ok(warnings.length > 0);
  });

  it("refuses what the filter refuses, in its words", () => {
    assert.deepEqual(checkConfiguration("thrift", { transport: "tcp" }), ['"transport" must be one of auto, framed, unframed, header, found "tcp"']);
    assert.deepEqual(checkConfiguration("thrift", { colour: 1 }), ['unknown field "colour" (known: stat_prefix, routing, transport, protocol, decode_timeout_ms, seed, rules, telemetry)']);
    assert.deepEqual(checkConfiguration("thrift", { rules: [{ name: "x" }] }), ['"rules[0].route" is required unless policy.deny is true']);
    assert.deepEqual(checkConfiguration("thrift", { decode_timeout_ms: 0 }), ['"decode_timeout_ms" must be a duration in milliseconds, an integer 1..600000, found 0']);
  });

  it("renders a delay fault for the filter and warns that thrift_proxy leaves it to the filter", () => {
    const rules = parseRuleSet(`
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: slow }
spec:
  rules:
    - name: slow
      match: { service: { exact: Orders } }
      route: { cluster: orders-v1 }
      fault: { delay: { duration: 250ms, percent: 10 } }
`, "slow.yaml");
    const config = thriftWasmConfiguration({ rules });
    assert.deepEqual(checkConfiguration("thrift", config), []);
    assert.deepEqual((config.rules as Json[])[0]!.fault, { delay: { duration: "250ms", percent: 10 } });
    const { warnings } = thriftPerRequestBootstrapProps({ rules });
    assert.ok(warnings.some((w) => w.includes("fault.delay")), warnings.join("; "));
    assert.deepEqual(checkConfiguration("thrift", { rules: [{ name: "x", route: { cluster: "a" }, fault: { delay: { duration: "1h" } } }] }).length, 1);
    assert.deepEqual(checkConfiguration("thrift", { rules: [{ name: "x", route: { cluster: "a" }, match: { version: "1" } }] }),
      ['unknown field "rules[0].match.version" (known: service, method, headers (version and group are Dubbo only))']);
  });
});
