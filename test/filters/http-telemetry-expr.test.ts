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
      attributes: ["request.path", "request.protocol", "response.code", "response.duration", "response.flags", "source.address", "connection.id", "connection.mtls", "reporter"],
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
}

async function run(celParser: boolean): Promise<Traffic> {
  const host = new Host({ nodeMetadata: NODE, celParser });
  const plugin = await host.loadPlugin({ name: "telemetry", wasm, rootId: "http-telemetry", configuration: CONFIG, vmCount: 1, logLevel: "debug" });
  const conns: ConnectionInfo[] = [0, 1, 2].map((i) => ({
    id: host.nextConnectionId(),
    source: { host: `10.0.0.${i + 1}`, port: 40000 + i },
    destination: { host: "10.0.0.9", port: 8080 },
    requestedServerName: "",
    listenerDirection: i === 2 ? ("OUTBOUND" as const) : ("INBOUND" as const),
    filterState: new FilterState(),
    filterChainName: "fc",
  }));
  const factory = plugin.httpFilterFactory();
  const noop = (): void => {};
  for (let i = 0; i < 12; i++) {
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
  plugin.tick();
  return { host, plugin };
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
