/**
 * The Thrift filter's cost per request through the host (build/thrift.wasm, configured only
 * through its JSON configuration: assembly/filters/thrift/README.md), against the AS `null` and
 * C `null-c` filters driven with exactly the same callbacks in the same interleaved rounds, as
 * the sniffer section does. Rows:
 *   - per request (`routing: request`, in front of thrift_proxy): one long-lived connection; a
 *     request is the call in one downstream read, then its reply in one upstream write. Message-
 *     begin routing (service + method rule) over framed binary, and THeader header routing (a
 *     rule on an info header), at payload sizes 100 B / 10 KiB / 1 MiB: a framed or THeader
 *     frame is skipped by its length, so the cost should not grow with the payload;
 *   - per connection (`routing: connection`, in front of tcp_proxy): context create +
 *     on_new_connection + the first call + its reply + close, the first call deciding
 *     `envoy.tcp_proxy.cluster`.
 * Every configuration carries ten rules, the matching one last. Before timing, one request of
 * each row is checked: the filter continued, did not fail, and chose the rule's cluster (filter
 * state or `istio_requests_total{destination_service}`).
 *
 *   node --import tsx bench/thrift-filter.ts [--rounds 9]    (this section alone; npm run bench includes it)
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { Host } from "../test/host/index.js";
import { flushTelemetry } from "../test/filters/rpc-telemetry-fixtures.js";
import type { DataBuffer, FilterStatus, NetworkFilter, NetworkFilterFactory } from "../test/host/types.js";
import { runIfMain } from "../tools/harness/cli.js";
import { BUILD, benchFilters, loadPlugin, pluginFailed, readCallbacks, type Plugin } from "../tools/harness/drive.js";
import { ns, ratio, table } from "../tools/harness/markdown.js";
import { measureInterleaved, type Sample } from "./lib/stats.js";
import { calibrate, reply, request, SIZES, type Stack } from "./thrift.js";

export const THRIFT_FILTER_HEADING = "## Thrift filter";
export const THRIFT_WASM = path.join(BUILD, "thrift.wasm");

export type Routing = "request" | "connection";

export interface FilterCase {
  readonly routing: Routing;
  /** What the deciding rule reads. */
  readonly match: "message begin" | "THeader header";
  readonly stack: Stack;
  readonly size: string;
  readonly bytes: number;
}

/** Nine rules that do not match the bench's call, then the one that does. */
function rules(match: FilterCase["match"]): unknown[] {
  const misses = Array.from({ length: 9 }, (_, i) => ({
    name: `other-${i}`,
    match: match === "message begin" ? { service: { exact: `Service${i}` }, method: { exact: "put" } } : { headers: [{ name: "x-route", exact: `lane-${i}` }] },
    route: { cluster: `other-${i}` },
  }));
  const hit =
    match === "message begin"
      ? { name: "catalog-put", match: { service: { exact: "Catalog" }, method: { exact: "put" } }, route: { cluster: CLUSTER } }
      : { name: "canary", match: { headers: [{ name: "x-route", exact: "canary" }] }, route: { cluster: CLUSTER } };
  return [...misses, hit];
}

/** Requests each null filter runs before a case's rounds. */
const NULL_WARMUP = 20_000;

/** The cluster of the matching rule. */
export const CLUSTER = "catalog-v2";

export function filterConfig(c: Pick<FilterCase, "routing" | "match" | "stack">): string {
  const transport = c.stack.startsWith("header") ? "header" : c.stack.startsWith("framed") ? "framed" : "unframed";
  const protocol = c.stack.startsWith("header") ? "auto" : c.stack.endsWith("compact") ? "compact" : "binary";
  return JSON.stringify({ stat_prefix: "bench", routing: c.routing, transport, protocol, seed: 1, rules: rules(c.match) });
}

export function filterCases(): FilterCase[] {
  const out: FilterCase[] = [];
  const add = (routing: Routing, match: FilterCase["match"], stack: Stack, sizes: typeof SIZES): void => {
    for (const [size] of sizes) out.push({ routing, match, stack, size, bytes: 0 });
  };
  add("request", "message begin", "framed-binary", SIZES);
  add("request", "THeader header", "header-binary", SIZES);
  add("connection", "message begin", "framed-binary", SIZES.slice(0, 1));
  add("connection", "THeader header", "header-binary", SIZES.slice(0, 1));
  return out;
}

export interface FilterRow extends FilterCase {
  readonly nullC: Sample;
  readonly nullAs: Sample;
  readonly thrift: Sample;
  /** thrift − null (AS): the filter's own work per request, the ABI layer being common to both. */
  readonly added: number;
}

export interface ThriftFilterReport {
  readonly rows: FilterRow[];
  /** Why the section was skipped (build/thrift.wasm absent). */
  readonly skipped?: string;
}

