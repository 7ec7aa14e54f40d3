/**
 * http-telemetry check handlers end to end: real node HTTP clients → the emulated HTTP listener
 * (the filter's wasm, then the router) → a real node HTTP server. Refusals are asserted as the
 * client sees them (status, body, headers) and by what the upstream never received; memquota's
 * rate is measured across two worker VMs sharing one bucket through shared data.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Host, PluginLoadError } from "../host/index.js";
import type { HttpFilterFactory } from "../host/types.js";
import { withTimeout } from "../host/fakes.js";
import { WasmResult } from "../host/abi.js";

const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;
const debugWasm = new URL("../../build/http-telemetry.debug.wasm", import.meta.url).pathname;
const SERVICE = "ratings.bookinfo.svc.cluster.local";

interface Sent {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

function request(port: number, path: string, host = SERVICE): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Istio's metadata exchange leaves the downstream peer on the connection before this filter runs. */
const metadataExchange: HttpFilterFactory = {
  name: "istio.metadata_exchange",
  create: (cb) => ({
    decodeHeaders: () => {
      cb.streamInfo.connection.filterState.set("downstream_peer_obj", {
        value: new Uint8Array(0),
        span: "FilterChain",
        readOnly: false,
        fields: { workload: "productpage-v1", namespace: "bookinfo", cluster: "Kubernetes", service: "productpage", revision: "v1", app: "productpage", version: "v1" },
      });
      return "Continue";
    },
    decodeData: () => "Continue",
    decodeTrailers: () => "Continue",
    encodeHeaders: () => "Continue",
    encodeData: () => "Continue",
    encodeTrailers: () => "Continue",
    onStreamComplete: () => {},
    onDestroy: () => {},
  }),
};

