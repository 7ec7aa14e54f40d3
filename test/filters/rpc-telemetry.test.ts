/**
 * Dubbo and Thrift calls through the telemetry engine: real hessian.js and Apache thrift peers,
 * both deployments (per connection before tcp_proxy, per request before dubbo_proxy /
 * thrift_proxy), node metadata and metadata exchange's peer object set as on an Istio sidecar,
 * Envoy's Prometheus text parsed strictly and every label compared with a fixed table (Istio's
 * labels in istio_stats.cc order), and the access log's JSON lines.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";
import type { NetworkFilterFactory } from "../host/types.js";
import { withTimeout } from "../host/fakes.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { seededRandom } from "../host/rpc-fixtures.js";
import { DubboProxy } from "../host/dubbo-proxy.js";
import { ThriftProxy } from "../host/thrift-proxy.js";
import { prometheusText, type PromStat } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { DubboConsumer, startDubboProvider, type DubboPeer } from "../peers/dubbo.js";
import { startThriftServer, thriftClient, type ThriftPeer } from "../peers/thrift.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { pairRpcTcpProxy } from "../../controller/rules/per-connection.js";
import { dubboPerRequestBootstrapProps } from "../../controller/dubbo/standalone.js";
import { DUBBO_PROXY_FILTER_NAME } from "../../controller/dubbo/filter.js";
import { thriftPerRequestBootstrapProps } from "../../controller/thrift/standalone.js";
import { THRIFT_PROXY_FILTER_NAME } from "../../controller/thrift/filter.js";
import { ISTIO_HTTP_LABELS, httpStatsTags } from "../../controller/telemetry/stats-tags.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";

const dubboWasm = new URL("../../build/dubbo.wasm", import.meta.url).pathname;
const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;

/** The service the calls go to: istiod's outbound cluster name for it (subset v2). */
const ORDERS = "orders.shop.svc.cluster.local";
const OUTBOUND = `outbound|20880|v2|${ORDERS}`;
const INBOUND = "inbound|20880||";

type Labels = Record<string, string>;
type Side = "outbound" | "inbound";

/** Node metadata of the sidecar the filter runs in (istio-agent's keys, metadata_object.h). */
function node(side: Side, istio: boolean): Record<string, unknown> {
  const me = side === "outbound"
    ? { WORKLOAD_NAME: "web-v1", NAMESPACE: "shop", CLUSTER_ID: "Kubernetes", LABELS: { app: "web", version: "v1", "service.istio.io/canonical-name": "web", "service.istio.io/canonical-revision": "v1" } }
    : { WORKLOAD_NAME: "orders-v2", NAMESPACE: "shop", CLUSTER_ID: "Kubernetes", LABELS: { app: "orders", version: "v2", "service.istio.io/canonical-name": "orders", "service.istio.io/canonical-revision": "v2" } };
  return istio ? { ...me, ISTIO_VERSION: "1.29.0" } : me;
}

/**
 * Istio's metadata exchange leaves the peer as a WorkloadMetadataObject in filter state
 * (istio/proxy source/extensions/common/metadata_object.h): `downstream_peer_obj` on an inbound
 * chain, `upstream_peer_obj` on an outbound one. Peers on another cluster ("east") so the test
 * tells the local CLUSTER_ID from the peer's.
 */
function metadataExchange(side: Side): NetworkFilterFactory {
  const peer = side === "outbound"
    ? { workload: "orders-v2", namespace: "shop", cluster: "east", service: "orders", revision: "v2", app: "orders", version: "v2" }
    : { workload: "web-v1", namespace: "shop", cluster: "east", service: "web", revision: "v1", app: "web", version: "v1" };
  return {
    name: "istio.metadata_exchange",
    create: (cb) => ({
      onNewConnection: () => {
        cb.connection.filterState.set(side === "outbound" ? "upstream_peer_obj" : "downstream_peer_obj", { value: new Uint8Array(0), span: "FilterChain", readOnly: false, fields: peer });
        return "Continue";
      },
      onData: () => "Continue",
      onWrite: () => "Continue",
      onEvent: () => {},
    }),
  };
}

