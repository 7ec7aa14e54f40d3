/**
 * `npm run bench` section "HTTP telemetry": build/http-telemetry.wasm driven through the host's
 * HTTP filter path without sockets, the way the emulator's HTTP stream (test/host/http.ts) calls
 * a filter: create, decodeHeaders, encodeHeaders, encodeData, onStreamComplete (proxy_on_log),
 * onDestroy (proxy_on_done, proxy_on_delete). Against the HTTP null filter in the same rounds.
 *
 * - ns per request: null, prometheus alone, prometheus + accesslog, every adapter together
 *   (prometheus, accesslog, denier, list, memquota), interleaved rounds.
 * - host calls per request: a second copy of each plugin whose imports are wrapped to count calls
 *   per ABI function name, split into the request callbacks and the flush on tick; prometheus alone
 *   also on a host without Envoy's CEL foreign functions (a Windows build: the property-read path).
 * - memory over 10^6 requests after the timed rounds (the warm-up), judged as the fuzz harness
 *   judges it (fuzz/run.ts memoryVerdict): pages, when they last grew, and the heap's used-bytes
 *   floor after each flush in the first and the second half.
 *
 * Timings are printed, never judged in tests; the host-call goal is printed PASS/MISS.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Host } from "../test/host/index.js";
import { FilterState, type ConnectionInfo, type HeaderList, type HttpFilterCallbacks, type HttpFilterFactory } from "../test/host/types.js";
import { BUILD, pluginFailed, pluginPages, type Plugin } from "../tools/harness/drive.js";
import { ns, ratio, table } from "../tools/harness/markdown.js";
import { measureInterleaved, type Sample } from "./lib/stats.js";
import { FLOOR_SLACK_BYTES, memoryVerdict } from "../fuzz/run.js";
import { findRoot, heapBase, heapStats } from "../fuzz/heap.js";

export const TELEMETRY_HEADING = "## HTTP telemetry (issue 9)";
/** Issue 9: host calls per request for the prometheus adapter alone. */
export const TELEMETRY_HOST_CALL_GOAL = 3;
/** Requests between two on_tick calls in every timed and counted run (a flush per tick). */
export const REQUESTS_PER_TICK = 1000;
/** Keep-alive connections the requests are spread over (round robin). */
const CONNECTIONS = 64;

export const COMPETITORS = {
  null: { wasm: "fixtures/null.wasm", rootId: "null", configuration: "" },
  prometheus: {
    wasm: "http-telemetry.wasm",
    rootId: "http-telemetry",
    configuration: '{"handlers":[{"name":"prom","kind":"prometheus"}]}',
  },
  "prometheus+accesslog": {
    wasm: "http-telemetry.wasm",
    rootId: "http-telemetry",
    configuration: '{"handlers":[{"name":"prom","kind":"prometheus"},{"name":"log","kind":"accesslog"}]}',
  },
  // Every adapter on every request: the checks run and allow (the denier's rule never matches, the
  // list allows the bench's user agent, the quota is never exhausted), then both reports.
  "all adapters": {
    wasm: "http-telemetry.wasm",
    rootId: "http-telemetry",
    configuration: JSON.stringify({
      handlers: [
        { name: "prom", kind: "prometheus" },
        { name: "log", kind: "accesslog" },
        { name: "closed", kind: "denier" },
        { name: "agents", kind: "list", attribute: "request.useragent", entries: [{ prefix: "bench/" }] },
        { name: "quota", kind: "memquota", max_amount: 1_000_000_000, valid_duration_ms: 1000, key: ["request.useragent"] },
      ],
      rules: [
        { name: "all", handlers: ["prom", "log", "agents", "quota"] },
        { name: "admin", match: { "request.path": { prefix: "/admin/" } }, handlers: ["closed"] },
      ],
    }),
  },
} as const;
export type Competitor = keyof typeof COMPETITORS;
const NAMES = Object.keys(COMPETITORS) as Competitor[];

export interface TelemetryOptions {
  readonly rounds: number;
  /** Requests per timed round, per competitor. */
  readonly iterations: number;
  /** Requests counted for host calls (after a warm-up of every connection). */
  readonly countedRequests: number;
  /** Requests of the memory run, per competitor. */
  readonly memoryRequests: number;
}

export const DEFAULT_TELEMETRY_OPTIONS: TelemetryOptions = {
  rounds: 9,
  iterations: 20_000,
  countedRequests: 10_000,
  memoryRequests: 1_000_000,
};

