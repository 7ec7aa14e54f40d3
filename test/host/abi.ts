/**
 * proxy-wasm ABI 0.2.1 constants and the pairs (header map) wire format.
 * Values from proxy-wasm/spec abi-versions/v0.2.1 and proxy-wasm-cpp-host include/proxy-wasm/wasm_api_impl.h.
 */

// The enums have one source, the modules' own (assembly/runtime/enums.ts, plain TypeScript-compatible
// enums); abi-enums.test.ts pins their values to the ABI.
export {
  Action, BufferType, LifeSpan, LogLevel, MapType, MetricType, PeerType, StreamType, WasmResult,
} from "../../assembly/runtime/enums.js";

/** LogLevel's names as Envoy's log levels spell them, index = value. */
export const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export function logLevelNumber(level: LogLevelName | number): number {
  if (typeof level === "number") return level;
  const n = LOG_LEVEL_NAMES.indexOf(level);
  if (n < 0) throw new Error(`unknown log level ${String(level)}; valid: ${LOG_LEVEL_NAMES.join(", ")}`);
  return n;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export function encodeUtf8(s: string): Uint8Array {
  return utf8.encode(s);
}

export function decodeUtf8(b: Uint8Array): string {
  return utf8d.decode(b);
}

/**
 * Serialises pairs the way proxy-wasm-cpp-host PairsUtil::marshalPairs does: u32 count,
 * count × (u32 key_len, u32 value_len), then each key + NUL + value + NUL.
 */
export function marshalPairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const enc: Uint8Array[] = new Array(pairs.length * 2);
  let size = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    const k = utf8.encode(pairs[i][0]);
    const v = utf8.encode(pairs[i][1]);
    enc[2 * i] = k;
    enc[2 * i + 1] = v;
    size += k.length + v.length + 2;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, pairs.length, true);
  let p = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    const k = enc[2 * i];
    const v = enc[2 * i + 1];
    dv.setUint32(4 + i * 8, k.length, true);
    dv.setUint32(8 + i * 8, v.length, true);
    out.set(k, p);
    p += k.length + 1;
    out.set(v, p);
    p += v.length + 1;
  }
  return out;
}

/**
 * Parses the pairs format (PairsUtil::toPairs). Malformed input gives an empty list, as the
 * cpp-host does.
 */
export function unmarshalPairs(data: Uint8Array): Array<[string, string]> {
  if (data.length < 4) return [];
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = dv.getUint32(0, true);
  let p = 4 + n * 8;
  if (n > 1_000_000 || p > data.length) return [];
  const out: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + i * 8, true);
    const vl = dv.getUint32(8 + i * 8, true);
    if (p + kl + vl + 2 > data.length) return [];
    const k = utf8d.decode(data.subarray(p, p + kl));
    p += kl + 1;
    const v = utf8d.decode(data.subarray(p, p + vl));
    p += vl + 1;
    out.push([k, v]);
  }
  return out;
}