/**
 * The FIXED expected label table: Istio's 25 labels, in istio_stats.cc order, for one call of
 * `protocol` answered `code`. Outbound (reporter source): the local side from the node, the peer
 * from upstream_peer_obj, the service from the routed cluster's name. Inbound (reporter
 * destination): the peer from downstream_peer_obj, the local side and the local canonical service.
 */
function expected(side: Side, protocol: string, code: string, flags = "-"): Labels {
  const tail = { request_protocol: protocol, response_code: code, grpc_response_status: "", response_flags: flags };
  if (side === "outbound") {
    return {
      reporter: "source",
      source_workload: "web-v1", source_canonical_service: "web", source_canonical_revision: "v1", source_workload_namespace: "shop",
      source_principal: "unknown", source_app: "web", source_version: "v1", source_cluster: "Kubernetes",
      destination_workload: "orders-v2", destination_workload_namespace: "shop", destination_principal: "unknown",
      destination_app: "orders", destination_version: "v2",
      destination_service: ORDERS, destination_canonical_service: "orders", destination_canonical_revision: "v2",
      destination_service_name: "orders", destination_service_namespace: "shop", destination_cluster: "east",
      ...tail, connection_security_policy: "unknown",
    };
  }
  return {
    reporter: "destination",
    source_workload: "web-v1", source_canonical_service: "web", source_canonical_revision: "v1", source_workload_namespace: "shop",
    source_principal: "unknown", source_app: "web", source_version: "v1", source_cluster: "east",
    destination_workload: "orders-v2", destination_workload_namespace: "shop", destination_principal: "unknown",
    destination_app: "orders", destination_version: "v2",
    destination_service: "orders", destination_canonical_service: "orders", destination_canonical_revision: "v2",
    destination_service_name: "orders", destination_service_namespace: "shop", destination_cluster: "Kubernetes",
    ...tail, connection_security_policy: "none",
  };
}

function family(fams: Family[], name: string): Family {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `no family ${name} in ${fams.map((x) => x.name).join(", ")}`);
  return f;
}

/** Every series of the requests counter, its labels in the scrape's order, with its value. */
function series(fams: Family[], name: string): Array<[Labels, number]> {
  return family(fams, name).samples.map((s) => [{ ...s.labels }, s.value]);
}

/** The scrape of `host` as Envoy prints it with the standalone stats_tags, parsed strictly. */
function scrape(host: Host, extra: readonly PromStat[] = []): Family[] {
  flushTelemetry(host);
  return parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags(), customNamespaces: ["wasmcustom", "istiocustom"] }, extra));
}

const ruleSet = (protocol: "dubbo" | "thrift", cluster: string): string => `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: shop }
spec:
  rules:
    - name: legacy
      match: { service: { exact: ${protocol === "dubbo" ? "com.acme.Legacy" : "Legacy"} } }
      policy: { deny: true, message: "Legacy is retired" }
    - name: orders
      match: { service: { exact: ${protocol === "dubbo" ? "com.acme.OrderService" : "Orders"} } }
      route: { cluster: "${cluster}" }
`;

/** The access log handler beside the default prometheus one (`telemetry` section). */
const TELEMETRY = {
  handlers: [
    { name: "prometheus", kind: "prometheus" },
    { name: "calls", kind: "accesslog" },
  ],
};

interface Rig {
  readonly host: Host;
  readonly port: number;
  close(): Promise<void>;
}

