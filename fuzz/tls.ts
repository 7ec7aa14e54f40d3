/**
 * `npm run fuzz -- --target tls`: structure-aware ClientHellos through build/sniffer.wasm in the
 * host emulator, compared with the reference (fuzz/tls-reference.ts). Each hello is generated
 * from its parts (versions, session id, suites, compression, server_name variants, ALPN variants,
 * unknown and duplicate extensions, padding up to the largest record), then maybe one length field
 * is mutated, bytes are added after the hello, or the stream is cut; it is split into records
 * (often with a first record of 1..8 bytes) and delivered whole, in random chunks or one byte per
 * read, after other connections in the same reused stream contexts. The sniffer's filter state
 * (protomesh.protocol / .sni / .alpn) must equal the reference's verdict; a trap fails the run.
 *
 *   npm run fuzz -- --target tls --seed 7 --iterations 100000
 */
import { Host } from "../test/host/index.js";
import { loadPlugin, pluginFailed, resolveFilter } from "../tools/harness/drive.js";
import { Rng } from "./rng.js";
import { referenceVerdict, type Verdict } from "./tls-reference.js";

export interface TlsFuzzOptions {
  readonly seed: number;
  readonly iterations: number;
  /** The sniffer build to test (default build/sniffer.wasm). */
  readonly filter?: string;
  readonly print?: boolean;
}

export interface TlsDisagreement {
  readonly iteration: number;
  readonly delivery: string;
  readonly expected: Verdict;
  readonly actual: { protocol?: string; sni?: string; alpn?: string };
  readonly input: string;
}

export interface TlsFuzzResult {
  readonly seed: number;
  readonly iterations: number;
  readonly elapsedMs: number;
  readonly verdicts: Record<string, number>;
  readonly mutated: number;
  readonly split: number;
  readonly disagreements: TlsDisagreement[];
  readonly disagreementCount: number;
  readonly trapped: boolean;
}

/** The sniffer as the fuzz runs it: observe (no routing), no timeout, the default TLS cap. */
export const TLS_FUZZ_CONFIG = JSON.stringify({ mode: "observe", detect_timeout_ms: 0, stat_prefix: "tlsfuzz" });

/** Writes big-endian lengths; at most one of them (chosen by `target`) is mutated. */
class Writer {
  readonly out: number[] = [];
  fields = 0;
  constructor(private readonly rng: Rng, readonly target: number) {}
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  u24(v: number): this {
    return this.u8(v >> 16).u8(v >> 8).u8(v);
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]! & 0xff);
    return this;
  }
  /** A length field of `width` bytes holding `n` (or its mutation). */
  len(width: 1 | 2 | 3, n: number): this {
    const k = this.fields++;
    if (k === this.target) n = mutateLength(this.rng, n, width);
    if (width === 1) return this.u8(n);
    if (width === 2) return this.u16(n);
    return this.u24(n);
  }
}

function mutateLength(rng: Rng, n: number, width: 1 | 2 | 3): number {
  const max = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffff;
  const r = rng.int(8);
  const v = r < 3 ? n + rng.pick([-2, -1, 1, 2]) : r < 5 ? n + rng.range(-64, 64) : r === 5 ? 0 : r === 6 ? max : rng.int(max + 1);
  return Math.max(0, Math.min(max, v));
}

const text = (s: string): number[] => [...Buffer.from(s, "latin1")];

function hostName(rng: Rng): number[] {
  const labels = rng.range(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < labels; i++) {
    const n = rng.range(1, 12);
    let l = "";
    for (let k = 0; k < n; k++) l += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[rng.int(64)];
    parts.push(l);
  }
  const name = text(parts.join("."));
  switch (rng.int(12)) {
    case 0: name.push(0x2e); break; // trailing dot
    case 1: name.splice(rng.int(name.length + 1), 0, 0); break; // NUL
    case 2: name.splice(rng.int(name.length + 1), 0, rng.range(0x80, 0xff)); break; // non-ASCII
    case 3: name.splice(rng.int(name.length + 1), 0, rng.pick([0x20, 0x09, 0x7f, 0x2c])); break;
    case 4: return Array.from({ length: rng.range(250, 260) }, () => 0x61); // around 255
    default: break;
  }
  return name;
}

