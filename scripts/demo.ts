/**
 * protomesh demo, no Envoy needed: renders the Envoy config for the tcp-stats filter with the
 * controller, validates it against Envoy's protos, runs the same deployment in the host emulator
 * (test/host: the real build/tcp-stats.wasm, a real listener, tcp_proxy and a real TCP echo
 * server), sends a few connections through it and prints what happened.
 *
 *   npm run demo            (= npm run build && node --import tsx scripts/demo.ts)
 *
 * Exit code 0 when every connection was echoed in full and the filter reported metrics.
 */
import { existsSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { relative, resolve } from "node:path";
import { bootstrap } from "../controller/envoy/bootstrap.js";
import { standaloneBootstrapProps, UPSTREAM_CLUSTER } from "../controller/envoy/standalone.js";
import { EnvoyValidator, formatIssue } from "../controller/envoy/validate.js";
import { Host } from "../test/host/index.js";

const FILTER = "tcp-stats";
/** Bytes sent on each demo connection (a greeting, a small and a large message). */
const PAYLOADS: ReadonlyArray<{ readonly label: string; readonly bytes: Buffer }> = [
  { label: "greeting", bytes: Buffer.from("hello, protomesh\n") },
  { label: "1 KiB", bytes: Buffer.alloc(1024, 0x2a) },
  { label: "256 KiB", bytes: Buffer.alloc(256 * 1024, 0x2b) },
];
const STEP_TIMEOUT_MS = 10_000;

const root = resolve(new URL("..", import.meta.url).pathname);
const rel = (p: string): string => relative(process.cwd(), p) || ".";

function section(title: string): void {
  console.log(`\n== ${title}`);
}

function fail(message: string): never {
  console.error(`\ndemo FAILED: ${message}`);
  process.exit(1);
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface RenderedWasm {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly wasm: string;
  readonly configuration: string;
  readonly failOpen: boolean;
}

interface RenderedTcpProxy {
  readonly cluster: string;
  readonly upstreamConnectMode?: "IMMEDIATE" | "ON_DOWNSTREAM_DATA";
  readonly maxEarlyDataBytes?: number;
}

/** Reads back from the rendered bootstrap what the emulator needs, so both run one config. */
function fromRendered(cfg: any): { listener: any; wasm: RenderedWasm[]; tcpProxy: RenderedTcpProxy; clusters: any[] } {
  const listener = cfg.static_resources.listeners[0];
  const filters: any[] = listener.filter_chains[0].filters;
  const wasm = filters.filter((f) => f.name === "envoy.filters.network.wasm").map((f): RenderedWasm => {
    const c = f.typed_config.config;
    return {
      configuration: c.configuration.value,
      failOpen: c.fail_open,
      name: c.name,
      rootId: c.root_id,
      vmId: c.vm_config.vm_id,
      wasm: c.vm_config.code.local.filename,
    };
  });
  const tcp = filters[filters.length - 1].typed_config;
  if (tcp.upstream_connect_mode === "ON_DOWNSTREAM_TLS_HANDSHAKE") fail("the emulator has no TLS: ON_DOWNSTREAM_TLS_HANDSHAKE");
  return {
    clusters: cfg.static_resources.clusters,
    listener,
    tcpProxy: { cluster: tcp.cluster, maxEarlyDataBytes: tcp.max_early_data_bytes, upstreamConnectMode: tcp.upstream_connect_mode },
    wasm,
  };
}

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

async function main(): Promise<void> {
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
  console.log(`listener ${r.listener.name} ${r.listener.address.socket_address.address}:${r.listener.address.socket_address.port_value}`);
  for (const w of r.wasm) {
    console.log(`  ├─ envoy.filters.network.wasm  plugin=${w.name} root_id=${w.rootId} vm_id=${w.vmId} fail_open=${w.failOpen}`);
    console.log(`  │    code=${rel(w.wasm)} configuration=${w.configuration}`);
  }
  console.log(`  └─ envoy.filters.network.tcp_proxy → cluster ${r.tcpProxy.cluster}` +
    (r.tcpProxy.upstreamConnectMode === undefined ? " (connects immediately)" : ` (${r.tcpProxy.upstreamConnectMode})`));
  for (const c of r.clusters) {
    const eps = c.load_assignment.endpoints[0].lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
    console.log(`cluster ${c.name} (${c.type}) → ${eps.join(", ")}  [the demo's TCP echo server]`);
  }
  console.log(`(for a real Envoy: envoy/${FILTER}.yaml, docker compose up — see README)`);

  section("2. Load the plugin into the host emulator (test/host)");
  const endpoints = (c: any): Array<{ host: string; port: number }> =>
    c.load_assignment.endpoints[0].lb_endpoints.map((e: any) => ({ host: e.endpoint.address.socket_address.address, port: e.endpoint.address.socket_address.port_value }));
  const host = new Host({ clusters: Object.fromEntries(r.clusters.map((c) => [c.name, { endpoints: endpoints(c) }])) });
  let listener: Awaited<ReturnType<Host["tcpListener"]>> | undefined;
  try {
    const plugins = [];
    for (const w of r.wasm) {
      const plugin = await within(host.loadPlugin({
        configuration: w.configuration,
        failOpen: w.failOpen,
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
    console.log(`\ndemo OK: ${PAYLOADS.length} connections through ${FILTER} → tcp_proxy → echo, metrics above.`);
  } finally {
    await host.close(); // closes the listener too
    await new Promise<void>((res) => echo.close(() => res()));
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.stack ?? err.message : String(err)));