async function dubboRig(side: Side, deployment: "connection" | "request", istio: boolean, provider: DubboPeer): Promise<Rig> {
  const cluster = side === "outbound" ? OUTBOUND : INBOUND;
  const rules = parseRuleSet(ruleSet("dubbo", cluster), "shop.yaml");
  const host = new Host({ nodeMetadata: node(side, istio) as never });
  const config = { stat_prefix: "dubbo", routing: deployment, seed: 1, rules: (rules.ruleSet.spec as { rules: unknown }).rules, telemetry: TELEMETRY };
  const mx = metadataExchange(side);
  if (deployment === "connection") {
    host.addCluster(cluster, { endpoints: [{ host: "127.0.0.1", port: provider.port }] });
    host.addCluster("dubbo-default", { endpoints: [{ host: "127.0.0.1", port: provider.port }] });
    assert.deepEqual(checkConfiguration("dubbo", JSON.stringify(config)), []);
    const plugin = await host.loadPlugin({ name: "dubbo", wasm: dubboWasm, rootId: "dubbo", configuration: JSON.stringify(config), vmCount: 1 });
    const l = await host.tcpListener({
      direction: side === "outbound" ? "OUTBOUND" : "INBOUND",
      filterChains: [{ name: "dubbo", filters: [mx, plugin], tcpProxy: { cluster: "dubbo-default", ...pairRpcTcpProxy("dubbo") } }],
    });
    return { host, port: l.port, close: () => host.close() };
  }
  const { props } = dubboPerRequestBootstrapProps({ rules, endpoints: { [cluster]: [{ address: "127.0.0.1", port: provider.port }] }, seed: 1, listenPort: 0 });
  const rendered = bootstrap(props);
  for (const [name, c] of renderedClusters(rendered)) host.addCluster(name, c);
  const plugin: Plugin = await host.loadPlugin({ name: "dubbo", wasm: dubboWasm, rootId: "dubbo", configuration: JSON.stringify({ ...config, routing: "request" }), vmCount: 1 });
  const proxy = new DubboProxy(renderedTerminal(rendered, DUBBO_PROXY_FILTER_NAME), host, { random: seededRandom(3) });
  const l = await host.tcpListener({
    direction: side === "outbound" ? "OUTBOUND" : "INBOUND",
    filterChains: [{ name: "dubbo", filters: [mx, plugin], tcpProxy: {}, terminal: proxy.terminal }],
  });
  return { host, port: l.port, close: async () => { await host.close(); await proxy.close(); } };
}

async function thriftRig(side: Side, deployment: "connection" | "request", istio: boolean, server: ThriftPeer): Promise<Rig> {
  const cluster = side === "outbound" ? OUTBOUND : INBOUND;
  const rules = parseRuleSet(ruleSet("thrift", cluster), "shop.yaml");
  const host = new Host({ nodeMetadata: node(side, istio) as never });
  const config = { stat_prefix: "thrift", routing: deployment, transport: "framed", protocol: "binary", seed: 1, rules: (rules.ruleSet.spec as { rules: unknown }).rules, telemetry: TELEMETRY };
  const mx = metadataExchange(side);
  if (deployment === "connection") {
    host.addCluster(cluster, { endpoints: [{ host: "127.0.0.1", port: server.port }] });
    host.addCluster("fallback", { endpoints: [{ host: "127.0.0.1", port: server.port }] });
    assert.deepEqual(checkConfiguration("thrift", JSON.stringify(config)), []);
    const plugin = await host.loadPlugin({ name: "thrift", wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify(config), vmCount: 1 });
    const l = await host.tcpListener({
      direction: side === "outbound" ? "OUTBOUND" : "INBOUND",
      filterChains: [{ name: "thrift", filters: [mx, plugin], tcpProxy: { cluster: "fallback", ...pairRpcTcpProxy("thrift") } }],
    });
    return { host, port: l.port, close: () => host.close() };
  }
  const { props } = thriftPerRequestBootstrapProps({ rules, endpoints: { [cluster]: [{ address: "127.0.0.1", port: server.port }] }, listenPort: 0, seed: 1 });
  const rendered = bootstrap(props);
  for (const [name, c] of renderedClusters(rendered)) host.addCluster(name, c);
  const plugin = await host.loadPlugin({ name: "thrift", wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify({ ...config, routing: "request" }), vmCount: 1 });
  const proxy = new ThriftProxy(renderedTerminal(rendered, THRIFT_PROXY_FILTER_NAME), host, { random: seededRandom(11) });
  const l = await host.tcpListener({
    direction: side === "outbound" ? "OUTBOUND" : "INBOUND",
    filterChains: [{ name: "thrift", filters: [mx, plugin], tcpProxy: {}, terminal: proxy.terminal }],
  });
  return { host, port: l.port, close: async () => { await host.close(); await proxy.close(); } };
}

/** The access log's JSON objects (everything the plugin logged that parses as one). */
function accessLog(host: Host): Array<Record<string, unknown>> {
  return host.logs.filter((e) => e.message.startsWith("{")).map((e) => JSON.parse(e.message) as Record<string, unknown>);
}

