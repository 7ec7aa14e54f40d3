/**
 * The Dubbo filter's cost per request through the host (build/dubbo.wasm, configured only through
 * its JSON configuration: assembly/filters/dubbo/README.md), against the AS `null` and C `null-c`
 * filters driven with exactly the same callbacks in the same interleaved rounds, as the Thrift
 * filter section does (bench/thrift-filter.ts). One long-lived connection in front of dubbo_proxy
 * (`routing: request`); a request is a two-way Hessian2 call in one downstream read, then its
 * response in one upstream write. Rows:
 *   - body sizes 100 B / 10 KiB / 1 MiB: the rules read the interface and method only, so the
 *     decoder stops after the method and skips the arguments by the body length (header-only
 *     routing): the cost should not grow with the body;
 *   - 10 rules vs MAX_RULES (256, the most the filter accepts) with an exact interface match,
 *     the matching rule last: the filter indexes exact interfaces (rule-index.ts), so the cost
 *     should not grow with the rule count either.
 * Before timing, one request of each row is checked: the filter continued both ways, did not fail,
 * and counted the request to the rule's cluster (`istio_requests_total{destination_service}`).
 *
 *   node --import tsx bench/dubbo-filter.ts [--rounds 9]    (this section alone; npm run bench includes it)
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
import { BODY_SIZES, dubboRequest } from "./dubbo.js";
import { calibrate } from "./thrift.js";

export const DUBBO_FILTER_HEADING = "## Dubbo filter";
export const DUBBO_WASM = path.join(BUILD, "dubbo.wasm");
/** The filter's rule limit (assembly/filters/dubbo/config.ts MAX_RULES). */
export const MAX_RULES = 256;
export const RULE_COUNTS = [10, MAX_RULES] as const;
/** The interface bench/dubbo.ts's request calls. */
export const INTERFACE = "com.acme.Greeter";
/** The cluster of the matching rule. */
export const CLUSTER = "greeter-v2";

export interface FilterCase {
  readonly rules: number;
  readonly bodyBytes: number;
  /** The whole request frame (16-byte header + body). */
  readonly bytes: number;
}

export interface FilterRow extends FilterCase {
  readonly nullC: Sample;
  readonly nullAs: Sample;
  readonly dubbo: Sample;
  /** dubbo − null (AS): the filter's own work per request, the ABI layer being common to both. */
  readonly added: number;
}

export interface DubboFilterReport {
  readonly rows: FilterRow[];
  /** Why the section was skipped (build/dubbo.wasm absent). */
  readonly skipped?: string;
}

/** Requests each null filter runs before a case's rounds. */
const NULL_WARMUP = 20_000;

/** `n - 1` rules on other exact interfaces, then the one that matches the bench's request. */
export function filterConfig(n: number): string {
  const rules: unknown[] = Array.from({ length: n - 1 }, (_, i) => ({
    name: `other-${i}`,
    match: { service: { exact: `com.acme.Other${i}` }, method: { exact: "sayHi" } },
    route: { cluster: `other-${i % 16}` },
  }));
  rules.push({ name: "greeter", match: { service: { exact: INTERFACE }, method: { exact: "sayHi" } }, route: { cluster: CLUSTER } });
  return JSON.stringify({ stat_prefix: "bench", routing: "request", seed: 1, rules });
}

export function filterCases(): FilterCase[] {
  const out: FilterCase[] = [];
  for (const rules of RULE_COUNTS) for (const bodyBytes of BODY_SIZES) out.push({ rules, bodyBytes, bytes: 0 });
  return out;
}

/** The OK response to request id 1: status 20, body RESPONSE_NULL_VALUE (Hessian2 int 2, 0x92). */
export function dubboResponse(): Buffer {
  const h = Buffer.alloc(17);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = 0x02;
  h[3] = 20;
  h.writeBigInt64BE(1n, 4);
  h.writeInt32BE(1, 12);
  h[16] = 0x92;
  return h;
}