function must(filter: NetworkFilter | undefined, what: string): NetworkFilter {
  if (filter === undefined) throw new Error(`${what}: create returned undefined (VM failed?)`);
  return filter;
}

/**
 * The loop body of one case for one filter. Per request: the same connection for every
 * iteration (the call then its reply); per connection: a new one each time, closed by the peer.
 * Buffers are fresh views each time: a filter that drains or rewrites a buffer must not change
 * the next iteration's input.
 */
function caseBody(factory: NetworkFilterFactory, routing: Routing, call: Uint8Array, answer: Uint8Array, what: string) {
  const down: DataBuffer = { bytes: call };
  const up: DataBuffer = { bytes: answer };
  const exchange = (f: NetworkFilter): [FilterStatus, FilterStatus] => {
    down.bytes = call;
    const d = f.onData(down, false);
    up.bytes = answer;
    return [d, f.onWrite(up, false)];
  };
  if (routing === "request") {
    const callbacks = readCallbacks();
    const f = must(factory.create(callbacks), what);
    f.onNewConnection();
    return {
      probe: () => ({ statuses: exchange(f), callbacks }),
      run: (n: number) => {
        for (let i = 0; i < n; i++) exchange(f);
      },
      close: () => f.onEvent("RemoteClose"),
    };
  }
  const once = () => {
    const callbacks = readCallbacks();
    const f = must(factory.create(callbacks), what);
    f.onNewConnection();
    const statuses = exchange(f);
    f.onEvent("RemoteClose");
    return { statuses, callbacks };
  };
  return {
    probe: once,
    run: (n: number) => {
      for (let i = 0; i < n; i++) once();
    },
    close: () => {},
  };
}

const text = new TextDecoder();

/** Sum of `istio_requests_total` counters whose destination is CLUSTER. */
function requestsTo(host: Host, cluster: string): bigint {
  flushTelemetry(host);
  let n = 0n;
  for (const s of host.stats()) {
    if (s.type === "counter" && s.name.includes("istio_requests_total") && s.name.includes(`destination_service=.=${cluster};.;`)) n += s.value;
  }
  return n;
}

/** Checks one request of `c` outside the timing: continued both ways, routed to CLUSTER. */
function check(host: Host, thrift: Plugin, body: ReturnType<typeof caseBody>, c: FilterCase): void {
  const before = requestsTo(host, CLUSTER);
  const { statuses, callbacks } = body.probe();
  const where = `thrift filter bench (${c.routing}, ${c.stack}, ${c.size})`;
  if (pluginFailed(thrift)) throw new Error(`${where}: the VM failed`);
  if (statuses.some((s) => s !== "Continue")) throw new Error(`${where}: the filter answered ${statuses.join(", ")} for a whole call and its reply`);
  if (c.routing === "connection") {
    const entry = callbacks.connection.filterState.get("envoy.tcp_proxy.cluster");
    const chosen = entry ? text.decode(entry.value) : "(none)";
    if (chosen !== CLUSTER) throw new Error(`${where}: envoy.tcp_proxy.cluster is ${chosen}, expected ${CLUSTER}`);
  } else if (requestsTo(host, CLUSTER) !== before + 1n) {
    throw new Error(`${where}: istio_requests_total{destination_service="${CLUSTER}"} did not count the request`);
  }
}

