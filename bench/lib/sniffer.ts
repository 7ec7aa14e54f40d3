/**
 * The sniffer section of `npm run bench`: ns per classification, i.e. per connection that the
 * sniffer classifies (context create + on_new_connection + the first-flight data callback(s)
 * until it decided + close), for every recorded first flight, in `route` and `observe` mode,
 * against the AS `null` and C `null-c` filters driven with exactly the same callbacks in the same
 * rounds. What the sniffer adds per connection = sniffer − AS null (same ABI layer on both sides).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Host } from "../../test/host/index.js";
import type { DataBuffer, FilterStatus, NetworkFilter, NetworkFilterFactory } from "../../test/host/types.js";
import { SERVER_GREETING, type Capture } from "../../tools/harness/captures.js";
import { BUILD, loadPlugin, pluginFailed, readCallbacks, type Plugin } from "../../tools/harness/drive.js";
import { SNIFFER_MODES, SNIFFER_WASM, snifferConfig, type SnifferMode } from "../../tools/harness/sniffer.js";
import { ShimModule } from "./shim.js";
import { measureInterleaved, type Sample } from "./stats.js";

/** The goal: the decision costs at most this much per connection. */
export const SNIFFER_GOAL_NS = 300;

/** What a connection does, the same for the sniffer and both baselines. */
export interface Script {
  /** Upstream greeting before any client byte (server-first, observe mode only). */
  readonly greeting: boolean;
  /** The sniffer had not decided after the first flight: the peer half-closes (eos). */
  readonly eos: boolean;
}

export interface SnifferRow {
  readonly capture: string;
  readonly bytes: number;
  readonly mode: SnifferMode;
  /** `protomesh.protocol` the sniffer wrote (filter state `wasm.protomesh.protocol`). */
  readonly protocol: string;
  readonly script: Script;
  readonly nullC: Sample;
  readonly nullAs: Sample;
  readonly sniffer: Sample;
  /** sniffer − null (AS), ns per connection. */
  readonly added: number;
  readonly pass: boolean;
  /** The same connection with both modules' exports called from JS over a minimal host (shim.ts). */
  readonly direct: { readonly nullAs: Sample; readonly sniffer: Sample; readonly added: number };
  /** Host calls the sniffer made for this connection, by name. */
  readonly hostCalls: Record<string, number>;
}

export interface SnifferProtocolRow {
  readonly protocol: string;
  readonly mode: SnifferMode;
  readonly captures: number;
  /** The largest added cost over the protocol's captures (what PASS/MISS judges). */
  readonly addedMax: number;
  readonly addedMedian: number;
  readonly pass: boolean;
  readonly directAddedMax: number;
}

export interface SnifferReport {
  /** Undefined when build/sniffer.wasm does not exist (section skipped, with a note). */
  readonly rows: SnifferRow[];
  readonly protocols: SnifferProtocolRow[];
  readonly goals: Array<{ mode: SnifferMode; worst: number; worstCapture: string; pass: boolean; directWorst: number; directPass: boolean }>;
}

const EMPTY = new Uint8Array(0);

function must(filter: NetworkFilter | undefined, what: string): NetworkFilter {
  if (filter === undefined) throw new Error(`${what}: create returned undefined (VM failed?)`);
  return filter;
}

/**
 * One classified connection through the host's wasm-filter adapter (no filter manager, as the
 * other bench sections). Envoy keeps the read buffer while a filter stops, so the eos read
 * carries the first flight again when the filter stopped on it, and nothing when it continued.
 */
function connect(factory: NetworkFilterFactory, c: Capture, script: Script, what: string) {
  const callbacks = readCallbacks();
  const filter = must(factory.create(callbacks), what);
  const statuses: FilterStatus[] = [filter.onNewConnection()];
  if (script.greeting) filter.onWrite({ bytes: SERVER_GREETING }, false);
  const buffer: DataBuffer = { bytes: c.bytes };
  const data = filter.onData(buffer, false);
  statuses.push(data);
  if (script.eos) {
    buffer.bytes = data === "StopIteration" ? c.bytes : EMPTY;
    statuses.push(filter.onData(buffer, true));
  }
  return { callbacks, filter, statuses };
}

function body(factory: NetworkFilterFactory, c: Capture, script: Script, what: string): (n: number) => void {
  return (n: number) => {
    for (let i = 0; i < n; i++) connect(factory, c, script, what).filter.onEvent("RemoteClose");
  };
}

const decoder = new TextDecoder();

function protocolOf(callbacks: ReturnType<typeof readCallbacks>): string | undefined {
  const entry = callbacks.connection.filterState.get("wasm.protomesh.protocol");
  return entry ? decoder.decode(entry.value) : undefined;
}

/** Runs one connection outside the timing to learn whether the first flight alone decides. */
function probe(sniffer: Plugin, c: Capture, mode: SnifferMode): { script: Script; protocol: string } {
  const greeting = mode === "observe" && c.serverFirst;
  const factory = sniffer.networkFilterFactory();
  const once = connect(factory, c, { greeting, eos: false }, `sniffer(${mode})`);
  let protocol = protocolOf(once.callbacks);
  once.filter.onEvent("RemoteClose");
  if (protocol !== undefined) return { script: { greeting, eos: false }, protocol };
  const twice = connect(factory, c, { greeting, eos: true }, `sniffer(${mode})`);
  protocol = protocolOf(twice.callbacks);
  twice.filter.onEvent("RemoteClose");
  return { script: { greeting, eos: true }, protocol: protocol ?? "(undecided)" };
}

