/**
 * Foreign functions (proxy_call_foreign_function), Envoy source/extensions/common/wasm/foreign.cc.
 * `set_envoy_filter_state` decodes SetEnvoyFilterStateArguments
 * (source/extensions/common/wasm/ext/set_envoy_filter_state.proto: string path = 1;
 * string value = 2; LifeSpan span = 3 with FilterChain = 0, DownstreamRequest = 1,
 * DownstreamConnection = 2) and runs Context::setEnvoyFilterState: no object factory registered
 * for `path` → NotFound; factory rejects the value (createFromBytes null) → BadArgument; no
 * stream info (root context) → NotFound. Since Envoy 1.37 it acts on the effective context.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import type { LifeSpan } from "./types.js";

/** A filter-state object factory (StreamInfo::FilterState::ObjectFactory): bytes → stored bytes, or null. */
export type ObjectFactory = (value: Uint8Array) => Uint8Array | null;

const dec = new TextDecoder();
const IP_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$|^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/;

function validIpPort(s: string): boolean {
  const m = IP_PORT.exec(s);
  if (!m) return false;
  const port = Number(m[2] ?? m[4]);
  if (port > 65535) return false;
  if (m[1]) return m[1].split(".").every((o) => Number(o) <= 255);
  return true;
}

/**
 * The factories Envoy registers that matter for protomesh (Envoy docs "well known filter
 * state"). Envoy's string accessors accept any bytes.
 */
export const OBJECT_FACTORIES: ReadonlyMap<string, ObjectFactory> = new Map<string, ObjectFactory>([
  ["envoy.tcp_proxy.cluster", (v) => v.slice()],
  ["envoy.string", (v) => v.slice()],
  ["envoy.network.upstream_server_name", (v) => v.slice()],
  // Network::Utility::parseInternetAddressAndPortNoThrow: "ip:port" or "[ipv6]:port".
  ["envoy.network.transport_socket.original_dst_address", (v) => (validIpPort(dec.decode(v)) ? v.slice() : null)],
  [
    "envoy.tcp_proxy.per_connection_idle_timeout_ms",
    (v) => (/^\d{1,10}$/.test(dec.decode(v)) && Number(dec.decode(v)) <= 0xffffffff ? v.slice() : null),
  ],
]);

const SPANS: readonly LifeSpan[] = ["FilterChain", "Request", "Connection"];

interface SetFilterStateArgs {
  path: string;
  value: Uint8Array;
  span: number;
}

function readVarint(b: Uint8Array, pos: { p: number }): bigint | null {
  let result = 0n;
  let shift = 0n;
  while (pos.p < b.length) {
    const byte = b[pos.p++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 63n) return null;
  }
  return null;
}

/** Minimal proto3 decode of SetEnvoyFilterStateArguments; null when ParseFromString would fail. */
export function decodeSetFilterStateArgs(b: Uint8Array): SetFilterStateArgs | null {
  const out: SetFilterStateArgs = { path: "", value: new Uint8Array(0), span: 0 };
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const tag = readVarint(b, pos);
    if (tag === null) return null;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) return null;
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (v === null) return null;
      if (field === 3) out.span = Number(BigInt.asIntN(32, v));
    } else if (wire === 2) {
      const len = readVarint(b, pos);
      if (len === null || pos.p + Number(len) > b.length) return null;
      const bytes = b.subarray(pos.p, pos.p + Number(len));
      pos.p += Number(len);
      if (field === 1) out.path = dec.decode(bytes);
      else if (field === 2) out.value = bytes;
    } else if (wire === 1) {
      pos.p += 8;
    } else if (wire === 5) {
      pos.p += 4;
    } else {
      return null;
    }
    if (pos.p > b.length) return null;
  }
  return out;
}

/** Encodes SetEnvoyFilterStateArguments (for tests and tools). */
export function encodeSetFilterStateArgs(path: string, value: string, span: number): Uint8Array {
  const enc = new TextEncoder();
  const p = enc.encode(path);
  const v = enc.encode(value);
  const parts: number[] = [];
  const varint = (n: number) => {
    while (n > 0x7f) {
      parts.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    parts.push(n);
  };
  parts.push(0x0a);
  varint(p.length);
  parts.push(...p);
  parts.push(0x12);
  varint(v.length);
  parts.push(...v);
  if (span !== 0) {
    parts.push(0x18);
    varint(span);
  }
  return new Uint8Array(parts);
}

/** Context::setEnvoyFilterState. */
export function setEnvoyFilterState(ctx: Context, args: SetFilterStateArgs): WasmResult {
  const factory = OBJECT_FACTORIES.get(args.path);
  if (!factory) return WasmResult.NotFound;
  const object = factory(args.value);
  if (!object) return WasmResult.BadArgument;
  const fs = ctx.filterState();
  if (!fs) return WasmResult.NotFound;
  // toFilterStateLifeSpan: unknown values fall back to FilterChain.
  const span = SPANS[args.span] ?? "FilterChain";
  fs.set(args.path, { value: object, span, readOnly: false });
  return WasmResult.Ok;
}

/** Result of a foreign function: a WasmResult and optional bytes handed back through malloc. */
export interface ForeignResult {
  readonly result: WasmResult;
  readonly data?: Uint8Array;
}

export type ForeignFunction = (ctx: Context, args: Uint8Array) => ForeignResult;

export const FOREIGN_FUNCTIONS: ReadonlyMap<string, ForeignFunction> = new Map<string, ForeignFunction>([
  [
    "set_envoy_filter_state",
    (ctx, args) => {
      const parsed = decodeSetFilterStateArgs(args);
      if (!parsed) return { result: WasmResult.BadArgument };
      return { result: setEnvoyFilterState(ctx, parsed) };
    },
  ],
  ["clear_route_cache", () => ({ result: WasmResult.Ok })],
  // zlib compress()/uncompress() framing = zlib format (deflateSync / inflateSync).
  ["compress", (_ctx, args) => ({ result: WasmResult.Ok, data: new Uint8Array(deflateSync(args)) })],
  [
    "uncompress",
    (_ctx, args) => {
      try {
        return { result: WasmResult.Ok, data: new Uint8Array(inflateSync(args)) };
      } catch {
        return { result: WasmResult.SerializationFailure };
      }
    },
  ],
]);

/** Generic proto wire parse (length-delimited fields only kept); null when malformed. */
export function parseProtoFields(b: Uint8Array): Map<number, Uint8Array> | null {
  const out = new Map<number, Uint8Array>();
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const tag = readVarint(b, pos);
    if (tag === null) return null;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) return null;
    if (wire === 0) {
      if (readVarint(b, pos) === null) return null;
    } else if (wire === 2) {
      const len = readVarint(b, pos);
      if (len === null || pos.p + Number(len) > b.length) return null;
      out.set(field, b.subarray(pos.p, pos.p + Number(len)));
      pos.p += Number(len);
    } else if (wire === 1) {
      pos.p += 8;
    } else if (wire === 5) {
      pos.p += 4;
    } else {
      return null;
    }
    if (pos.p > b.length) return null;
  }
  return out;
}
