/**
 * Part 1 of the demo: renders the Envoy config for the tcp-stats filter with the controller,
 * validates it against Envoy's protos, runs the same deployment in the host emulator (test/host:
 * the real build/tcp-stats.wasm, a real listener, tcp_proxy and a real TCP echo server), sends a
 * few connections through it and prints what happened. Exits 1 (fail) on any mismatch.
 */
import { existsSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { resolve } from "node:path";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { standaloneBootstrapProps, UPSTREAM_CLUSTER } from "../../controller/envoy/standalone.js";
import { EnvoyValidator, formatIssue } from "../../controller/envoy/validate.js";
import { Host } from "../../test/host/index.js";
import { fail, fromRendered, printShape, rel, root, section, within } from "./common.js";

const FILTER = "tcp-stats";
/** Bytes sent on each demo connection (a greeting, a small and a large message). */
const PAYLOADS: ReadonlyArray<{ readonly label: string; readonly bytes: Buffer }> = [
  { label: "greeting", bytes: Buffer.from("hello, protomesh\n") },
  { label: "1 KiB", bytes: Buffer.alloc(1024, 0x2a) },
  { label: "256 KiB", bytes: Buffer.alloc(256 * 1024, 0x2b) },
];

async function startEcho(): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  return server;
}

/** Sends `payload`, reads until it all came back, then closes. Returns bytes echoed and time. */
function roundTrip(port: number, payload: Buffer): Promise<{ echoed: number; ms: number }> {
  const started = performance.now();
  return within(new Promise((res, rej) => {
    let echoed = 0;
    const s = connect({ host: "127.0.0.1", port }, () => s.write(payload));
    s.on("data", (d: Buffer) => {
      echoed += d.length;
      if (echoed >= payload.length) s.end();
    });
    s.on("close", () => res({ echoed, ms: performance.now() - started }));
    s.on("error", rej);
  }), `connection sending ${payload.length} bytes`);
}