export interface HostCalls {
  /** Calls per request made from the request callbacks, by ABI function name. */
  readonly request: Readonly<Record<string, number>>;
  /** Calls per request made from on_tick (the metric flush), by ABI function name. */
  readonly tick: Readonly<Record<string, number>>;
  readonly requestTotal: number;
  readonly tickTotal: number;
}

/** Memory over TelemetryOptions.memoryRequests requests after the timed rounds. */
export interface MemoryRun {
  readonly requests: number;
  readonly pagesWarm: number;
  readonly pagesEnd: number;
  /** Requests done when the memory last grew (undefined: it never did). */
  readonly lastGrowth?: number;
  /** Lowest heap used bytes right after a flush, in the first and the second half of the run. */
  readonly floorFirst?: number;
  readonly floorSecond?: number;
  /** memoryVerdict's finding; undefined = flat. */
  readonly verdict?: string;
}

export interface TelemetryRow {
  readonly competitor: Competitor;
  readonly time: Sample;
  readonly calls: HostCalls;
  readonly pagesWarm: number;
  readonly pagesEnd: number;
  readonly memory: MemoryRun;
}

export interface TelemetryReport {
  readonly rows: readonly TelemetryRow[];
  readonly options: TelemetryOptions;
  /** Prometheus alone: request-path host calls ≤ the goal. */
  readonly goalPass: boolean;
  /** Prometheus alone on a host without expr_create (the property-read path). */
  readonly fallback: HostCalls;
  /** Every competitor's memory was flat over the run. */
  readonly memoryFlat: boolean;
}

/** One HTTP/1.1 keep-alive request as an inbound sidecar sees it. */
const REQUEST_IDS = Array.from({ length: 256 }, (_, i) => `6f1c0d2e-8b1a-4c3e-9d7f-${i.toString(16).padStart(12, "0")}`);
function requestHeaders(i: number): HeaderList {
  return [
    [":authority", "web.shop.svc.cluster.local:8080"],
    [":path", `/api/v1/items/${i & 1023}`],
    [":method", "GET"],
    [":scheme", "http"],
    ["user-agent", "bench/1.0"],
    ["accept", "*/*"],
    ["x-forwarded-proto", "http"],
    ["x-request-id", REQUEST_IDS[i & 255]!],
  ];
}
const RESPONSE_HEADERS: HeaderList = [
  [":status", "200"],
  ["content-type", "application/json"],
  ["content-length", "128"],
  ["x-envoy-upstream-service-time", "1"],
];
const RESPONSE_BODY = new Uint8Array(128).fill(0x61);

function connections(host: Host): ConnectionInfo[] {
  return Array.from({ length: CONNECTIONS }, (_, i) => ({
    id: host.nextConnectionId(),
    source: { host: "10.0.0.1", port: 40000 + i },
    destination: { host: "10.0.0.2", port: 8080 },
    requestedServerName: "",
    listenerDirection: "INBOUND" as const,
    filterState: new FilterState(),
    filterChainName: "bench",
  }));
}

/**
 * A driver of `n` requests through one plugin's HTTP filter, as test/host/http.ts's stream calls
 * it (no body on the request, a 128-byte response body), on_tick every REQUESTS_PER_TICK requests.
 */
function driver(host: Host, plugin: Plugin, factory: HttpFilterFactory, conns: ConnectionInfo[]): (n: number) => void {
  let seq = 0;
  const noop = (): void => {};
  return (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = seq++;
      const callbacks: HttpFilterCallbacks = {
        streamInfo: { connection: conns[i % conns.length]!, filterState: new FilterState(), startNs: process.hrtime.bigint() },
        continueDecoding: noop,
        continueEncoding: noop,
        sendLocalReply: noop,
        decodingBuffer: () => undefined,
        encodingBuffer: () => undefined,
      };
      const f = factory.create(callbacks);
      if (f === undefined) throw new Error(`${factory.name}: no filter (VM failed)`);
      f.decodeHeaders(requestHeaders(i), true);
      f.encodeHeaders(RESPONSE_HEADERS, false);
      f.encodeData({ bytes: RESPONSE_BODY }, true);
      // test/host/http.ts: StreamInfo::onRequestComplete before on_log.
      callbacks.streamInfo.requestCompleteNs = process.hrtime.bigint() - callbacks.streamInfo.startNs!;
      f.onStreamComplete();
      f.onDestroy();
      if (seq % REQUESTS_PER_TICK === 0) {
        plugin.tick();
        // The access log lines: Envoy writes them out; the emulator keeps them, so drop them.
        host.logs.length = 0;
      }
    }
  };
}