export async function measureThriftFilter(options: { rounds: number; targetMs?: number; wasm?: string }): Promise<ThriftFilterReport> {
  const wasm = options.wasm ?? THRIFT_WASM;
  if (!existsSync(wasm)) return { rows: [], skipped: `${path.relative(process.cwd(), wasm)} does not exist: Thrift filter section skipped` };
  const host = new Host();
  try {
    const [cSpec, asSpec] = benchFilters();
    const nullC = await loadPlugin(host, cSpec!);
    const nullAs = await loadPlugin(host, asSpec!);
    const plugins = new Map<string, Plugin>();
    const rows: FilterRow[] = [];
    const messages = new Map<string, Buffer>();
    const message = (key: string, make: () => Buffer): Buffer => {
      let m = messages.get(key);
      if (!m) messages.set(key, (m = make()));
      return m;
    };
    for (const c0 of filterCases()) {
      const config = filterConfig(c0);
      let thrift = plugins.get(config);
      if (!thrift) {
        thrift = await loadPlugin(host, { name: `thrift-${plugins.size}`, wasm, rootId: "thrift", configuration: config });
        if (pluginFailed(thrift)) throw new Error(`thrift filter bench: the VM failed on configuration ${config}`);
        plugins.set(config, thrift);
      }
      const payload = SIZES.find(([label]) => label === c0.size)![1];
      const call = message(`${c0.stack} ${payload}`, () => request(c0.stack, payload));
      const answer = message(`${c0.stack} reply`, () => reply(c0.stack));
      const c: FilterCase = { ...c0, bytes: call.length };
      const bodies = {
        "null-c": caseBody(nullC.networkFilterFactory(), c.routing, call, answer, "null-c"),
        null: caseBody(nullAs.networkFilterFactory(), c.routing, call, answer, "null"),
        thrift: caseBody(thrift.networkFilterFactory(), c.routing, call, answer, "thrift"),
      };
      check(host, thrift, bodies.thrift, c);
      const iterations = calibrate(bodies.thrift.run, options.targetMs ?? 20);
      // Rounds are sized for the filter; the null filters' bodies are far cheaper, so their
      // share of the warm-up would not let V8 tier them up: warm them on their own first.
      bodies["null-c"].run(NULL_WARMUP);
      bodies.null.run(NULL_WARMUP);
      const s = measureInterleaved(new Map(Object.entries(bodies).map(([k, b]) => [k, b.run])), { rounds: options.rounds, iterations });
      for (const b of Object.values(bodies)) b.close();
      if (pluginFailed(thrift)) throw new Error(`thrift filter bench: the VM failed during ${c.routing} ${c.stack} ${c.size}`);
      const row = { ...c, nullC: s.get("null-c")!, nullAs: s.get("null")!, thrift: s.get("thrift")! };
      rows.push({ ...row, added: row.thrift.median - row.nullAs.median });
    }
    return { rows };
  } finally {
    await host.close();
  }
}

export function renderThriftFilter(r: ThriftFilterReport, rounds: number): string {
  const out = [THRIFT_FILTER_HEADING, ""];
  out.push(
    "`build/thrift.wasm` through the host's wasm-filter adapter (as the sections above), configured only by its JSON (`assembly/filters/thrift/README.md`) with ten rules, the matching one last. " +
      "**per request** (`routing: request`, in front of thrift_proxy): one connection; each request is the whole call in one downstream read and its reply in one upstream write. " +
      "**per connection** (`routing: connection`, in front of tcp_proxy): context create + on_new_connection + the first call + its reply + close; the call decides `envoy.tcp_proxy.cluster`. " +
      "**message begin**: a rule on service and method (`Catalog:put`, framed strict binary); **THeader header**: a rule on the info header `x-route` (THeader over binary). " +
      `The AS \`null\` and C \`null-c\` filters get exactly the same callbacks in the same ${rounds} interleaved rounds (median round, iterations calibrated to about 20 ms per round). ` +
      "**added** = thrift − null (AS): the filter's own work, the ABI layer being common to both. Framed and THeader payloads are skipped by their frame length: the per-request cost should be flat in the payload size.",
    "",
  );
  if (r.skipped) {
    out.push(`Skipped: ${r.skipped}.`, "");
    return out.join("\n");
  }
  out.push(
    table(
      ["routing", "rule reads", "stack", "payload", "call bytes", "null-c ns", "null ns", "thrift ns", "thrift min–max", "added ns", "× null"],
      r.rows.map((x) => [
        `per ${x.routing}`,
        x.match,
        x.stack,
        x.size,
        x.bytes.toLocaleString("en-US"),
        ns(x.nullC.median),
        ns(x.nullAs.median),
        ns(x.thrift.median),
        `${ns(x.thrift.min)}–${ns(x.thrift.max)}`,
        ns(x.added),
        ratio(x.thrift.median / x.nullAs.median),
      ]),
      ["l", "l", "l", "l", "r", "r", "r", "r", "r", "r", "r"],
    ),
    "",
  );
  for (const match of ["message begin", "THeader header"] as const) {
    const per = r.rows.filter((x) => x.routing === "request" && x.match === match);
    if (per.length < 2) continue;
    const t = per.map((x) => x.thrift.median);
    const flat = Math.max(...t) <= 2 * Math.min(...t);
    out.push(`- per request, ${match}: flat in the payload size when ${ns(Math.max(...t))} ≤ 2 × ${ns(Math.min(...t))} ns: ${flat ? "yes" : "no"}.`);
  }
  out.push("");
  return out.join("\n");
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const o = new Command()
    .name("bench:thrift-filter")
    .option("--rounds <n>", "timed rounds", positiveInt, 9)
    .option("--wasm <file>", "thrift filter module", THRIFT_WASM)
    .parse()
    .opts<{ rounds: number; wasm: string }>();
  const r = await measureThriftFilter({ rounds: o.rounds, wasm: path.resolve(o.wasm) });
  console.log(renderThriftFilter(r, o.rounds));
}

runIfMain(import.meta.url, "bench:thrift-filter", main);
