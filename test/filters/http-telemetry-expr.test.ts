/**
 * http-telemetry's two read paths give the same attributes: one CEL evaluation per request
 * (expr_evaluate; the connection's attributes by one more on its first request) when the host
 * has Envoy's CEL foreign functions, property reads when it has not (an Envoy built without
 * WASM_USE_CEL_PARSER: Windows). The same traffic through both must render the same Prometheus
 * text and the same access-log lines, and each path says once which one it is.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host, type Plugin } from "../host/index.js";
import { FilterState, type ConnectionInfo, type HeaderList, type HttpFilterCallbacks } from "../host/types.js";
import { prometheusText } from "../host/prometheus.js";
import { httpStatsTags } from "../../controller/telemetry/stats-tags.js";

const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;

const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: { app: "ratings", version: "v1" },
};

const CONFIG = JSON.stringify({
  handlers: [
    { name: "prom", kind: "prometheus" },
    {
      name: "log",
      kind: "accesslog",
      attributes: ["request.path", "request.protocol", "response.code", "response.duration", "response.flags", "source.address", "connection.id", "connection.mtls", "reporter", "source.workload", "source.app", "destination.workload", "destination.version"],
    },
  ],
  rules: [
    { name: "all", handlers: ["prom"] },
    { name: "failures", match: { "response.flags": { exact: "UF" } }, handlers: ["log"] },
    { name: "from_a", match: { "source.address": { prefix: "10.0.0.1:" } }, handlers: ["log"] },
  ],
});

interface Traffic {
  readonly host: Host;
  readonly plugin: Plugin;
  /** Host calls by ABI function name made while the traffic ran (not while loading). */
  readonly calls: ReadonlyMap<string, number>;
}

/**
 * Loads the plugin with every import counted (the emulator instantiates each VM with
 * `new WebAssembly.Instance`; the constructor is wrapped only while this plugin loads).
 */
async function loadCounting(host: Host, calls: Map<string, number>, counting: { on: boolean }): Promise<Plugin> {
  const original = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(original, {
    construct(target, args: [WebAssembly.Module, WebAssembly.Imports?]) {
      const wrapped: WebAssembly.Imports = {};
      for (const [ns, fns] of Object.entries(args[1] ?? {})) {
        wrapped[ns] = Object.fromEntries(
          Object.entries(fns).map(([name, fn]) => [
            name,
            typeof fn !== "function"
              ? fn
              : (...a: unknown[]) => {
                  if (counting.on) calls.set(name, (calls.get(name) ?? 0) + 1);
                  return (fn as (...x: unknown[]) => unknown)(...a);
                },
          ]),
        );
      }
      return new target(args[0], wrapped);
    },
  });
  try {
    return await host.loadPlugin({ name: "telemetry", wasm, rootId: "http-telemetry", configuration: CONFIG, vmCount: 1, logLevel: "debug" });
  } finally {
    WebAssembly.Instance = original;
  }
}

async function run(celParser: boolean): Promise<Traffic> {
  const host = new Host({ nodeMetadata: NODE, celParser });
  const calls = new Map<string, number>();
  const counting = { on: false };
  const plugin = await loadCounting(host, calls, counting);
  const conns: ConnectionInfo[] = [0, 1, 2].map((i) => ({
    id: host.nextConnectionId(),
    source: { host: `10.0.0.${i + 1}`, port: 40000 + i },
    destination: { host: "10.0.0.9", port: 8080 },
    requestedServerName: "",
    listenerDirection: i === 2 ? ("OUTBOUND" as const) : ("INBOUND" as const),
    filterState: new FilterState(),
    filterChainName: "fc",
  }));
  // Metadata exchange's peer objects: inbound on connection 0 (all fields) and, from its fifth
  // request on, connection 1 (some fields: the rest stay unknown); outbound on connection 2.
  const peer = (fields: Record<string, string>) => ({ value: new Uint8Array(0), span: "FilterChain" as const, readOnly: false, fields });
  conns[0]!.filterState.set("downstream_peer_obj", peer({ workload: "productpage-v1", namespace: "bookinfo", cluster: "Kubernetes", service: "productpage", revision: "v1", app: "productpage", version: "v1" }));
  conns[2]!.filterState.set("upstream_peer_obj", peer({ workload: "reviews-v2", namespace: "bookinfo", app: "reviews", version: "v2" }));
  const factory = plugin.httpFilterFactory();
  counting.on = true;
  const noop = (): void => {};
  for (let i = 0; i < 12; i++) {
    if (i === 4) conns[1]!.filterState.set("downstream_peer_obj", peer({ workload: "details-v1", app: "details" }));
    const callbacks: HttpFilterCallbacks = {
      streamInfo: {
        connection: conns[i % 3]!,
        filterState: new FilterState(),
        responseCode: i % 4 === 0 ? 503 : 200,
        responseFlags: i % 4 === 0 ? ["UpstreamConnectionFailure"] : undefined,
      },
      continueDecoding: noop,
      continueEncoding: noop,
      sendLocalReply: noop,
      decodingBuffer: () => undefined,
      encodingBuffer: () => undefined,
    };
    const f = factory.create(callbacks)!;
    const req: HeaderList = [[":authority", "ratings.bookinfo.svc.cluster.local"], [":path", `/r/${i}`], [":method", "GET"], ["x-request-id", `id-${i}`]];
    f.decodeHeaders(req, true);
    f.encodeHeaders([[":status", i % 4 === 0 ? "503" : "200"]], false);
    f.encodeData({ bytes: new Uint8Array(10 + i) }, true);
    callbacks.streamInfo.requestCompleteNs = BigInt(i) * 7_000_000n + 123n;
    f.onStreamComplete();
    f.onDestroy();
  }
  counting.on = false;
  plugin.tick();
  return { host, plugin, calls };
}

