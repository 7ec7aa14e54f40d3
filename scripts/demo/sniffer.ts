/**
 * Part 2 of the demo: protocol sniffing, protomesh's main job (assembly/filters/sniffer).
 *
 * - renders the sniffer `route` config with the controller (Dubbo → cluster `dubbo`, Thrift →
 *   cluster `thrift`, everything else → passthrough), validates it against Envoy's protos;
 * - runs it in the host emulator (the real build/sniffer.wasm, logLevel debug) and sends a real
 *   Dubbo call (hessian.js), a real Apache thrift call (framed + binary) and a real HTTP/1.1
 *   request to the same listener; HTTP arrives through `listener.redirect()` (what an iptables
 *   REDIRECT does), so passthrough reaches the HTTP server, its original destination;
 * - a TLS ClientHello with SNI and ALPN through an `observe` chain;
 * - prints the sniffer's metrics in Prometheus form (tags extracted with the rendered
 *   `stats_tags`, as Envoy does) and its debug lines.
 *
 * Peers are the in-process ones of test/peers (no Debian daemons). Every check that fails is
 * collected and reported at the end; any failure → exit 1.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { EnvoyValidator, formatIssue } from "../../controller/envoy/validate.js";
import { snifferBootstrapProps, UPSTREAM_CLUSTER, type SnifferStandaloneOptions } from "../../controller/sniffer/standalone.js";
import { Host } from "../../test/host/index.js";
import type { Plugin } from "../../test/host/plugin.js";
import type { TcpConnectionRecord, TcpListener } from "../../test/host/tcp.js";
import { dubboInvoke, startDubboProvider } from "../../test/peers/dubbo.js";
import { http1Request, startHttp1Server } from "../../test/peers/http.js";
import type { Closable } from "../../test/peers/listen.js";
import { startThriftServer, thriftEcho } from "../../test/peers/thrift.js";
import { startTlsServer, tlsEcho, TLS_SERVER_NAME } from "../../test/peers/tls.js";
import { fail, fromRendered, printShape, rel, root, section, within, type Rendered } from "./common.js";

/** The route table the demo renders: two RPC protocols to their clusters, the rest passes through. */
const ROUTE_CONFIGURATION = { default_route: "passthrough", mode: "route", routes: { dubbo: "dubbo", thrift: "thrift" } } as const;
const PASSTHROUGH = "PassthroughCluster";

const failures: string[] = [];

function check(ok: boolean, what: string): boolean {
  if (!ok) failures.push(what);
  return ok;
}

const mark = (ok: boolean): string => (ok ? "✓" : "✗");

function filterState(c: TcpConnectionRecord, key: string): string | undefined {
  const v = c.info.filterState.get(key)?.value;
  return v === undefined ? undefined : Buffer.from(v).toString("utf8");
}

/** Renders and validates a sniffer bootstrap; fails the demo when Envoy's protos reject it. */
function render(options: SnifferStandaloneOptions): Rendered {
  const cfg = bootstrap(snifferBootstrapProps(options));
  const issues = EnvoyValidator.shared().validate(cfg);
  if (issues.length > 0) fail(`rendered sniffer ${options.mode} config is invalid:\n${issues.map(formatIssue).join("\n")}`);
  return fromRendered(cfg);
}

/** The rendered clusters as emulator clusters; ORIGINAL_DST must be the built-in PassthroughCluster. */
function emulatorClusters(r: Rendered): Record<string, { endpoints: Array<{ host: string; port: number }> }> {
  const out: Record<string, { endpoints: Array<{ host: string; port: number }> }> = {};
  for (const c of r.clusters) {
    if (c.type === "ORIGINAL_DST") {
      if (c.name !== PASSTHROUGH) fail(`the emulator's original-destination cluster is ${PASSTHROUGH}, the config names ${c.name}`);
      continue;
    }
    out[c.name] = { endpoints: c.endpoints };
  }
  return out;
}