/** Host-call counts by ABI function name, switched between phases by the driver. */
class CallCounter {
  phase: "request" | "tick" | "off" = "off";
  readonly request = new Map<string, number>();
  readonly tick = new Map<string, number>();

  wrap(imports: WebAssembly.Imports): WebAssembly.Imports {
    const out: WebAssembly.Imports = {};
    for (const [ns, fns] of Object.entries(imports)) {
      const wrapped: Record<string, WebAssembly.ImportValue> = {};
      for (const [name, fn] of Object.entries(fns)) {
        if (typeof fn !== "function") {
          wrapped[name] = fn;
          continue;
        }
        wrapped[name] = (...args: unknown[]) => {
          if (this.phase !== "off") {
            const m = this.phase === "request" ? this.request : this.tick;
            m.set(name, (m.get(name) ?? 0) + 1);
          }
          return (fn as (...a: unknown[]) => unknown)(...args);
        };
      }
      out[ns] = wrapped;
    }
    return out;
  }
}

/**
 * Loads a plugin whose VMs' import objects go through `counter` (the emulator builds them in
 * WasmVm.instantiate with `new WebAssembly.Instance`; the constructor is wrapped only while this
 * plugin loads, so every other plugin keeps the unwrapped imports).
 */
async function loadCounted(host: Host, name: Competitor, counter: CallCounter): Promise<Plugin> {
  // A VM instantiates when the plugin loads; one whose imports were not wrapped would count nothing.
  const original = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(original, {
    construct(target, args: [WebAssembly.Module, WebAssembly.Imports?]) {
      return new target(args[0], counter.wrap(args[1] ?? {}));
    },
  });
  try {
    return await load(host, name, `${name}-counted`);
  } finally {
    WebAssembly.Instance = original;
  }
}

async function load(host: Host, name: Competitor, as: string): Promise<Plugin> {
  const c = COMPETITORS[name];
  const plugin = await host.loadPlugin({
    name: as,
    wasm: path.join(BUILD, c.wasm),
    rootId: c.rootId,
    vmId: as,
    configuration: c.configuration,
    vmCount: 1,
    failOpen: false,
  });
  if (pluginFailed(plugin)) throw new Error(`${as}: VM failed while loading ${c.wasm}`);
  return plugin;
}