function alpnName(rng: Rng): number[] {
  const r = rng.int(10);
  if (r < 5) return text(rng.pick(["h2", "http/1.1", "grpc-exp", "istio-peer-exchange", "istio", "h3", "spdy/3.1"]));
  if (r === 5) return text(rng.pick(["a,b", "x%y", "h2,http/1.1", "with space"]));
  if (r === 6) return Array.from({ length: rng.range(1, 8) }, () => rng.int(256));
  if (r === 7) return Array.from({ length: rng.range(200, 255) }, () => 0x61 + rng.int(26));
  return text("p" + rng.int(1000).toString());
}

function serverName(w: Writer, rng: Rng): void {
  const entries: Array<{ type: number; name: number[] }> = [];
  const shape = rng.int(20);
  if (shape === 0) {
    // empty server_name_list
  } else if (shape === 1) {
    entries.push({ type: 0, name: hostName(rng) }, { type: 0, name: hostName(rng) });
  } else if (shape === 2) {
    entries.push({ type: rng.range(1, 255), name: hostName(rng) }, { type: 0, name: hostName(rng) });
  } else if (shape === 3) {
    entries.push({ type: rng.range(1, 255), name: hostName(rng) });
  } else if (shape === 4) {
    entries.push({ type: 0, name: [] });
  } else {
    entries.push({ type: 0, name: hostName(rng) });
  }
  const listLen = entries.reduce((n, e) => n + 3 + e.name.length, 0);
  w.u16(0).len(2, 2 + listLen).len(2, listLen);
  for (const e of entries) w.u8(e.type).len(2, e.name.length).bytes(e.name);
}

function alpnExt(w: Writer, rng: Rng): void {
  const names: number[][] = [];
  const n = rng.int(12) === 0 ? 0 : rng.range(1, 4);
  for (let i = 0; i < n; i++) names.push(rng.int(25) === 0 ? [] : alpnName(rng));
  const listLen = names.reduce((a, x) => a + 1 + x.length, 0);
  w.u16(16).len(2, 2 + listLen).len(2, listLen);
  for (const x of names) w.len(1, x.length).bytes(x);
}

function otherExt(w: Writer, rng: Rng, type: number, size: number): void {
  w.u16(type).len(2, size);
  for (let i = 0; i < size; i++) w.u8(rng.int(256));
}

/** One ClientHello body (the bytes after the handshake header). */
function helloBody(w: Writer, rng: Rng, big: number): void {
  const v = rng.int(40);
  w.u16(v === 0 ? rng.int(0x10000) : v === 1 ? 0x0300 : v === 2 ? 0x0305 : rng.pick([0x0301, 0x0303, 0x0303]));
  for (let i = 0; i < 32; i++) w.u8(rng.int(256));
  const sid = rng.int(30) === 0 ? rng.range(33, 40) : rng.pick([0, 32, 32, rng.int(33)]);
  w.len(1, sid);
  for (let i = 0; i < sid; i++) w.u8(rng.int(256));
  const suites = rng.int(30) === 0 ? rng.pick([0, 1, 3]) : rng.range(1, 20) * 2;
  w.len(2, suites);
  for (let i = 0; i < suites; i++) w.u8(rng.int(256));
  const comp = rng.int(30) === 0 ? (rng.chance(0.5) ? [] : [1]) : rng.pick([[0], [0], [1, 0]]);
  w.len(1, comp.length).bytes(comp);
  if (rng.int(25) === 0) return; // no extensions
  // Extensions, into their own writer so the block length is known (its fields share `w`'s count).
  const start = w.out.length;
  w.u16(0); // the block length, patched below unless mutated
  const blockField = w.fields++;
  const order: Array<() => void> = [];
  if (rng.chance(0.85)) order.push(() => serverName(w, rng));
  if (rng.chance(0.6)) order.push(() => alpnExt(w, rng));
  const others = rng.range(0, 6);
  const used = new Set<number>([0, 16, 21]);
  for (let i = 0; i < others; i++) {
    const type = rng.pick([10, 11, 13, 23, 35, 43, 45, 51, 0xff01, rng.int(0x10000)]);
    if (used.has(type)) continue;
    used.add(type);
    order.push(() => otherExt(w, rng, type, rng.int(40)));
  }
  if (rng.int(20) === 0) order.push(() => (rng.chance(0.5) ? serverName(w, rng) : alpnExt(w, rng))); // duplicate
  if (rng.int(30) === 0) order.push(() => otherExt(w, rng, 0xfe0d, 0), () => otherExt(w, rng, 0xfe0d, 1));
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const f of order) f();
  if (big > 0) {
    const pad = big - w.out.length - 4; // the padding extension's header
    if (pad >= 0) otherExt(w, rng, 21, pad);
  }
  let blockLen = w.out.length - start - 2;
  if (blockField === w.target) blockLen = mutateLength(rng, blockLen, 2);
  w.out[start] = (blockLen >> 8) & 0xff;
  w.out[start + 1] = blockLen & 0xff;
  if (rng.int(50) === 0) w.u8(rng.int(256)); // a byte after the extensions block
}