export async function runTcpStats(): Promise<void> {
  const wasmDir = resolve(root, "build");
  const wasmFile = resolve(wasmDir, `${FILTER}.wasm`);
  if (!existsSync(wasmFile)) fail(`${rel(wasmFile)} is missing; run npm run build (npm run demo does)`);

  const echo = await startEcho();
  const echoPort = (echo.address() as { port: number }).port;

  section(`1. Render the Envoy config for ${FILTER} (controller/envoy)`);
  const cfg = bootstrap(standaloneBootstrapProps({
    filter: FILTER,
    listenAddress: "127.0.0.1",
    upstream: { address: "127.0.0.1", port: echoPort },
    wasmDir,
  }));
  const issues = EnvoyValidator.shared().validate(cfg);
  if (issues.length > 0) fail(`rendered config is invalid:\n${issues.map(formatIssue).join("\n")}`);
  const r = fromRendered(cfg);
  console.log(`validated against Envoy's protos (+ overlay): 0 issues`);
  printShape(r, { [UPSTREAM_CLUSTER]: "the demo's TCP echo server" });
  console.log(`(for a real Envoy: envoy/${FILTER}.yaml, docker compose up — see README)`);

  section("2. Load the plugin into the host emulator (test/host)");
  const host = new Host({ clusters: Object.fromEntries(r.clusters.map((c) => [c.name, { endpoints: c.endpoints }])) });
  let listener: Awaited<ReturnType<Host["tcpListener"]>> | undefined;
  try {
    const plugins = [];
    for (const w of r.wasm) {
      const plugin = await within(host.loadPlugin({
        configuration: w.configuration,
        ...w.failure,
        name: w.name,
        rootId: w.rootId,
        vmCount: 2,
        vmId: w.vmId,
        wasm: w.wasm,
      }), `loading ${w.name}`);
      console.log(`${w.name}: canary VM + ${plugin.vms.length} worker VMs started` +
        `, memory ${plugin.vms.map((vm) => `${vm.memoryPages() * 64} KiB`).join(" / ")}`);
      plugins.push(plugin);
    }
    listener = await host.tcpListener({ filterChains: [{ filters: plugins, tcpProxy: r.tcpProxy }] });
    console.log(`listener up on 127.0.0.1:${listener.port} (a free port instead of the rendered 10000) with the rendered chain: ` +
      `${r.wasm.map((w) => w.name).join(" → ")} → tcp_proxy → cluster ${UPSTREAM_CLUSTER} (127.0.0.1:${echoPort})`);

    section("3. Send real traffic through it");
    let ok = true;
    for (const [i, p] of PAYLOADS.entries()) {
      const { echoed, ms } = await roundTrip(listener.port, p.bytes);
      const good = echoed === p.bytes.length;
      ok &&= good;
      console.log(`connection ${i + 1}: sent ${p.bytes.length} B (${p.label}), echoed ${echoed} B in ${ms.toFixed(1)} ms ${good ? "✓" : "✗ MISMATCH"}`);
    }
    await within(Promise.all(listener.connections.map((c) => c.closed)), "closing the connections");
    const sent = PAYLOADS.reduce((a, p) => a + p.bytes.length, 0);
    console.log(`total: ${PAYLOADS.length} connections, ${sent} B each way`);

    section("4. What the filter reported (its metrics, read from the host)");
    const metrics = host.metrics().filter((m) => m.name.includes("tcp_stats"));
    if (metrics.length === 0) fail(`${FILTER} defined no metrics (host.metrics() has none with "tcp_stats" in the name)`);
    const width = Math.max(...metrics.map((m) => m.name.length));
    for (const m of metrics) {
      console.log(`${m.name.padEnd(width)}  ${m.type.padEnd(9)}  ${m.value}${m.type === "histogram" ? " samples" : ""}`);
    }
    // What tcp-stats must have counted for the traffic above (assembly/filters/tcp-stats).
    const expected: ReadonlyArray<readonly [string, bigint | undefined, number]> = [
      ["tcp_stats.connections_opened", host.counter("tcp_stats.connections_opened"), PAYLOADS.length],
      ["tcp_stats.connections_closed", host.counter("tcp_stats.connections_closed"), PAYLOADS.length],
      ["tcp_stats.connections_active", host.gauge("tcp_stats.connections_active"), 0],
      ["tcp_stats.received_bytes", host.counter("tcp_stats.received_bytes"), sent],
      ["tcp_stats.sent_bytes", host.counter("tcp_stats.sent_bytes"), sent],
    ];
    const wrong = expected.filter(([, got, want]) => got !== BigInt(want));
    if (wrong.length > 0) {
      fail(`metrics disagree with the traffic sent:\n${wrong.map(([n, got, want]) => `  ${n}: ${got ?? "undefined"}, expected ${want}`).join("\n")}`);
    }
    console.log(`✓ ${expected.map(([n]) => n.slice("tcp_stats.".length)).join(", ")} match the traffic sent`);
    for (const c of listener.connections) {
      console.log(`emulator view of connection ${c.id}: ${c.bytesFromDownstream} B in, ${c.bytesToDownstream} B out, ` +
        `cluster ${c.upstreamCluster ?? "-"}, response flags ${c.responseFlags.join(",") || "none"}`);
    }

    section("5. Log lines (last few, plugin and host)");
    for (const l of host.logs.slice(-6)) {
      console.log(`[${l.level}] ${l.plugin || "host"}${l.vm >= 0 ? ` vm${l.vm}` : l.plugin ? " canary" : ""}${l.contextId ? ` ctx${l.contextId}` : ""}: ${l.message}`);
    }
    if (host.logs.length === 0) console.log("(nothing logged: tcp-stats logs only errors, and there were none)");
    const first = listener.connections[0];
    if (first !== undefined) console.log(`data-plane events of connection ${first.id}: ${first.events.join(" → ")}`);
    const errors = host.logs.filter((l) => l.level === "error" || l.level === "critical");
    if (errors.length > 0) fail(`error-level log lines:\n${errors.map((l) => `  ${l.message}`).join("\n")}`);
    if (!ok) fail("some connections were not echoed in full");
    console.log(`\ntcp-stats OK: ${PAYLOADS.length} connections through ${FILTER} → tcp_proxy → echo, metrics above.`);
  } finally {
    await host.close(); // closes the listener too
    await new Promise<void>((res) => echo.close(() => res()));
  }
}