const hosts: Host[] = [];
after(async () => {
  for (const h of hosts) await h.close();
});

describe("http-telemetry read paths", () => {
  it("the CEL path and the property-read path report byte-identical metrics and access-log lines", async () => {
    const cel = await run(true);
    const props = await run(false);
    hosts.push(cel.host, props.host);
    const lines = (t: Traffic) => t.host.logs.filter((e) => e.plugin === "telemetry" && e.level === "info").map((e) => e.message);
    const celLines = lines(cel);
    // Requests 0, 4, 8 (UF) and 0, 3, 6, 9 (from 10.0.0.1).
    assert.equal(celLines.length, 6, celLines.join("\n"));
    assert.deepEqual(celLines, lines(props));
    // The values came through: flags, the duration, the address, both directions.
    const parsed = celLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(parsed.some((p) => p["response.flags"] === "UF" && p["response.code"] === 503));
    assert.ok(parsed.some((p) => p["response.duration"] === 56));
    assert.ok(parsed.some((p) => p["source.address"] === "10.0.0.1:40000"));
    assert.ok(parsed.some((p) => p.reporter === "source") && parsed.some((p) => p.reporter === "destination"));
    // The peers metadata exchange left: inbound the source, outbound the destination.
    assert.ok(parsed.some((p) => p["source.workload"] === "productpage-v1" && p["source.app"] === "productpage"));
    assert.ok(parsed.some((p) => p["source.workload"] === "details-v1"), celLines.join("\n"));
    assert.ok(parsed.some((p) => p.reporter === "source" && p["destination.workload"] === "reviews-v2" && p["destination.version"] === "v2"));
    // The CEL run read everything by evaluations: per request one, per connection one, per peer
    // lookup one (connection 0's peer once, connection 1's twice, connection 2's every request).
    assert.equal(cel.calls.get("proxy_get_property"), undefined);
    assert.equal(cel.calls.get("proxy_call_foreign_function"), 12 + 3 + (1 + 2 + 4));
    assert.equal(props.calls.get("proxy_call_foreign_function"), undefined);
    assert.ok((props.calls.get("proxy_get_property") ?? 0) > 12 * 3);
    const text = (t: Traffic) => prometheusText(t.host, { statsTags: httpStatsTags() });
    assert.match(text(cel), /istio_requests_total\{[^}]*response_flags="UF"/);
    assert.equal(text(cel), text(props));
  });

  it("says which path it uses (once per VM): debug for CEL, a warning naming expr_create's answer otherwise", async () => {
    const cel = await run(true);
    const props = await run(false);
    hosts.push(cel.host, props.host);
    const said = (t: Traffic, level: string) => t.host.logs.filter((e) => e.plugin === "telemetry" && e.level === level && e.message.includes("request attributes read by")).map((e) => e.message);
    // The emulator, like Envoy, configures the plugin on more than one VM: one line per VM.
    const celSaid = said(cel, "debug");
    assert.ok(celSaid.length >= 1);
    assert.deepEqual(new Set(celSaid), new Set(["http-telemetry: request attributes read by one CEL expression per request (expr_evaluate)"]));
    assert.deepEqual(said(cel, "warn"), []);
    const propsSaid = said(props, "warn");
    assert.equal(propsSaid.length, celSaid.length);
    assert.deepEqual(new Set(propsSaid), new Set(["http-telemetry: request attributes read by property reads, two more host calls per request (expr_create answered status=1)"]));
    assert.deepEqual(said(props, "debug"), []);
  });
});