export interface GeneratedHello {
  readonly bytes: Uint8Array;
  readonly mutated: boolean;
  readonly records: number;
}

/** A connection's first bytes: a ClientHello in records, maybe mutated, maybe with more after it. */
export function generateHello(rng: Rng): GeneratedHello {
  const mutate = rng.chance(0.3);
  // Field count is not known before writing; a target past the end mutates nothing.
  const target = mutate ? rng.int(24) : -1;
  const body = new Writer(rng, target);
  // Near the largest single record (16380..16384 bytes of record) or a large multi-record hello.
  const bigRoll = rng.int(200);
  const big = bigRoll === 0 ? rng.range(16376, 16380) : bigRoll === 1 ? rng.range(16381, 16384) : 0;
  helloBody(body, rng, big > 0 ? big : 0);
  const msg = new Writer(rng, mutate && target >= body.fields ? target - body.fields : -1);
  msg.u8(rng.int(100) === 0 ? 2 : 1).len(3, body.out.length).bytes(body.out);
  if (rng.int(40) === 0) msg.u8(rng.int(256)); // handshake bytes after the ClientHello
  // Records: one, or split (often a tiny first record), maybe with empty ones.
  const sizes: number[] = [];
  let left = msg.out.length;
  const shape = rng.int(10);
  if (shape < 6 && left <= 16384) {
    sizes.push(left);
  } else {
    while (left > 0) {
      let n: number;
      if (sizes.length === 0 && rng.chance(0.5)) n = rng.range(1, 8);
      else if (rng.int(30) === 0) n = 0;
      else n = rng.range(1, Math.min(left, rng.chance(0.5) ? 64 : 16384));
      n = Math.min(n, left, 16384);
      sizes.push(n);
      left -= n;
    }
  }
  const rec = new Writer(rng, mutate && target >= body.fields + 1 ? target - body.fields - 1 : -1);
  let o = 0;
  for (const n of sizes) {
    rec.u8(22).u8(3).u8(rng.int(50) === 0 ? rng.int(256) : rng.pick([1, 3])).len(2, n);
    rec.bytes(msg.out.slice(o, o + n));
    o += n;
  }
  let out = rec.out;
  const after = rng.int(20);
  if (after === 0) out = out.concat([23, 3, 3, 0, 3, 1, 2, 3]); // application data after it
  else if (after === 1) out = out.concat(Array.from({ length: rng.range(1, 8) }, () => rng.int(256)));
  else if (after === 2) out = out.slice(0, rng.int(out.length + 1)); // the stream ends early
  if (out.length === 0) out = [22];
  return { bytes: Uint8Array.from(out), mutated: mutate, records: sizes.length };
}

const decoder = new TextDecoder("latin1");
const value = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : decoder.decode(v));

