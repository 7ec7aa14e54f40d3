/**
 * `npm run fuzz -- --target thrift-filter`: random and mutated Thrift streams through the whole
 * filter (build/thrift.wasm) in the host emulator, with rules configured, both directions: calls
 * downstream (one to three messages back to back), mutated replies upstream, each split at random
 * points into reads and writes, with the generic runner's random close order, ticks (the decode
 * timeout) and connections left open (fuzz/run.ts). The iterations are split over several
 * configurations (routing per connection and per request; every transport and protocol setting;
 * rules on service, method and THeader headers with a weighted route, deny, rate limit and abort),
 * each run with seed + its index. Fails (exit 1) on a trap or growing memory.
 *
 * The filter is driven only through its JSON configuration (assembly/filters/thrift/README.md)
 * and its built module, so this target follows the filter as it changes.
 *
 *   npm run fuzz -- --target thrift-filter [--seed N] [--iterations 1000000] [--filter path/to/thrift.wasm]
 */
import path from "node:path";
import { thriftMessages } from "../test/fixtures/thrift-messages/messages.js";
import { BUILD } from "../tools/harness/drive.js";
import type { Seed } from "./corpus.js";
import { MAX_INPUT } from "./mutate.js";
import { describe, runFuzz, type FuzzResult } from "./run.js";

export const THRIFT_FILTER_TARGET = "thrift-filter";
export const THRIFT_FILTER_WASM = path.join(BUILD, "thrift.wasm");
/** A full run: the 10^6 inputs. */
export const THRIFT_FILTER_ITERATIONS = 1_000_000;

/** Rules that reach every action: match kinds, weights, deny, rate limit and abort. */
const RULES = [
  { name: "header-canary", match: { headers: [{ name: "x-route", exact: "canary" }] }, route: { cluster: "canary" } },
  { name: "header-present", match: { headers: [{ name: "trace-id", present: true }] }, route: { weightedClusters: [{ name: "a", weight: 70 }, { name: "b", weight: 30 }] } },
  { name: "deny-delete", match: { method: { exact: "delete" } }, policy: { deny: true, message: "delete is disabled" } },
  { name: "limited", match: { method: { prefix: "g" } }, route: { cluster: "getters" }, policy: { rateLimit: { tokens: 5, interval: "1s" } } },
  { name: "abort-half", match: { method: { glob: "p*" } }, route: { cluster: "putters" }, fault: { abort: { message: "injected", percent: 50 } } },
  { name: "catalog", match: { service: { prefix: "Cat" } }, route: { cluster: "catalog" } },
];

export interface ThriftFilterFuzzConfig {
  readonly name: string;
  readonly configuration: string;
  /** Fixture stacks the streams are made of (fixture transport 1 framed, 2 unframed, 3 header; protocol 1 binary, 2 compact, 3 lax); undefined = any. */
  readonly transport?: number;
  readonly protocol?: number;
}

/** The configurations the iterations are split over. */
export function thriftFilterConfigs(): ThriftFilterFuzzConfig[] {
  const make = (routing: string, transport: string, protocol: string, stack: { transport?: number; protocol?: number } = {}) => ({
    name: `${routing} ${transport}/${protocol}`,
    configuration: JSON.stringify({ stat_prefix: "fuzz", routing, transport, protocol, decode_timeout_ms: 1, seed: 7, rules: RULES }),
    ...stack,
  });
  return [
    make("connection", "auto", "auto"),
    make("request", "auto", "auto"),
    make("connection", "framed", "binary", { transport: 1, protocol: 1 }),
    make("request", "header", "auto", { transport: 3 }),
    make("request", "unframed", "compact", { transport: 2, protocol: 2 }),
    make("connection", "unframed", "lax_binary", { transport: 2, protocol: 3 }),
  ];
}

function concat(parts: readonly Seed[]): Seed {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p.bytes, at);
    at += p.bytes.length;
  }
  return { name: parts.map((p) => p.name).join("+"), bytes };
}

/**
 * The streams of one configuration, from the fixture messages of its stacks (every stack when
 * the configuration detects them): downstream the calls and oneway calls alone and three of one
 * stack back to back (a connection's next calls), upstream the replies and exceptions. The
 * mutator adds random bytes and splices across entries.
 */
