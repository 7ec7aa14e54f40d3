/** protobuf JSON Durations (`"1.5s"`) and PGV's Duration rule bounds (`{seconds, nanos}`), in nanoseconds. */
import { isObject } from "./pgv-annotations.js";

/** A protobuf JSON Duration in nanoseconds, or undefined when malformed. */
export function parseDuration(text: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (m === null) return undefined;
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt((m[3] ?? "").padEnd(9, "0") || "0");
  return m[1] === "-" ? -ns : ns;
}

/** A Duration message as protobufjs parsed it from an option (`gte {nanos: 1000000}`; `{}` is 0s). */
export function durationNs(v: unknown): bigint {
  const o = isObject(v) ? v : {};
  return BigInt(String(o["seconds"] ?? 0)) * 1_000_000_000n + BigInt(String(o["nanos"] ?? 0));
}

/** `1500000000n` → `"1.5s"`. */
export function durationText(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const frac = abs % 1_000_000_000n;
  const fracText = frac === 0n ? "" : `.${frac.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${neg ? "-" : ""}${abs / 1_000_000_000n}${fracText}s`;
}
