/**
 * The proto3 JSON forms Envoy's parser accepts for scalars and well-known types
 * (protocolbuffers/protobuf src/google/protobuf/json/internal/parser.cc): integers as numbers or
 * decimal strings within the type's range, enums by name or by any int32 (proto3 enums are open:
 * `ParseEnum` takes a number as is), bytes as base64, Duration as `"1.5s"`, wrappers as the bare
 * wrapped value. Each check returns the value as PGV rules see it, or what is wrong.
 */
import type protobuf from "protobufjs";
import { parseDuration } from "./duration.js";
import type { RuleValue } from "./pgv-rules.js";

/** Wrapper types whose JSON form is the wrapped scalar, and that scalar's type. */
export const WRAPPERS: Readonly<Record<string, string>> = {
  "google.protobuf.DoubleValue": "double",
  "google.protobuf.FloatValue": "float",
  "google.protobuf.Int64Value": "int64",
  "google.protobuf.UInt64Value": "uint64",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.BoolValue": "bool",
  "google.protobuf.StringValue": "string",
  "google.protobuf.BytesValue": "bytes",
};

/** Well-known types whose JSON form is not an object of fields (an Any holds them in `value`). */
export const SPECIAL_JSON: ReadonlySet<string> = new Set([
  ...Object.keys(WRAPPERS),
  "google.protobuf.Duration",
  "google.protobuf.Timestamp",
  "google.protobuf.FieldMask",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.Any",
]);

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** A checked value: what rules see, or the problem (a sentence without the path). */
export type Checked = { readonly value: RuleValue } | { readonly problem: string };

/** How a JSON value is named in messages. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

const bad = (expected: string, value: unknown): Checked => ({ problem: `expected ${expected}, got ${kindOf(value)}` });

/** A scalar field's JSON value (`type` is protobuf's scalar name, e.g. "uint32"). */
export function checkScalar(type: string, value: unknown): Checked {
  switch (type) {
    case "string":
      return typeof value === "string" ? { value: { kind: "string", v: value } } : bad("a string", value);
    case "bool":
      return typeof value === "boolean" ? { value: { kind: "bool", v: value } } : bad("true or false", value);
    case "bytes":
      // protobuf's JSON parser takes standard and URL-safe base64, padded or not.
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return bad("base64 bytes", value);
      return { value: { kind: "bytes", v: Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64") } };
    case "double":
    case "float": {
      if (typeof value === "number") return { value: { kind: "float", n: value } };
      if (typeof value === "string" && /^-?(Infinity|NaN)$/.test(value)) return { value: { kind: "float", n: Number(value) } };
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return { value: { kind: "float", n: Number(value) } };
      return bad(`a number (${type})`, value);
    }
    default: {
      const range = INT_RANGES[type];
      if (range === undefined) return bad(`a value of unsupported scalar type ${type}`, value);
      let n: bigint | undefined;
      if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
      else if (typeof value === "string" && /^-?\d+$/.test(value)) n = BigInt(value);
      if (n === undefined) return bad(`an integer (${type})`, value);
      if (n < range[0] || n > range[1]) return { problem: `${n} is out of range for ${type} [${range[0]}, ${range[1]}]` };
      return { value: { kind: "int", n } };
    }
  }
}

/** The default value of an unset scalar field (PGV checks it: proto3 scalars have no presence). */
export function scalarDefault(type: string): RuleValue {
  switch (type) {
    case "string": return { kind: "string", v: "" };
    case "bool": return { kind: "bool", v: false };
    case "bytes": return { kind: "bytes", v: Buffer.alloc(0) };
    case "double":
    case "float": return { kind: "float", n: 0 };
    default: return { kind: "int", n: 0n };
  }
}

/** An enum field's JSON value: a value name, or any int32. */
export function checkEnum(e: protobuf.Enum, value: unknown, suggest: (name: string, candidates: readonly string[]) => string): Checked {
  const view = (n: number): Checked => ({ value: { kind: "enum", n, defined: Object.values(e.values), names: e.values } });
  if (typeof value === "string" && value in e.values) return view(e.values[value]!);
  const asInt = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : undefined;
  if (asInt !== undefined && Number.isInteger(asInt) && asInt >= -(2 ** 31) && asInt < 2 ** 31) return view(asInt);
  return {
    problem: `${JSON.stringify(value)} is not a value of enum ${e.fullName.replace(/^\./, "")}; valid: ${Object.keys(e.values).join(", ")}`
      + (typeof value === "string" ? suggest(value, Object.keys(e.values)) : ""),
  };
}

/** A well-known type with a special JSON form (not Any, which the walker unpacks). */
export function checkWellKnown(name: string, value: unknown): Checked | undefined {
  const wrapped = WRAPPERS[name];
  if (wrapped !== undefined) return checkScalar(wrapped, value);
  switch (name) {
    case "google.protobuf.Duration": {
      const ns = typeof value === "string" ? parseDuration(value) : undefined;
      if (ns === undefined) return bad(`a duration such as "5s" or "0.250s"`, value);
      // protobuf's Duration range: ±315,576,000,000 s (util/time_util.h kDurationMaxSeconds).
      if (ns > 315_576_000_000n * 1_000_000_000n || ns < -315_576_000_000n * 1_000_000_000n) return { problem: `${value} is out of range for a Duration (±315576000000s)` };
      return { value: { kind: "duration", ns } };
    }
    case "google.protobuf.Timestamp": {
      const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(ms)) return bad("an RFC 3339 timestamp", value);
      return { value: { kind: "timestamp", ns: BigInt(ms) * 1_000_000n } };
    }
    case "google.protobuf.FieldMask":
      return typeof value === "string" ? { value: { kind: "string", v: value } } : bad("a field mask string", value);
    case "google.protobuf.Struct":
      return value !== null && typeof value === "object" && !Array.isArray(value) ? undefined : bad("a mapping (google.protobuf.Struct)", value);
    case "google.protobuf.ListValue":
      return Array.isArray(value) ? undefined : bad("a list (google.protobuf.ListValue)", value);
    default:
      return undefined;
  }
}