export async function runTlsFuzz(options: TlsFuzzOptions): Promise<TlsFuzzResult> {
  const rng = new Rng(options.seed);
  const host = new Host();
  const started = performance.now();
  const verdicts: Record<string, number> = {};
  const disagreements: TlsDisagreement[] = [];
  let disagreementCount = 0;
  let mutated = 0;
  let split = 0;
  let trapped = false;
  let done = 0;
  try {
    const plugin = await loadPlugin(host, resolveFilter(options.filter ?? "sniffer", TLS_FUZZ_CONFIG));
    for (let i = 0; i < options.iterations; i++) {
      const g = generateHello(rng);
      if (g.mutated) mutated++;
      if (g.records > 1) split++;
      const expected = referenceVerdict(g.bytes);
      const key = `${expected.protocol}${expected.sni !== undefined ? "+sni" : ""}${expected.alpn !== undefined ? "+alpn" : ""}`;
      verdicts[key] = (verdicts[key] ?? 0) + 1;
      const c = host.connection({ filters: [plugin], keepOutputs: false });
      c.newConnection();
      const mode = g.bytes.length <= 2048 ? rng.int(3) : rng.int(2);
      const delivery = mode === 0 ? "whole" : mode === 1 ? "chunks" : "bytes";
      let at = 0;
      while (at < g.bytes.length && !c.closed) {
        const n = mode === 0 ? g.bytes.length : mode === 2 ? 1 : rng.range(1, Math.max(1, g.bytes.length - at));
        const end = Math.min(g.bytes.length, at + n);
        c.downstreamData(g.bytes.subarray(at, end), end === g.bytes.length);
        at = end;
      }
      const fs = c.filterState;
      const actual = {
        protocol: value(fs.get("wasm.protomesh.protocol")?.value),
        sni: value(fs.get("wasm.protomesh.sni")?.value),
        alpn: value(fs.get("wasm.protomesh.alpn")?.value),
      };
      c.close("Remote");
      if (pluginFailed(plugin)) {
        trapped = true;
        disagreements.push({ iteration: i, delivery, expected, actual, input: Buffer.from(g.bytes).toString("hex") });
        break;
      }
      if (actual.protocol !== expected.protocol || actual.sni !== expected.sni || actual.alpn !== expected.alpn) {
        disagreementCount++;
        if (disagreements.length < 5) {
          disagreements.push({ iteration: i, delivery, expected, actual, input: Buffer.from(g.bytes).toString("hex") });
        }
      }
      done++;
      if (options.print && (i + 1) % 20000 === 0) console.log(`fuzz tls: ${i + 1} hellos, ${disagreementCount} disagreements`);
      if ((i & 255) === 0) await null;
    }
  } finally {
    await host.close();
  }
  return {
    seed: options.seed,
    iterations: done,
    elapsedMs: performance.now() - started,
    verdicts,
    mutated,
    split,
    disagreements,
    disagreementCount,
    trapped,
  };
}

export function describeTls(r: TlsFuzzResult): string {
  const lines = [
    `fuzz tls: seed=${r.seed} hellos=${r.iterations.toLocaleString("en-US")} (${(r.elapsedMs / 1000).toFixed(1)} s; ` +
      `${r.mutated.toLocaleString("en-US")} with a mutated length, ${r.split.toLocaleString("en-US")} over several records)`,
    `fuzz tls: reference verdicts ${Object.entries(r.verdicts).sort().map(([k, v]) => `${k}=${v}`).join(" ")}`,
    `fuzz tls: ${r.disagreementCount} disagreements, ${r.trapped ? "VM TRAPPED" : "0 traps"}`,
  ];
  for (const d of r.disagreements) {
    lines.push(
      `fuzz tls: #${d.iteration} (${d.delivery}) expected ${JSON.stringify(d.expected)} got ${JSON.stringify(d.actual)}`,
      `fuzz tls:   input ${d.input.length > 400 ? `${d.input.slice(0, 400)}… (${d.input.length / 2} bytes)` : d.input}`,
    );
  }
  return lines.join("\n");
}