function perRequest(m: Map<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...m].sort(([a], [b]) => a.localeCompare(b))) out[k] = v / requests;
  return out;
}

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * `requests` more requests through a warmed plugin, REQUESTS_PER_TICK at a time (each chunk ends
 * with the driver's on_tick, which writes the batches). After each chunk: the pages, and the
 * heap's used bytes (fuzz/heap.ts), whose lowest value per half shows a slow leak before it needs
 * another page. The same evidence and verdict as the fuzz harness (fuzz/run.ts memoryVerdict),
 * the timed rounds being the warm-up.
 */
function memoryRun(plugin: Plugin, body: (n: number) => void, requests: number, wasm: string): MemoryRun {
  const vm = plugin.vms[0]!;
  const root = findRoot(vm.exports.memory, heapBase(readFileSync(wasm)));
  const pagesWarm = pluginPages(plugin);
  let pages = pagesWarm;
  let lastGrowth: number | undefined;
  let floorFirst: number | undefined;
  let floorSecond: number | undefined;
  for (let done = 0; done < requests; ) {
    const n = Math.min(REQUESTS_PER_TICK, requests - done);
    body(n);
    done += n;
    const now = pluginPages(plugin);
    if (now !== pages) {
      pages = now;
      lastGrowth = done;
    }
    const used = root === undefined ? undefined : heapStats(vm.exports.memory, root)?.used;
    if (used === undefined) continue;
    if (done <= requests / 2) floorFirst = Math.min(floorFirst ?? used, used);
    else floorSecond = Math.min(floorSecond ?? used, used);
  }
  const pagesEnd = pluginPages(plugin);
  const verdict = memoryVerdict({ warmup: 0, iterations: requests, slackPages: 0, pagesWarm, pagesEnd, lastGrowth, floorFirst, floorSecond, floorOpen: CONNECTIONS });
  return { requests, pagesWarm, pagesEnd, lastGrowth, floorFirst, floorSecond, verdict };
}

async function countCalls(host: Host, name: Competitor, requests: number): Promise<HostCalls> {
  const counter = new CallCounter();
  const plugin = await loadCounted(host, name, counter);
  const conns = connections(host);
  const run = driver(host, plugin, plugin.httpFilterFactory(), conns);
  // Warm-up: every connection's once-per-connection reads, then a flush.
  run(REQUESTS_PER_TICK * Math.ceil((CONNECTIONS * 4) / REQUESTS_PER_TICK));
  const originalTick = plugin.tick.bind(plugin);
  plugin.tick = () => {
    counter.phase = "tick";
    originalTick();
    counter.phase = "request";
  };
  counter.phase = "request";
  run(requests);
  counter.phase = "off";
  if (pluginFailed(plugin)) throw new Error(`${name}: VM failed while counting host calls`);
  const request = perRequest(counter.request, requests);
  const tick = perRequest(counter.tick, requests);
  return { request, tick, requestTotal: sum(request), tickTotal: sum(tick) };
}

export async function measureTelemetry(options: TelemetryOptions = DEFAULT_TELEMETRY_OPTIONS): Promise<TelemetryReport> {
  const host = new Host();
  try {
    const plugins = new Map<Competitor, Plugin>();
    const bodies = new Map<Competitor, (n: number) => void>();
    for (const name of NAMES) {
      const plugin = await load(host, name, name);
      plugins.set(name, plugin);
      bodies.set(name, driver(host, plugin, plugin.httpFilterFactory(), connections(host)));
    }
    const times = measureInterleaved(bodies, { rounds: options.rounds, iterations: options.iterations });
    const rows: TelemetryRow[] = [];
    for (const name of NAMES) {
      const plugin = plugins.get(name)!;
      const body = bodies.get(name)!;
      const memory = memoryRun(plugin, body, options.memoryRequests, path.join(BUILD, COMPETITORS[name].wasm));
      if (pluginFailed(plugin)) throw new Error(`${name}: VM failed during the bench`);
      const calls = await countCalls(host, name, options.countedRequests);
      rows.push({ competitor: name, time: times.get(name)!, calls, pagesWarm: memory.pagesWarm, pagesEnd: memory.pagesEnd, memory });
    }
    const prom = rows.find((r) => r.competitor === "prometheus")!;
    const noCel = new Host({ celParser: false });
    let fallback: HostCalls;
    try {
      fallback = await countCalls(noCel, "prometheus", options.countedRequests);
    } finally {
      await noCel.close();
    }
    return {
      rows,
      options,
      fallback,
      goalPass: prom.calls.requestTotal <= TELEMETRY_HOST_CALL_GOAL,
      memoryFlat: rows.every((r) => r.memory.verdict === undefined),
    };
  } finally {
    await host.close();
  }
}

function callList(r: Readonly<Record<string, number>>): string {
  const parts = Object.entries(r)
    .filter(([, v]) => v >= 0.0005)
    .map(([k, v]) => `${k.replace(/^proxy_/, "")} ${v.toFixed(v >= 0.995 ? 0 : 3)}`);
  return parts.length === 0 ? "–" : parts.join(", ");
}

export function renderTelemetry(report: TelemetryReport): string {
  const o = report.options;
  const nul = report.rows.find((r) => r.competitor === "null")!;
  const prom = report.rows.find((r) => r.competitor === "prometheus")!;
  const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(3));
  return [
    TELEMETRY_HEADING,
    "",
    `\`build/http-telemetry.wasm\` through the host's HTTP filter path without sockets (bench/telemetry.ts calls each filter as test/host/http.ts does: create, request headers with end of stream, response headers, a 128-byte response body with end of stream, on_log, on_done/on_delete), inbound, ${CONNECTIONS} keep-alive connections in turn, on_tick every ${REQUESTS_PER_TICK.toLocaleString("en-US")} requests (its cost included). ${o.iterations.toLocaleString("en-US")} requests per round, ${o.rounds} interleaved rounds, median round. **Added = filter − null**: the HTTP null filter (\`test/fixtures/null\`) in the same rounds. Configurations: ${NAMES.filter((n) => n !== "null").map((n) => `${n} \`${COMPETITORS[n].configuration}\``).join(", ")}.`,
    "",
    `Host calls per request are counted on a second copy of each plugin whose imports count calls per ABI function (${o.countedRequests.toLocaleString("en-US")} requests after every connection's first requests): in the request callbacks, and in on_tick (the metric flush) divided by the requests it covered. Goal (issue 9): prometheus alone ≤ ${TELEMETRY_HOST_CALL_GOAL} host calls per request — **${report.goalPass ? "PASS" : "MISS"}** (${fmt(prom.calls.requestTotal)} in the request callbacks${prom.calls.tickTotal > 0 ? `, plus ${fmt(prom.calls.tickTotal)} in on_tick` : ""}). ${CALLS_EXPLAINED} Without the CEL foreign functions (an Envoy built without \`WASM_USE_CEL_PARSER\`: Windows; the emulator with \`celParser: false\`) prometheus alone takes the property-read path: ${fmt(report.fallback.requestTotal)} in the request callbacks (${callList(report.fallback.request)})${report.fallback.tickTotal > 0 ? `, plus ${fmt(report.fallback.tickTotal)} in on_tick` : ""}.`,
    "",
    `Memory (issue 9: flat over ${o.memoryRequests.toLocaleString("en-US")} requests) — **${report.memoryFlat ? "FLAT" : "GREW"}**: each plugin after the timed rounds (the warm-up) takes ${o.memoryRequests.toLocaleString("en-US")} more requests, a flush every ${REQUESTS_PER_TICK.toLocaleString("en-US")}; judged as the fuzz harness judges (fuzz/run.ts \`memoryVerdict\`): pages may not grow, or must stop growing by half way with the heap's used-bytes floor after a flush rising at most ${FLOOR_SLACK_BYTES.toLocaleString("en-US")} bytes from the first half to the second.`,
    "",
    ...report.rows.map((r) => `- ${r.competitor}: ${memoryLine(r.memory)}`),
    "",
    table(
      ["filter", "ns/request", "added", "× null", "min–max", "host calls (request)", "host calls (tick)", "pages", "pages after"],
      report.rows.map((r) => [
        r.competitor,
        ns(r.time.median),
        r.competitor === "null" ? "–" : ns(r.time.median - nul.time.median),
        ratio(r.time.median / nul.time.median),
        `${ns(r.time.min)}–${ns(r.time.max)}`,
        `${fmt(r.calls.requestTotal)}: ${callList(r.calls.request)}`,
        r.calls.tickTotal === 0 ? "0" : `${fmt(r.calls.tickTotal)}: ${callList(r.calls.tick)}`,
        String(r.pagesWarm),
        `${r.pagesEnd}${r.pagesEnd === r.pagesWarm ? " (flat)" : " (grew)"}`,
      ]),
      ["l", "r", "r", "r", "r", "l", "l", "r", "r"],
    ),
    "",
  ].join("\n");
}