function must(filter: NetworkFilter | undefined, what: string): NetworkFilter {
  if (filter === undefined) throw new Error(`${what}: create returned undefined (VM failed?)`);
  return filter;
}

/**
 * One connection for every iteration: the request then its response. Buffers are fresh views
 * each time, so a filter that drains or rewrites a buffer cannot change the next iteration's input.
 */
function caseBody(factory: NetworkFilterFactory, call: Uint8Array, answer: Uint8Array, what: string) {
  const down: DataBuffer = { bytes: call };
  const up: DataBuffer = { bytes: answer };
  const exchange = (f: NetworkFilter): [FilterStatus, FilterStatus] => {
    down.bytes = call;
    const d = f.onData(down, false);
    up.bytes = answer;
    return [d, f.onWrite(up, false)];
  };
  const f = must(factory.create(readCallbacks()), what);
  f.onNewConnection();
  return {
    probe: () => exchange(f),
    run: (n: number) => {
      for (let i = 0; i < n; i++) exchange(f);
    },
    close: () => f.onEvent("RemoteClose"),
  };
}

/** Sum of the `istio_requests_total` counters whose destination is `cluster`. */
function requestsTo(host: Host, cluster: string): bigint {
  flushTelemetry(host);
  let n = 0n;
  for (const s of host.stats()) {
    if (s.type === "counter" && s.name.includes("istio_requests_total") && s.name.includes(`destination_service=.=${cluster};.;`)) n += s.value;
  }
  return n;
}

function check(host: Host, dubbo: Plugin, body: ReturnType<typeof caseBody>, c: FilterCase): void {
  const before = requestsTo(host, CLUSTER);
  const statuses = body.probe();
  const where = `dubbo filter bench (${c.rules} rules, ${c.bodyBytes} B body)`;
  if (pluginFailed(dubbo)) throw new Error(`${where}: the VM failed`);
  if (statuses.some((s) => s !== "Continue")) throw new Error(`${where}: the filter answered ${statuses.join(", ")} for a whole request and its response`);
  if (requestsTo(host, CLUSTER) !== before + 1n) throw new Error(`${where}: istio_requests_total{destination_service="${CLUSTER}"} did not count the request`);
}