export function thriftStreamCorpus(config: Pick<ThriftFilterFuzzConfig, "transport" | "protocol"> = {}): { calls: Seed[]; replies: Seed[] } {
  const messages = thriftMessages().filter(
    (m) => (config.transport === undefined || m.transport === config.transport) && (config.protocol === undefined || m.protocol === config.protocol),
  );
  const seed = (m: (typeof messages)[number]): Seed => ({ name: m.label, bytes: new Uint8Array(m.bytes) });
  // Message types: 1 call, 2 reply, 3 exception, 4 oneway.
  const calls = messages.filter((m) => m.messageType === 1 || m.messageType === 4).map(seed);
  const replies = messages.filter((m) => m.messageType === 2 || m.messageType === 3).map(seed);
  const stack = (s: Seed): string => s.name.split("-").slice(0, 2).join("-");
  const single = calls.length;
  for (let i = 0; i < single; i++) {
    const same = calls.slice(0, single).filter((c) => stack(c) === stack(calls[i]!));
    const run = concat([calls[i]!, same[(i + 1) % same.length]!, same[(i + 2) % same.length]!]);
    if (run.bytes.length <= MAX_INPUT) calls.push(run);
  }
  return { calls, replies };
}

/** `total` split over `parts` runs as evenly as possible. */
function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export interface ThriftFilterFuzzRun {
  readonly config: ThriftFilterFuzzConfig;
  readonly result: FuzzResult;
}

/** What the filter counted over a run (metric names: assembly/filters/thrift/README.md). */
export function thriftFilterBooks(stats: FuzzResult["stats"]): { requests: bigint; decodeErrors: bigint; timeouts: bigint } {
  let requests = 0n;
  let decodeErrors = 0n;
  let timeouts = 0n;
  for (const s of stats) {
    if (s.type !== "counter") continue;
    if (s.name.includes("istio_requests_total")) requests += s.value;
    else if (s.name.includes("protomesh_fuzz_decode_errors_total")) decodeErrors += s.value;
    else if (s.name.includes("protomesh_fuzz_decode_timeouts_total")) timeouts += s.value;
  }
  return { requests, decodeErrors, timeouts };
}

export async function runThriftFilterFuzz(options: {
  seed: number;
  iterations: number;
  filter?: string;
  print?: boolean;
  /** Streams per configuration before its memory baseline (default: a fifth, at most 2,000). */
  warmup?: number;
}): Promise<ThriftFilterFuzzRun[]> {
  const configs = thriftFilterConfigs();
  const parts = split(options.iterations, configs.length);
  const runs: ThriftFilterFuzzRun[] = [];
  for (const [i, config] of configs.entries()) {
    const seed = (options.seed + i) >>> 0;
    const corpus = thriftStreamCorpus(config);
    if (options.print) console.log(`fuzz:thrift-filter: ${config.name} seed=${seed} iterations=${parts[i]}`);
    const result = await runFuzz({
      seed,
      iterations: parts[i]!,
      filter: options.filter ?? THRIFT_FILTER_WASM,
      configuration: config.configuration,
      // The allocator grows memory by doubling: let the heap reach its working size (a held call
      // of up to MAX_INPUT bytes, replies being rewritten) before the baseline.
      warmup: options.warmup ?? Math.min(2_000, Math.floor(parts[i]! / 5)),
      corpus: corpus.calls,
      upstreamCorpus: corpus.replies,
      // Many calls per connection reach the reply, rate-limit and route-mismatch paths.
      tickChance: 0.05,
      lingerChance: 0.05,
      serverFirstChance: 0.05,
      replay: `npm run fuzz -- --target ${THRIFT_FILTER_TARGET} --seed ${options.seed} --iterations ${options.iterations}` +
        (options.filter ? ` --filter ${options.filter}` : ""),
      print: options.print,
    });
    runs.push({ config, result });
    if (options.print) {
      const b = thriftFilterBooks(result.stats);
      console.log(describe(result));
      console.log(`fuzz:thrift-filter: ${config.name}: istio_requests_total=${b.requests} decode_errors=${b.decodeErrors} decode_timeouts=${b.timeouts}`);
    }
    if (result.failure) break;
  }
  return runs;
}

export function describeThriftFilterFuzz(runs: readonly ThriftFilterFuzzRun[], seed: number): string {
  const inputs = runs.reduce((n, r) => n + r.result.iterations, 0);
  const seconds = runs.reduce((n, r) => n + r.result.elapsedMs, 0) / 1000;
  const failed = runs.find((r) => r.result.failure);
  const lines = [
    `fuzz:thrift-filter: run seed=${seed}: ${inputs.toLocaleString("en-US")} streams through ${runs[0]?.result.filter ?? "thrift"} in ${seconds.toFixed(1)} s over ${runs.length} configurations`,
    ...runs.map(
      (r) =>
        `fuzz:thrift-filter:   ${r.config.name.padEnd(28)} seed=${r.result.seed} iterations=${r.result.iterations.toLocaleString("en-US")} ` +
        `pages warm=${r.result.pagesWarm} end=${r.result.pagesEnd} traps=${r.result.failure && r.result.failure.kind !== "memory" ? 1 : 0}`,
    ),
  ];
  lines.push(failed ? `fuzz:thrift-filter: FAILED in ${failed.config.name}: ${failed.result.failure!.message}` : "fuzz:thrift-filter: OK (0 traps, memory flat)");
  return lines.join("\n");
}