/**
 * What prometheus alone's request-path calls are (assembly/filters/http-telemetry/README.md "Host
 * calls per request" has the Envoy sources).
 */
export const CALLS_EXPLAINED =
  "Prometheus alone: the request headers and the response headers (`proxy_get_header_map_pairs`, one map each: method, path, authority, request id, the status, grpc-status and the header sizes), and in on_log one `proxy_call_foreign_function(\"expr_evaluate\")` whose CEL map literal answers `request.duration`, `response.flags` and `connection_id` at once (Envoy's expr_evaluate evaluates against the stream's attributes and serializes a map as pairs); the histogram samples are written on tick (`proxy_record_metric` takes one sample, so three per request is the floor there).";

function memoryLine(m: MemoryRun): string {
  const floors = m.floorFirst !== undefined && m.floorSecond !== undefined
    ? `; heap used-bytes floor after a flush ${m.floorFirst.toLocaleString("en-US")} (first half) / ${m.floorSecond.toLocaleString("en-US")} (second half)`
    : "";
  const grew = m.lastGrowth === undefined ? "" : `, last growth at request ${m.lastGrowth.toLocaleString("en-US")}`;
  return `${m.pagesWarm} page${m.pagesWarm === 1 ? "" : "s"} after warm-up, ${m.pagesEnd} after ${m.requests.toLocaleString("en-US")} requests${grew}${floors}: ${m.verdict === undefined ? "flat" : `**${m.verdict}**`}`;
}

export async function telemetryBenchSection(options: TelemetryOptions = DEFAULT_TELEMETRY_OPTIONS): Promise<string> {
  return renderTelemetry(await measureTelemetry(options));
}