for (const deployment of ["connection", "request"] as const) {
  describe(`dubbo calls → Istio's labels (${deployment === "connection" ? "per connection, tcp_proxy" : "per request, dubbo_proxy"})`, () => {
    let provider: DubboPeer;
    before(async () => {
      provider = await startDubboProvider();
    });
    after(async () => {
      await provider?.close();
    });

    for (const side of ["outbound", "inbound"] as const) {
      it(`${side}: every label of every series equals the table; the access log has the call's attributes`, async () => {
        const rig = await dubboRig(side, deployment, false, provider);
        try {
          const c = await DubboConsumer.connect(rig.port);
          try {
            await withTimeout((async () => {
              for (let i = 0; i < 3; i++) assert.equal((await c.call({ service: "com.acme.OrderService", method: "get", arg: String(i), version: "1.0.0" })).status, 20);
              if (side === "outbound") {
                // Per connection only the first call routes; a denied call is refused either way.
                const refused = await c.call({ service: "com.acme.Legacy", method: "list", arg: "x" });
                assert.equal(refused.status, 70);
              }
            })(), 5000, "dubbo calls");
          } finally {
            await c.close();
          }
          const fams = scrape(rig.host);
          const want: Array<[Labels, number]> = [[expected(side, "dubbo", "20"), 3]];
          if (side === "outbound") {
            // Per connection the refused call is on the connection routed to orders; per request
            // its rule routes nowhere: no service (outbound: unknown; the namespace from the peer).
            const refused = expected(side, "dubbo", "70", "UAEX");
            want.unshift([deployment === "connection" ? refused : { ...refused, destination_service: "unknown", destination_service_name: "unknown", destination_service_namespace: "shop" }, 1]);
          }
          const got = series(fams, "istio_requests_total");
          assert.deepEqual(got.sort((a, b) => a[1] - b[1]), want.sort((a, b) => a[1] - b[1]));
          assert.deepEqual(Object.keys(got[0]![0]), [...ISTIO_HTTP_LABELS], "label order");
          const count = family(fams, "istio_request_duration_milliseconds").samples.filter((s) => s.name.endsWith("_count") && s.labels.response_code === "20");
          assert.deepEqual(count.map((s) => s.value), [3]);
          const log = accessLog(rig.host).filter((l) => l["api.operation"] === "get");
          assert.equal(log.length, 3);
          assert.deepEqual({ ...log[0], "response.duration": 0, "request.total_size": 0, "response.total_size": 0 }, {
            "request.id": log[0]!["request.id"],
            "request.protocol": "dubbo",
            "api.service": "com.acme.OrderService",
            "api.operation": "get",
            "api.version": "1.0.0",
            "xds.cluster_name": side === "outbound" ? OUTBOUND : INBOUND,
            "response.code": "20",
            "response.flags": "-",
            "response.duration": 0,
            "request.total_size": 0,
            "response.total_size": 0,
            "source.workload": "web-v1",
            "destination.workload": "orders-v2",
          });
          assert.ok((log[0]!["request.total_size"] as number) > 16 && (log[0]!["response.total_size"] as number) > 16, "frame sizes");
        } finally {
          await rig.close();
        }
      });
    }
  });

  describe(`thrift calls → Istio's labels (${deployment === "connection" ? "per connection, tcp_proxy" : "per request, thrift_proxy"})`, () => {
    let server: ThriftPeer;
    before(async () => {
      server = await startThriftServer("framed-binary");
    });
    after(async () => {
      await server?.close();
    });

    for (const side of ["outbound", "inbound"] as const) {
      it(`${side}: every label of every series equals the table; the access log has the call's attributes`, async () => {
        const rig = await thriftRig(side, deployment, false, server);
        try {
          const c = await thriftClient(rig.port, "framed-binary");
          try {
            await withTimeout((async () => {
              for (let i = 0; i < 2; i++) assert.equal(await c.client.call("Orders:echo", String(i)), `echo:${i}`);
            })(), 5000, "thrift calls");
          } finally {
            c.close();
          }
          const fams = scrape(rig.host);
          const got = series(fams, "istio_requests_total");
          assert.deepEqual(got, [[expected(side, "thrift", "reply"), 2]]);
          assert.deepEqual(Object.keys(got[0]![0]), [...ISTIO_HTTP_LABELS], "label order");
          const log = accessLog(rig.host);
          assert.equal(log.length, 2);
          assert.equal(log[0]!["request.protocol"], "thrift");
          assert.equal(log[0]!["api.service"], "Orders");
          assert.equal(log[0]!["api.operation"], "echo");
          assert.equal(log[0]!["response.code"], "reply");
          assert.equal(log[0]!["xds.cluster_name"], side === "outbound" ? OUTBOUND : INBOUND);
          assert.equal(typeof log[0]!["response.duration"], "number");
        } finally {
          await rig.close();
        }
      });
    }
  });
}