export async function measureDubboFilter(options: { rounds: number; targetMs?: number; wasm?: string }): Promise<DubboFilterReport> {
  const wasm = options.wasm ?? DUBBO_WASM;
  if (!existsSync(wasm)) return { rows: [], skipped: `${path.relative(process.cwd(), wasm)} does not exist: Dubbo filter section skipped` };
  const host = new Host();
  try {
    const [cSpec, asSpec] = benchFilters();
    const nullC = await loadPlugin(host, cSpec!);
    const nullAs = await loadPlugin(host, asSpec!);
    const plugins = new Map<number, Plugin>();
    const answer = dubboResponse();
    const rows: FilterRow[] = [];
    for (const c0 of filterCases()) {
      let dubbo = plugins.get(c0.rules);
      if (!dubbo) {
        const configuration = filterConfig(c0.rules);
        dubbo = await loadPlugin(host, { name: `dubbo-${plugins.size}`, wasm, rootId: "dubbo", configuration });
        if (pluginFailed(dubbo)) throw new Error(`dubbo filter bench: the VM failed on ${c0.rules} rules`);
        plugins.set(c0.rules, dubbo);
      }
      const call = dubboRequest(c0.bodyBytes);
      const c: FilterCase = { ...c0, bytes: call.length };
      const bodies = {
        "null-c": caseBody(nullC.networkFilterFactory(), call, answer, "null-c"),
        null: caseBody(nullAs.networkFilterFactory(), call, answer, "null"),
        dubbo: caseBody(dubbo.networkFilterFactory(), call, answer, "dubbo"),
      };
      check(host, dubbo, bodies.dubbo, c);
      const iterations = calibrate(bodies.dubbo.run, options.targetMs ?? 20);
      // The null filters' bodies are far cheaper than the rounds sized for the filter: warm them
      // on their own first so V8 tiers them up.
      bodies["null-c"].run(NULL_WARMUP);
      bodies.null.run(NULL_WARMUP);
      const s = measureInterleaved(new Map(Object.entries(bodies).map(([k, b]) => [k, b.run])), { rounds: options.rounds, iterations });
      for (const b of Object.values(bodies)) b.close();
      if (pluginFailed(dubbo)) throw new Error(`dubbo filter bench: the VM failed during ${c.rules} rules, ${c.bodyBytes} B`);
      const row = { ...c, nullC: s.get("null-c")!, nullAs: s.get("null")!, dubbo: s.get("dubbo")! };
      rows.push({ ...row, added: row.dubbo.median - row.nullAs.median });
    }
    return { rows };
  } finally {
    await host.close();
  }
}

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function renderDubboFilter(r: DubboFilterReport, rounds: number): string {
  const out = [DUBBO_FILTER_HEADING, ""];
  out.push(
    "`build/dubbo.wasm` through the host's wasm-filter adapter, configured only by its JSON (`assembly/filters/dubbo/README.md`), `routing: request` (in front of dubbo_proxy): one connection; each request is a whole two-way Hessian2 call in one downstream read and its response in one upstream write. " +
      `Rules match an exact interface and the method, the matching one last, 10 or ${MAX_RULES} of them (the filter's limit); exact interfaces are indexed, so the rule count should not change the cost. ` +
      "The rules read no attachment, so the decoder skips the arguments by the body length: the cost should be flat in the body size. " +
      `The AS \`null\` and C \`null-c\` filters get exactly the same callbacks in the same ${rounds} interleaved rounds (median round, iterations calibrated to about 20 ms per round). ` +
      "**added** = dubbo − null (AS): the filter's own work, the ABI layer being common to both.",
    "",
  );
  if (r.skipped) {
    out.push(`Skipped: ${r.skipped}.`, "");
    return out.join("\n");
  }
  out.push(
    table(
      ["rules", "body", "request bytes", "null-c ns", "null ns", "dubbo ns", "dubbo min–max", "added ns", "× null"],
      r.rows.map((x) => [
        String(x.rules),
        size(x.bodyBytes),
        x.bytes.toLocaleString("en-US"),
        ns(x.nullC.median),
        ns(x.nullAs.median),
        ns(x.dubbo.median),
        `${ns(x.dubbo.min)}–${ns(x.dubbo.max)}`,
        ns(x.added),
        ratio(x.dubbo.median / x.nullAs.median),
      ]),
      ["r", "l", "r", "r", "r", "r", "r", "r", "r"],
    ),
    "",
  );
  for (const n of RULE_COUNTS) {
    const t = r.rows.filter((x) => x.rules === n).map((x) => x.dubbo.median);
    if (t.length < 2) continue;
    out.push(`- ${n} rules: flat in the body size when ${ns(Math.max(...t))} ≤ 2 × ${ns(Math.min(...t))} ns: ${Math.max(...t) <= 2 * Math.min(...t) ? "yes" : "no"}.`);
  }
  const few = r.rows.filter((x) => x.rules === RULE_COUNTS[0]).map((x) => x.dubbo.median);
  const many = r.rows.filter((x) => x.rules === MAX_RULES).map((x) => x.dubbo.median);
  if (few.length > 0 && many.length === few.length) {
    const worst = Math.max(...many.map((m, i) => m / few[i]!));
    out.push(`- ${MAX_RULES} vs 10 rules: at most ${ratio(worst)} the time per request at the same body size.`);
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
    .name("bench:dubbo-filter")
    .option("--rounds <n>", "timed rounds", positiveInt, 9)
    .option("--wasm <file>", "dubbo filter module", DUBBO_WASM)
    .parse()
    .opts<{ rounds: number; wasm: string }>();
  const r = await measureDubboFilter({ rounds: o.rounds, wasm: path.resolve(o.wasm) });
  console.log(renderDubboFilter(r, o.rounds));
}

runIfMain(import.meta.url, "bench:dubbo-filter", main);
