/**
 * The runtime choice (docs/adr/0006-minimal-runtime.md): filters are built with AssemblyScript's
 * minimal runtime, whose collector our ABI layer runs at the end of outermost callbacks
 * (assembly/runtime/gc.ts). The release modules must stay within the size goal; the debug
 * modules collect after every callback and poison what they free, so anything a filter keeps
 * only through a raw address (context table, pending list, records) breaks these tests at once.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { BUILD } from "../../tools/harness/drive.js";
import { filterNames, filterSizeGoal } from "../../bench/lib/size-report.js";
import { describe as describeFuzz, runFuzz } from "../../fuzz/run.js";
import { runSnifferFuzz } from "../../fuzz/sniffer.js";
import { Host } from "../host/index.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const snifferDebug = path.join(BUILD, "sniffer.debug.wasm");
const capturesDir = path.join(REPO, "test", "fixtures", "captures");
const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : new TextDecoder().decode(v));

describe("release module size", () => {
  it("every filter's release module is within its size goal (docs/adr/0008-module-size-goals.md)", () => {
    const names = filterNames(REPO);
    assert.ok(names.includes("sniffer") && names.includes("tcp-stats"), names.join(","));
    for (const name of names) {
      const bytes = statSync(path.join(BUILD, `${name}.wasm`)).size;
      const goal = filterSizeGoal(name);
      assert.ok(bytes <= goal, `build/${name}.wasm is ${bytes} bytes, over ${goal}: bench/wasm-size.ts lists its largest functions`);
    }
  });

  it("every filter is built with the minimal runtime (TCMS) and keeps no shadow stack", () => {
    // Release modules carry no names; the debug twin is built with the same runtime and has them.
    for (const name of filterNames(REPO)) {
      const debug = readFileSync(path.join(BUILD, `${name}.debug.wasm`));
      assert.equal(debug.includes("~lib/memory/__stack_pointer"), false, `${name}.debug.wasm has a shadow stack`);
      assert.ok(debug.includes("~lib/rt/tcms/__collect"), `${name}.debug.wasm is not built with the minimal runtime (TCMS)`);
    }
  });
});

describe("collection at safe points (debug modules: every callback, freed memory poisoned)", () => {
  const host = new Host();
  after(() => host.close());
  const captures = readdirSync(capturesDir)
    .filter((f) => f.endsWith(".bin") && /^(http1|redis|tls|postgres|thrift|dubbo)/.test(f))
    .sort()
    .map((f) => ({ name: f.slice(0, -4), bytes: new Uint8Array(readFileSync(path.join(capturesDir, f))) }));
  const expected: ReadonlyArray<[string, string]> = [
    ["http1", "http/1.1"], ["redis", "redis"], ["tls", "tls"], ["postgres", "postgres"], ["thrift", "thrift"], ["dubbo", "dubbo"],
  ];
  const protocolOf = (capture: string): string => expected.find(([p]) => capture.startsWith(p))![1];

  it("the sniffer keeps its records, pooled contexts and pending connections across collections", async () => {
    assert.ok(captures.length >= 6, "captures");
    const routes = Object.fromEntries(expected.map(([, p]) => [p, `c-${p.replace(/[/.]/g, "_")}`]));
    const plugin = await host.loadPlugin({
      name: "gc-sniffer", wasm: snifferDebug, rootId: "sniffer", vmCount: 1, logLevel: "info",
      configuration: JSON.stringify({ mode: "route", detect_timeout_ms: 300, routes: { ...routes, tcp: "slow" } }),
    });
    // Connections left pending (an undecided first byte) while others open, decide, close and
    // are pooled; each of their callbacks ends in a collection.
    const pending: ReturnType<typeof host.connection>[] = Array.from({ length: 5 }, () => {
      const conn = host.connection({ filters: [plugin] });
      assert.equal(conn.newConnection(), "StopIteration");
      assert.equal(conn.downstreamData(Uint8Array.of(0x47)), "StopIteration");
      return conn;
    });
    // Two of them close while pending: unlinked from the list before their contexts are deleted.
    for (const conn of pending.splice(0, 2)) conn.close("Remote");
    for (let round = 0; round < 3; round++) {
      for (const c of captures) {
        const conn = host.connection({ filters: [plugin] });
        conn.newConnection();
        conn.downstreamData(c.bytes);
        const want = protocolOf(c.name);
        assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), want, `${c.name} round ${round}`);
        assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), routes[want], c.name);
        assert.deepEqual(conn.forwarded, c.bytes, c.name);
        conn.close("Remote");
      }
    }
    // The pending list still links live contexts: the timeout decides each of them.
    for (let i = 0; i < 4; i++) plugin.tick();
    for (const conn of pending) {
      assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
      assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), "slow");
      conn.close("Remote");
    }
    assert.equal(host.counter("mode=.=route;.;protomesh_sniffer_timeouts_total"), 3n);
    assert.deepEqual(host.logs.filter((l) => l.level === "error" || l.level === "critical" || l.level === "warn"), []);
  });

  it("the sniffer fuzz in every mode: no trap, memory flat, every connection counted once", async () => {
    for (const { mode, result, books } of await runSnifferFuzz({ seed: 6, iterations: 600, filter: snifferDebug })) {
      assert.equal(result.failure, undefined, result.failure && describeFuzz(result));
      assert.equal(result.errorLogs, 0, `${mode}: ${result.errorSamples.join(" | ")}`);
      assert.ok(result.pagesEnd <= result.pagesWarm + 2, mode);
      assert.equal(books.counted, BigInt(result.connections), mode);
    }
  });

  it("tcp-stats counts every byte with a collection after every callback", async () => {
    const r = await runFuzz({ seed: 6, iterations: 300, filter: path.join(BUILD, "tcp-stats.debug.wasm") });
    assert.equal(r.failure, undefined, r.failure && describeFuzz(r));
    const stat = (name: string) => r.stats.find((s) => s.name === `wasmcustom.tcp_stats.${name}`)?.value;
    assert.equal(stat("connections_closed"), 300n);
    assert.equal(stat("received_bytes"), BigInt(r.inputBytes));
    assert.equal(stat("sent_bytes"), BigInt(r.upstreamBytes));
  });
});

describe("collection in release modules", () => {
  it("the sniffer's memory stays flat over 6,000 connections (Envoy never calls __collect)", async () => {
    for (const { mode, result } of await runSnifferFuzz({ seed: 42, iterations: 6000 })) {
      assert.equal(result.failure, undefined, result.failure && describeFuzz(result));
      assert.ok(result.pagesEnd <= result.pagesWarm + 2, `${mode}: ${result.pagesWarm} → ${result.pagesEnd} pages`);
    }
  });
});