describe("RPC families on an Istio sidecar (metrics: auto)", () => {
  let provider: DubboPeer;
  before(async () => {
    provider = await startDubboProvider();
  });
  after(async () => {
    await provider?.close();
  });

  it("are protomesh_*, beside istio.stats' own istio_* HTTP family, and the scrape parses strictly", async () => {
    const rig = await dubboRig("outbound", "connection", true, provider);
    try {
      const c = await DubboConsumer.connect(rig.port);
      try {
        assert.equal((await withTimeout(c.call({ service: "com.acme.OrderService", method: "get", arg: "1" }), 5000, "dubbo call")).status, 20);
      } finally {
        await c.close();
      }
      // istio.stats' own HTTP families in the same scrape (namespace istiocustom, native tags).
      const istio: PromStat[] = [
        { name: "istiocustom.istio_requests_total", type: "counter", value: 1n, tags: [{ name: "reporter", value: "source" }, { name: "request_protocol", value: "http" }] },
        { name: "istiocustom.istio_request_bytes", type: "histogram", samples: [300n], tags: [{ name: "reporter", value: "source" }] },
      ];
      const fams = scrape(rig.host, istio);
      assert.deepEqual(series(fams, "protomesh_requests_total"), [[expected("outbound", "dubbo", "20"), 1]]);
      assert.equal(family(fams, "istio_requests_total").samples.length, 1, "istio.stats' family alone under Istio's name");
      family(fams, "protomesh_request_duration_milliseconds");
    } finally {
      await rig.close();
    }
  });
});