describe("http-telemetry check handlers (denier, list, memquota)", () => {
  let server: http.Server;
  let upPort = 0;
  /** Paths the upstream received. */
  const seen: string[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.url ?? "");
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("hello\n");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    upPort = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function run(configuration: unknown, traffic: (port: number) => Promise<void>, opts: { vmCount?: number; peer?: boolean; debug?: boolean; prepare?: (host: Host) => void } = {}): Promise<Host> {
    seen.length = 0;
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upPort }] } } });
    opts.prepare?.(host);
    try {
      const plugin = await host.loadPlugin({
        name: "http-telemetry", wasm: opts.debug ? debugWasm : wasm, rootId: "http-telemetry", vmCount: opts.vmCount ?? 1, configuration: JSON.stringify(configuration),
      });
      const l = await host.httpListener({ direction: "INBOUND", cluster: "backend", filters: opts.peer ? [metadataExchange, plugin] : [plugin] });
      await traffic(l.port);
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 10000, "requests to complete");
      // The handlers' report counters are batched and written on tick (README "Metrics are flushed on tick").
      plugin.tick();
    } catch (e) {
      await host.close();
      throw e;
    }
    return host;
  }

  it("denier: the client gets the local reply (status, message, the rule's name); the upstream never sees the request", async () => {
    const got: Sent[] = [];
    const host = await run({
      handlers: [{ name: "deny_admin", kind: "denier", status_code: 403, message: "admin is closed" }, { name: "prom", kind: "prometheus" }],
      rules: [{ name: "admin", match: { "request.path": { prefix: "/admin/" } }, handlers: ["deny_admin", "prom"] }, { name: "all", handlers: ["prom"] }],
    }, async (port) => {
      got.push(await request(port, "/admin/users"));
      got.push(await request(port, "/ok"));
    }, { debug: true });
    try {
      assert.equal(got[0]!.status, 403);
      assert.equal(got[0]!.body, "admin is closed\n");
      assert.equal(got[0]!.headers["x-protomesh-rule"], "admin");
      assert.equal(got[1]!.status, 200);
      assert.equal(got[1]!.headers["x-protomesh-rule"], undefined);
      assert.deepEqual(seen, ["/ok"]);
      assert.equal(host.counter("http_telemetry.handler.deny_admin.denied"), 1n);
      assert.equal(host.counter("http_telemetry.handler.deny_admin.allowed"), 0n);
      // The refused request is still reported by the prometheus handler (response_code 403).
      assert.equal(host.counter("http_telemetry.handler.prom.reports"), 2n);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("denier with the default status and message", async () => {
    let got: Sent | undefined;
    const host = await run({ handlers: [{ name: "no", kind: "denier" }] }, async (port) => {
      got = await request(port, "/x");
    });
    try {
      assert.equal(got!.status, 403);
      assert.equal(got!.body, "request denied\n");
      assert.equal(got!.headers["x-protomesh-rule"], "all");
      assert.deepEqual(seen, []);
    } finally {
      await host.close();
    }
  });

  it("a check handler's sampling: requests left out are not checked (and pass), counted", async () => {
    const got: Sent[] = [];
    const host = await run({ handlers: [{ name: "none", kind: "denier", sampling: 0 }, { name: "all", kind: "denier", sampling: 100 }],
      rules: [{ name: "a", match: { "request.path": { exact: "/a" } }, handlers: ["none"] }, { name: "b", match: { "request.path": { exact: "/b" } }, handlers: ["all"] }] }, async (port) => {
      got.push(await request(port, "/a"));
      got.push(await request(port, "/b"));
    });
    try {
      assert.deepEqual(got.map((g) => g.status), [200, 403]);
      assert.equal(host.counter("http_telemetry.handler.none.sampled_out"), 1n);
      assert.equal(host.counter("http_telemetry.handler.none.denied"), 0n);
      assert.equal(host.counter("http_telemetry.handler.all.denied"), 1n);
    } finally {
      await host.close();
    }
  });

  it("list, whitelist: request.host must be listed (exact or prefix); refusals are 403 naming the value", async () => {
    const got: Sent[] = [];
    const host = await run({
      handlers: [{ name: "hosts", kind: "list", attribute: "request.host", entries: [SERVICE, { prefix: "reviews." }] }],
    }, async (port) => {
      got.push(await request(port, "/a", SERVICE));
      got.push(await request(port, "/b", "reviews.bookinfo"));
      got.push(await request(port, "/c", "evil.example"));
      got.push(await request(port, "/d", `${SERVICE}.evil`));
    });
    try {
      assert.deepEqual(got.map((g) => g.status), [200, 200, 403, 403]);
      assert.equal(got[2]!.body, "request.host \"evil.example\" is not whitelisted\n");
      assert.equal(got[2]!.headers["x-protomesh-rule"], "all");
      assert.deepEqual(seen, ["/a", "/b"]);
      assert.equal(host.counter("http_telemetry.handler.hosts.allowed"), 2n);
      assert.equal(host.counter("http_telemetry.handler.hosts.denied"), 2n);
    } finally {
      await host.close();
    }
  });

  it("list, blacklist: the peer's workload from metadata exchange, known at request headers", async () => {
    const got: Sent[] = [];
    const host = await run({
      handlers: [
        { name: "no_pp", kind: "list", attribute: "source.workload", blacklist: true, entries: [{ prefix: "productpage" }] },
        { name: "no_other", kind: "list", attribute: "source.namespace", blacklist: true, entries: ["default"] },
      ],
      rules: [{ name: "writes", match: { "request.path": { prefix: "/w" } }, handlers: ["no_pp"] }, { name: "ns", handlers: ["no_other"] }],
    }, async (port) => {
      got.push(await request(port, "/write"));
      got.push(await request(port, "/read"));
    }, { peer: true });
    try {
      assert.deepEqual(got.map((g) => g.status), [403, 200]);
      assert.equal(got[0]!.body, "source.workload \"productpage-v1\" is blacklisted\n");
      assert.equal(got[0]!.headers["x-protomesh-rule"], "writes");
      assert.deepEqual(seen, ["/read"]);
      // Handlers run in their configured order and the first refusal ends the check.
      assert.equal(host.counter("http_telemetry.handler.no_other.allowed"), 1n);
    } finally {
      await host.close();
    }
  });

  it("memquota: 429 with Envoy local_ratelimit's body and x-ratelimit-* headers; keys past max_keys share the overflow bucket", async () => {
    const got: Sent[] = [];
    const host = await run({
      handlers: [{ name: "q", kind: "memquota", max_amount: 2, valid_duration_ms: 60000, key: ["request.host"], max_keys: 1 }],
    }, async (port) => {
      for (let i = 0; i < 3; i++) got.push(await request(port, `/a${i}`, "one"));
      // A second key is past max_keys: the overflow bucket (full at first use).
      for (let i = 0; i < 3; i++) got.push(await request(port, `/b${i}`, "two"));
    }, { vmCount: 2, debug: true });
    try {
      assert.deepEqual(got.map((g) => g.status), [200, 200, 429, 200, 200, 429]);
      const limited = got[2]!;
      assert.equal(limited.body, "local_rate_limited");
      assert.equal(limited.headers["x-ratelimit-limit"], "2");
      assert.equal(limited.headers["x-ratelimit-remaining"], "0");
      // One token every 30 s: the next is at most 30 s away.
      const reset = Number(limited.headers["x-ratelimit-reset"]);
      assert.ok(reset >= 1 && reset <= 30, `x-ratelimit-reset ${reset}`);
      assert.equal(limited.headers["x-protomesh-rule"], "all");
      assert.equal(host.counter("http_telemetry.handler.q.allowed"), 4n);
      assert.equal(host.counter("http_telemetry.handler.q.limited"), 2n);
      assert.equal(host.counter("http_telemetry.handler.q.key_overflow"), 3n);
    } finally {
      await host.close();
    }
  });

  it("memquota: two worker VMs together stay within 5% of the configured rate", async (t) => {
    const maxAmount = 10;
    const validMs = 250; // 40 per second
    const runMs = 5000;
    let ok = 0;
    let limited = 0;
    let first = 0;
    let lastSent = 0;
    const host = await run({ handlers: [{ name: "q", kind: "memquota", max_amount: maxAmount, valid_duration_ms: validMs }] }, async (port) => {
      first = performance.now();
      const until = first + runMs;
      // Eight clients, a new connection per request: connections alternate between the two VMs.
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async () => {
        while (performance.now() < until) {
          lastSent = performance.now();
          const r = await request(port, "/q");
          if (r.status === 200) ok++;
          else if (r.status === 429) limited++;
          else assert.fail(`status ${r.status}`);
        }
      }));
    }, { vmCount: 2 });
    try {
      // Full at first use, then one token every validMs / maxAmount, from the first request sent
      // to the last (each is checked between its sending and its answer).
      const expected = maxAmount + ((lastSent - first) * maxAmount) / validMs;
      t.diagnostic(`allowed ${ok}, expected ${expected.toFixed(1)}, limited ${limited}`);
      assert.ok(limited > ok / 2, `the load exceeds the quota (ok ${ok}, limited ${limited})`);
      assert.ok(Math.abs(ok - expected) <= expected * 0.05, `allowed ${ok}, expected ${expected.toFixed(1)} ± 5% (limited ${limited})`);
      assert.equal(host.counter("http_telemetry.handler.q.allowed"), BigInt(ok));
      assert.equal(host.counter("http_telemetry.handler.q.limited"), BigInt(limited));
    } finally {
      await host.close();
    }
  });

  it("memquota under lasting CAS contention: 8 rounds, then fail_open lets the request through and fail-closed refuses it", async () => {
    // Another worker wins every race: each set with a cas finds the key rewritten.
    let sets = 0;
    const contended = (host: Host): void => {
      const set = host.sharedData.set.bind(host.sharedData);
      host.sharedData.set = (vmId, key, value, cas) => {
        if (!key.includes(".memquota.")) return set(vmId, key, value, cas);
        sets++;
        if (cas === 0) set(vmId, key, value, cas);
        return WasmResult.CasMismatch;
      };
    };
    const got: Sent[] = [];
    const host = await run({
      handlers: [
        { name: "open", kind: "memquota", max_amount: 5 },
        { name: "closed", kind: "memquota", max_amount: 5, fail_open: false },
      ],
      rules: [{ name: "o", match: { "request.path": { prefix: "/o" } }, handlers: ["open"] }, { name: "c", match: { "request.path": { prefix: "/c" } }, handlers: ["closed"] }],
    }, async (port) => {
      got.push(await request(port, "/o"));
      got.push(await request(port, "/c"));
    }, { prepare: contended, debug: true });
    try {
      assert.equal(sets, 16, "8 CAS rounds per take");
      assert.deepEqual(got.map((g) => g.status), [200, 503]);
      assert.equal(got[1]!.body, "telemetry handler unavailable\n");
      assert.equal(got[1]!.headers["x-protomesh-rule"], "c");
      assert.deepEqual(seen, ["/o"]);
      assert.equal(host.counter("http_telemetry.handler.open.failures"), 1n);
      assert.equal(host.counter("http_telemetry.handler.closed.failures"), 1n);
      assert.equal(host.counter("http_telemetry.fail_closed_denied"), 1n);
    } finally {
      await host.close();
    }
  });

  it("refuses a check handler fed by a rule on a response attribute, naming the rule and the attribute", async () => {
    const host = new Host();
    try {
      const configuration = JSON.stringify({
        handlers: [{ name: "d", kind: "denier" }],
        rules: [{ name: "errors", match: { "response.code": { exact: 500 } }, handlers: ["d"] }],
      });
      await assert.rejects(host.loadPlugin({ name: "http-telemetry", wasm, rootId: "http-telemetry", vmCount: 1, configuration }), PluginLoadError);
      assert.deepEqual(host.logs.filter((l) => l.level === "error").map((l) => l.message), [
        "http-telemetry: invalid configuration: rule \"errors\" feeds check handler \"d\" (decided at request headers) but matches response.code, known only at the end of the request",
      ]);
    } finally {
      await host.close();
    }
  });
});