async function loadRendered(host: Host, r: Rendered, name: string): Promise<Plugin> {
  const w = r.wasm[0];
  if (w === undefined || r.wasm.length !== 1) fail(`expected one wasm filter in the rendered chain, found ${r.wasm.length}`);
  const plugin = await within(host.loadPlugin({
    configuration: w.configuration,
    ...w.failure,
    logLevel: "debug",
    name,
    rootId: w.rootId,
    vmCount: 2,
    vmId: w.vmId,
    wasm: w.wasm,
  }), `loading ${name}`);
  console.log(`${name}: ${rel(w.wasm)} loaded (canary VM + ${plugin.vms.length} worker VMs, logLevel debug), configuration ${w.configuration}`);
  return plugin;
}

/** Runs one client against the listener; returns the new connection record once it closed. */
async function oneConnection<T>(listener: TcpListener, what: string, client: () => Promise<T>): Promise<{ reply: T | Error; conn?: TcpConnectionRecord }> {
  const before = listener.connections.length;
  let reply: T | Error;
  try {
    reply = await within(client(), what);
  } catch (e) {
    reply = e instanceof Error ? e : new Error(String(e));
  }
  const conn = listener.connections[before];
  if (conn !== undefined) await within(conn.closed, `${what}: connection to close`).catch(() => {});
  return { conn, reply };
}

interface Tagged {
  readonly name: string;
  readonly tags: Array<[string, string]>;
}

/**
 * Envoy's tag extraction (TagExtractorStdRegexImpl): per stats_tags regex, the second group is the
 * tag's value and the first group is cut out of the name. Prometheus drops the `wasmcustom.`
 * namespace of custom stats (source/server/admin/prometheus_stats.cc `metricName`).
 */
function extractTags(statName: string, statsTags: Rendered["statsTags"]): Tagged {
  const name = statName.replace(/^wasmcustom\./, "");
  const cuts: Array<[number, number]> = [];
  const tags: Array<[string, string]> = [];
  for (const t of statsTags) {
    const m = new RegExp(t.regex, "d").exec(name);
    if (m === null || m.indices === undefined || m[2] === undefined) continue;
    tags.push([t.tagName, m[2]]);
    cuts.push(m.indices[1]!);
  }
  let rest = name;
  for (const [a, b] of cuts.sort((x, y) => y[0] - x[0])) rest = rest.slice(0, a) + rest.slice(b);
  return { name: rest, tags };
}

const prometheus = (t: Tagged, value: bigint): string =>
  `${t.name}${t.tags.length > 0 ? `{${t.tags.map(([k, v]) => `${k}="${v}"`).join(",")}}` : ""} ${value}`;