describe("check handlers refuse RPC calls through the filters' protocol-level answers", () => {
  let provider: DubboPeer;
  let server: ThriftPeer;
  before(async () => {
    provider = await startDubboProvider();
    server = await startThriftServer("framed-binary");
  });
  after(async () => {
    await provider?.close();
    await server?.close();
  });

  /** Per request (dubbo_proxy / thrift_proxy) with the given telemetry section and no routing rule of its own. */
  async function rig(protocol: "dubbo" | "thrift", telemetry: unknown): Promise<Rig> {
    const rules = parseRuleSet(ruleSet(protocol, OUTBOUND), "shop.yaml");
    const host = new Host({ nodeMetadata: node("outbound", false) as never });
    const base = { stat_prefix: protocol, routing: "request", seed: 1, rules: (rules.ruleSet.spec as { rules: unknown }).rules, telemetry };
    const config = protocol === "thrift" ? { ...base, transport: "framed", protocol: "binary" } : base;
    assert.deepEqual(checkConfiguration(protocol, JSON.stringify(config)), []);
    const endpoints = { [OUTBOUND]: [{ address: "127.0.0.1", port: protocol === "dubbo" ? provider.port : server.port }] };
    const rendered = bootstrap(protocol === "dubbo"
      ? dubboPerRequestBootstrapProps({ rules, endpoints, seed: 1, listenPort: 0 }).props
      : thriftPerRequestBootstrapProps({ rules, endpoints, listenPort: 0, seed: 1 }).props);
    for (const [name, c] of renderedClusters(rendered)) host.addCluster(name, c);
    const plugin = await host.loadPlugin({ name: protocol, wasm: protocol === "dubbo" ? dubboWasm : thriftWasm, rootId: protocol, configuration: JSON.stringify(config), vmCount: 2 });
    const proxy = protocol === "dubbo"
      ? new DubboProxy(renderedTerminal(rendered, DUBBO_PROXY_FILTER_NAME), host, { random: seededRandom(3) })
      : new ThriftProxy(renderedTerminal(rendered, THRIFT_PROXY_FILTER_NAME), host, { random: seededRandom(11) });
    const l = await host.tcpListener({ direction: "OUTBOUND", filterChains: [{ name: protocol, filters: [metadataExchange("outbound"), plugin], tcpProxy: {}, terminal: proxy.terminal }] });
    return { host, port: l.port, close: async () => { await host.close(); await proxy.close(); } };
  }

  it("dubbo: a denier on one method and a memquota of 2 calls per minute across both VMs answer Dubbo errors with their messages", async () => {
    const r = await rig("dubbo", {
      handlers: [
        { name: "prometheus", kind: "prometheus" },
        { name: "no_delete", kind: "denier", message: "delete is not allowed" },
        { name: "quota", kind: "memquota", max_amount: 2, valid_duration_ms: 60000, key: ["api.operation"] },
      ],
      rules: [
        { name: "all", handlers: ["prometheus"] },
        { name: "deletes", match: { "api.operation": { exact: "delete" } }, handlers: ["no_delete"] },
        { name: "lists", match: { "api.operation": { exact: "list" } }, handlers: ["quota"] },
      ],
    });
    try {
      const c = await DubboConsumer.connect(r.port);
      try {
        await withTimeout((async () => {
          const denied = await c.call({ service: "com.acme.OrderService", method: "delete", arg: "1" });
          assert.equal(denied.status, 70);
          assert.deepEqual(denied.values, ["delete is not allowed (telemetry rule deletes)"]);
          assert.equal((await c.call({ service: "com.acme.OrderService", method: "list", arg: "1" })).status, 20);
          assert.equal((await c.call({ service: "com.acme.OrderService", method: "list", arg: "2" })).status, 20);
          const limited = await c.call({ service: "com.acme.OrderService", method: "list", arg: "3" });
          assert.equal(limited.status, 100);
          assert.deepEqual(limited.values, ["local_rate_limited (telemetry rule lists)"]);
          assert.equal((await c.call({ service: "com.acme.OrderService", method: "get", arg: "4" })).status, 20);
        })(), 5000, "dubbo calls");
      } finally {
        await c.close();
      }
      assert.deepEqual(provider.requests.slice(-3).map((q) => q.method), ["list", "list", "get"], "refused calls never reach the provider");
      const fams = scrape(r.host);
      const codes = series(fams, "istio_requests_total").map(([l, v]) => `${l.response_code}/${l.response_flags}=${v}`).sort();
      assert.deepEqual(codes, ["100/RL=1", "20/-=3", "70/UAEX=1"]);
      assert.equal(family(fams, "dubbo_handler_no_delete_denied").samples[0]!.value, 1);
      assert.equal(family(fams, "dubbo_handler_quota_limited").samples[0]!.value, 1);
      assert.equal(family(fams, "dubbo_handler_quota_allowed").samples[0]!.value, 2);
    } finally {
      await r.close();
    }
  });

  it("thrift: a list handler (whitelist of methods) answers a TApplicationException with its message", async () => {
    const r = await rig("thrift", {
      handlers: [
        { name: "prometheus", kind: "prometheus" },
        { name: "methods", kind: "list", attribute: "api.operation", entries: ["echo"] },
      ],
      rules: [
        { name: "all", handlers: ["prometheus"] },
        { name: "orders", match: { "api.service": { exact: "Orders" } }, handlers: ["methods"] },
      ],
    });
    try {
      const c = await thriftClient(r.port, "framed-binary");
      try {
        await withTimeout((async () => {
          assert.equal(await c.client.call("Orders:echo", "a"), "echo:a");
          await assert.rejects(c.client.call("Orders:hello", "b"), (e: Error) => e.message === 'api.operation "hello" is not whitelisted (telemetry rule orders)');
          assert.equal(await c.client.call("Orders:echo", "c"), "echo:c");
        })(), 5000, "thrift calls");
      } finally {
        c.close();
      }
      const codes = series(scrape(r.host), "istio_requests_total").map(([l, v]) => `${l.response_code}/${l.response_flags}=${v}`).sort();
      assert.deepEqual(codes, ["exception/UAEX=1", "reply/-=2"]);
    } finally {
      await r.close();
    }
  });
});