export async function loadSniffers(host: Host, wasm = SNIFFER_WASM): Promise<Map<SnifferMode, Plugin>> {
  const out = new Map<SnifferMode, Plugin>();
  for (const mode of SNIFFER_MODES) {
    // Root id = the module's folder name (workbench contract): `sniffer` for build/sniffer.wasm.
    const rootId = path.basename(wasm).replace(/(\.debug)?\.wasm$/, "");
    const plugin = await loadPlugin(host, { name: `sniffer-${mode}`, wasm, rootId, configuration: snifferConfig(mode) });
    if (pluginFailed(plugin)) throw new Error(`sniffer(${mode}): VM failed while loading ${wasm}`);
    out.set(mode, plugin);
  }
  return out;
}

export function snifferBuilt(wasm = SNIFFER_WASM): boolean {
  return existsSync(wasm);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The sniffer (per mode) and AS null over the shim host, for the direct column. */
export async function loadShims(wasm = SNIFFER_WASM, nullWasm = path.join(BUILD, "fixtures", "null.wasm")) {
  const rootId = path.basename(wasm).replace(/(\.debug)?\.wasm$/, "");
  const sniffers = new Map<SnifferMode, ShimModule>();
  for (const mode of SNIFFER_MODES) sniffers.set(mode, await ShimModule.load(wasm, rootId, snifferConfig(mode)));
  return { sniffers, nullAs: await ShimModule.load(nullWasm, "null", "") };
}

export function measureSniffer(
  host: Host,
  baselines: { nullC: Plugin; nullAs: Plugin },
  sniffers: Map<SnifferMode, Plugin>,
  shims: Awaited<ReturnType<typeof loadShims>>,
  captures: readonly Capture[],
  options: { rounds: number; iterations: number },
): SnifferReport {
  const rows: SnifferRow[] = [];
  for (const c of captures) {
    for (const mode of SNIFFER_MODES) {
      const sniffer = sniffers.get(mode)!;
      const { script, protocol } = probe(sniffer, c, mode);
      const bodies = new Map<string, (n: number) => void>([
        ["null-c", body(baselines.nullC.networkFilterFactory(), c, script, "null-c")],
        ["null", body(baselines.nullAs.networkFilterFactory(), c, script, "null")],
        ["sniffer", body(sniffer.networkFilterFactory(), c, script, `sniffer(${mode})`)],
      ]);
      const s = measureInterleaved(bodies, options);
      // Debug lines are dropped at the host's info level; anything else must not pile up.
      host.logs.length = 0;
      if (pluginFailed(sniffer)) throw new Error(`sniffer(${mode}): VM failed on capture ${c.name}`);
      const added = s.get("sniffer")!.median - s.get("null")!.median;
      const shim = shims.sniffers.get(mode)!;
      const conn = { greeting: script.greeting ? SERVER_GREETING : undefined, data: c.bytes, eos: script.eos };
      const d = measureInterleaved(
        new Map<string, (n: number) => void>([
          ["null", (n) => { for (let i = 0; i < n; i++) shims.nullAs.connection(conn); }],
          ["sniffer", (n) => { for (let i = 0; i < n; i++) shim.connection(conn); }],
        ]),
        options,
      );
      rows.push({
        capture: c.name,
        bytes: c.bytes.length,
        mode,
        protocol,
        script,
        nullC: s.get("null-c")!,
        nullAs: s.get("null")!,
        sniffer: s.get("sniffer")!,
        added,
        pass: added <= SNIFFER_GOAL_NS,
        direct: { nullAs: d.get("null")!, sniffer: d.get("sniffer")!, added: d.get("sniffer")!.median - d.get("null")!.median },
        hostCalls: shim.count(conn),
      });
    }
  }
  const protocols: SnifferProtocolRow[] = [];
  for (const mode of SNIFFER_MODES) {
    const byProtocol = new Map<string, SnifferRow[]>();
    for (const r of rows) if (r.mode === mode) byProtocol.set(r.protocol, [...(byProtocol.get(r.protocol) ?? []), r]);
    for (const [protocol, own] of [...byProtocol].sort(([a], [b]) => a.localeCompare(b))) {
      const added = own.map((r) => r.added);
      const addedMax = Math.max(...added);
      protocols.push({
        protocol,
        mode,
        captures: own.length,
        addedMax,
        addedMedian: median(added),
        pass: addedMax <= SNIFFER_GOAL_NS,
        directAddedMax: Math.max(...own.map((r) => r.direct.added)),
      });
    }
  }
  const goals = SNIFFER_MODES.map((mode) => {
    const own = rows.filter((r) => r.mode === mode);
    const worst = own.reduce((w, r) => (r.added > w.added ? r : w), own[0]!);
    const directWorst = Math.max(...own.map((r) => r.direct.added));
    return {
      mode,
      worst: worst.added,
      worstCapture: worst.capture,
      pass: worst.added <= SNIFFER_GOAL_NS,
      directWorst,
      directPass: directWorst <= SNIFFER_GOAL_NS,
    };
  });
  return { rows, protocols, goals };
}