export async function runSniffer(): Promise<void> {
  const wasmDir = resolve(root, "build");
  if (!existsSync(resolve(wasmDir, "sniffer.wasm"))) fail(`${rel(resolve(wasmDir, "sniffer.wasm"))} is missing; run npm run build (npm run demo does)`);

  const closers: Array<() => Promise<void>> = [];
  const host = new Host();
  try {
    const dubbo = await startDubboProvider();
    closers.push(dubbo.close);
    const thrift = await startThriftServer("framed-binary");
    closers.push(thrift.close);
    const http: Closable = await startHttp1Server();
    closers.push(http.close);
    const tls = await startTlsServer();
    closers.push(tls.close);
    const loopback = (port: number): { address: string; port: number } => ({ address: "127.0.0.1", port });

    section("6. Render the sniffer route config (controller/sniffer)");
    const route = render({
      clusters: [
        { endpoints: [loopback(dubbo.port)], name: "dubbo" },
        { endpoints: [loopback(thrift.port)], name: "thrift" },
      ],
      configuration: ROUTE_CONFIGURATION,
      listenAddress: "127.0.0.1",
      mode: "route",
      upstream: loopback(http.port),
      wasmDir,
    });
    console.log("validated against Envoy's protos (+ overlay): 0 issues");
    printShape(route, {
      [PASSTHROUGH]: "default_route passthrough: HTTP and anything not Dubbo/Thrift",
      [UPSTREAM_CLUSTER]: "the controller's default upstream; no route names it here",
      dubbo: "the demo's hessian.js Dubbo provider",
      thrift: "the demo's Apache thrift server, framed + binary",
    });
    check(route.tcpProxy.upstreamConnectMode === "IMMEDIATE", `route: tcp_proxy upstream_connect_mode is ${route.tcpProxy.upstreamConnectMode}, expected IMMEDIATE`);
    check(route.tcpProxy.maxEarlyDataBytes !== undefined, "route: max_early_data_bytes is not set, so tcp_proxy would disable reads and the sniffer would never see a byte");
    console.log("why: the sniffer holds onNewConnection until it has decided (tcp_proxy reads envoy.tcp_proxy.cluster there);");
    console.log("     max_early_data_bytes keeps reads on meanwhile, and IMMEDIATE connects as soon as it continues, client bytes");
    console.log("     or not, so server-first clients work too (controller/sniffer/pairing.ts)");
    console.log(`stats_tags: ${route.statsTags.map((t) => t.tagName).join(", ")} (turn the sniffer's tagged stat names into Prometheus labels)`);

    section("7. Load build/sniffer.wasm into the host emulator with that config");
    for (const [name, c] of Object.entries(emulatorClusters(route))) host.addCluster(name, c);
    const routePlugin = await loadRendered(host, route, "sniffer-route");
    const listener = await host.tcpListener({ filterChains: [{ filters: [routePlugin], name: "sniffer-route", tcpProxy: route.tcpProxy }] });
    const httpVia = await listener.redirect({ host: "127.0.0.1", port: http.port });
    console.log(`listener up on 127.0.0.1:${listener.port} with the rendered chain: sniffer(route) → tcp_proxy IMMEDIATE + max_early_data_bytes`);
    console.log(`(127.0.0.1:${httpVia} is an iptables-REDIRECT stand-in into the same listener, original destination = HTTP server 127.0.0.1:${http.port})`);

    section("8. Dubbo, Thrift and HTTP/1.1 clients on the same listener");
    const dubboBefore = dubbo.requests.length;
    const thriftBefore = thrift.calls.length;
    const runs: Array<{ client: string; protocol: string; cluster: string; expect: string; got: { reply: string | Error; conn?: TcpConnectionRecord } }> = [
      {
        client: "hessian.js Dubbo consumer: Greeter.sayHello(\"protomesh\")",
        cluster: "dubbo",
        expect: "sayHello:protomesh",
        got: await oneConnection(listener, "dubbo call", () => dubboInvoke(listener.port, "org.protomesh.Greeter", "sayHello", "protomesh")),
        protocol: "dubbo",
      },
      {
        client: "Apache thrift client (framed+binary): Echo.echo(\"hello thrift\")",
        cluster: "thrift",
        expect: "echo:hello thrift",
        got: await oneConnection(listener, "thrift call", () => thriftEcho(listener.port, "framed-binary", "hello thrift")),
        protocol: "thrift",
      },
      {
        client: "node http client: GET /sniffed (via the redirect)",
        cluster: PASSTHROUGH,
        expect: "200 GET /sniffed 0",
        got: await oneConnection(listener, "http request", async () => {
          const r = await http1Request(httpVia, "/sniffed");
          return `${r.status} ${r.body}`;
        }),
        protocol: "http/1.1",
      },
    ];
    for (const r of runs) {
      const c = r.got.conn;
      console.log(`\nconnection ${c?.id ?? "?"}: ${r.client}`);
      if (c === undefined) {
        check(false, `${r.protocol}: no connection reached the listener`);
        console.log("  ✗ no connection reached the listener");
        continue;
      }
      const protocol = filterState(c, "wasm.protomesh.protocol");
      const okProtocol = check(protocol === r.protocol, `${r.protocol} connection: wasm.protomesh.protocol is ${protocol ?? "unset"}, expected ${r.protocol}`);
      const okCluster = check(c.upstreamCluster === r.cluster, `${r.protocol} connection: cluster ${c.upstreamCluster ?? "none"}, expected ${r.cluster}`);
      const reply = r.got.reply instanceof Error ? `error: ${r.got.reply.message}` : JSON.stringify(r.got.reply);
      const okReply = check(r.got.reply === r.expect, `${r.protocol} connection: reply ${reply}, expected ${JSON.stringify(r.expect)}`);
      const written = filterState(c, "envoy.tcp_proxy.cluster");
      const upstream = c.upstreamAddress === undefined ? "-" : `${c.upstreamAddress.host}:${c.upstreamAddress.port}`;
      console.log(`  detected protocol  ${protocol ?? "(none)"} ${mark(okProtocol)}   (filter state wasm.protomesh.protocol)`);
      console.log(`  cluster            ${c.upstreamCluster ?? "(none)"} → ${upstream} ${mark(okCluster)}   (envoy.tcp_proxy.cluster = ${written ?? "unset"})`);
      console.log(`  bytes              client → server ${c.bytesFromDownstream} B, server → client ${c.bytesToDownstream} B`);
      console.log(`  reply              ${reply} ${mark(okReply)}`);
    }
    const dubboServed = dubbo.requests.length - dubboBefore;
    const thriftServed = thrift.calls.length - thriftBefore;
    const httpConn = runs[2]?.got.conn;
    check(dubboServed === 1, `the Dubbo provider served ${dubboServed} requests, expected 1`);
    check(thriftServed === 1, `the thrift server served ${thriftServed} calls, expected 1`);
    check(httpConn?.upstreamAddress?.port === http.port, `passthrough went to ${JSON.stringify(httpConn?.upstreamAddress)}, expected the HTTP server :${http.port}`);
    console.log(`\nservers: Dubbo provider served ${dubboServed} request, thrift server ${thriftServed} call, HTTP reached through passthrough at its original destination :${http.port}`);

    section("9. TLS ClientHello through an observe chain (SNI and ALPN read, nothing held)");
    const observe = render({ listenAddress: "127.0.0.1", mode: "observe", upstream: loopback(tls.port), wasmDir });
    printShape(observe, { [UPSTREAM_CLUSTER]: "the demo's node TLS server (echo)" });
    for (const [name, c] of Object.entries(emulatorClusters(observe))) host.addCluster(name, c);
    const observePlugin = await loadRendered(host, observe, "sniffer-observe");
    const tlsListener = await host.tcpListener({ filterChains: [{ filters: [observePlugin], name: "sniffer-observe", tcpProxy: observe.tcpProxy }] });
    const payload = Buffer.from("hello over tls");
    const t = await oneConnection(tlsListener, "tls echo", () => tlsEcho(tlsListener.port, tls.cert, payload, ["h2", "http/1.1"]));
    if (t.conn === undefined) {
      check(false, "tls: no connection reached the listener");
    } else {
      const protocol = filterState(t.conn, "wasm.protomesh.protocol");
      const sni = filterState(t.conn, "wasm.protomesh.sni");
      const alpn = filterState(t.conn, "wasm.protomesh.alpn");
      const okP = check(protocol === "tls", `tls connection: protocol ${protocol ?? "unset"}, expected tls`);
      const okS = check(sni === TLS_SERVER_NAME, `tls connection: SNI ${sni ?? "unset"}, expected ${TLS_SERVER_NAME}`);
      const okA = check(alpn === "h2,http/1.1", `tls connection: ALPN ${alpn ?? "unset"}, expected h2,http/1.1`);
      const r = t.reply;
      const okR = check(!(r instanceof Error) && r.authorized && r.echoed.equals(payload),
        `tls connection: ${r instanceof Error ? r.message : `authorized=${r.authorized}, echoed ${JSON.stringify(r.echoed.toString())}`}`);
      console.log(`connection ${t.conn.id}: node tls client, servername ${TLS_SERVER_NAME}, ALPN offered h2, http/1.1`);
      console.log(`  detected protocol  ${protocol ?? "(none)"} ${mark(okP)}`);
      console.log(`  SNI                ${sni ?? "(none)"} ${mark(okS)}   (wasm.protomesh.sni)`);
      console.log(`  ALPN               ${alpn ?? "(none)"} ${mark(okA)}   (wasm.protomesh.alpn)`);
      console.log(`  cluster            ${t.conn.upstreamCluster ?? "(none)"} (observe never routes)`);
      console.log(`  bytes              client → server ${t.conn.bytesFromDownstream} B, server → client ${t.conn.bytesToDownstream} B`);
      console.log(`  reply              ${r instanceof Error ? `error: ${r.message}` : `handshake ok (certificate verified: ${r.authorized}, ALPN chosen ${r.alpn}), echoed ${JSON.stringify(r.echoed.toString())}`} ${mark(okR)}`);
    }

    section("10. The sniffer's metrics (Prometheus form, tags extracted by the rendered stats_tags)");
    const stats = host.stats().filter((s) => s.name.includes("protomesh_"));
    if (!check(stats.length > 0, `no protomesh_ stats; stats: ${host.stats().map((s) => s.name).join(", ")}`)) {
      console.log("(none)");
    }
    const shown = stats.map((s) => ({ line: prometheus(extractTags(s.name, route.statsTags), s.value), s }));
    for (const { line, s } of shown) if (s.value !== 0n) console.log(line);
    const zero = shown.filter(({ s }) => s.value === 0n).length;
    if (zero > 0) console.log(`(+ ${zero} series at 0: one connections_total per protocol and mode is defined at on_configure)`);
    const example = stats.find((s) => s.value !== 0n);
    if (example !== undefined) console.log(`as the filter defines it: ${example.name}`);
    const counterOf = (labels: Record<string, string>): bigint =>
      stats.map((s) => ({ t: extractTags(s.name, route.statsTags), v: s.value }))
        .filter(({ t }) => t.name === "protomesh_sniffer_connections_total" && Object.entries(labels).every(([k, v]) => t.tags.some(([tk, tv]) => tk === k && tv === v)))
        .reduce((a, { v }) => a + v, 0n);
    const expected: Array<[Record<string, string>, bigint]> = [
      [{ action: "cluster", mode: "route", protocol: "dubbo" }, 1n],
      [{ action: "cluster", mode: "route", protocol: "thrift" }, 1n],
      [{ action: "passthrough", mode: "route", protocol: "http/1.1" }, 1n],
      [{ action: "observe", mode: "observe", protocol: "tls" }, 1n],
    ];
    for (const [labels, want] of expected) {
      const got = counterOf(labels);
      check(got === want, `protomesh_sniffer_connections_total${JSON.stringify(labels)} is ${got}, expected ${want}`);
    }

    section("11. The sniffer's log lines (logLevel debug: one line per connection)");
    const lines = host.logs.filter((l) => l.plugin.startsWith("sniffer"));
    for (const l of lines) {
      console.log(`[${l.level}] ${l.plugin}${l.vm >= 0 ? ` vm${l.vm}` : " canary"}${l.contextId ? ` ctx${l.contextId}` : ""}: ${l.message}`);
    }
    if (lines.length === 0) console.log("(none)");
    const perConnection = lines.filter((l) => l.level === "debug" && l.message.startsWith("sniffer: protocol="));
    check(perConnection.length === 4, `${perConnection.length} "sniffer: protocol=" debug lines, expected 4 (one per connection)`);
    const errors = host.logs.filter((l) => l.level === "error" || l.level === "critical");
    check(errors.length === 0, `error-level log lines:\n${errors.map((l) => `    ${l.message}`).join("\n")}`);
  } finally {
    await host.close();
    await Promise.all(closers.map((c) => c()));
  }
  if (failures.length > 0) fail(`protocol sniffing: ${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
  console.log("\nsniffer OK: Dubbo → dubbo, Thrift → thrift, HTTP/1.1 → passthrough on one port; TLS SNI/ALPN read; metrics and debug lines above.");
}
