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
import protobuf from "protobufjs";
import { WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import type { LifeSpan } from "./types.js";
import { exprCreate, exprDelete, exprEvaluate } from "./cel.js";

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

/** The object's own copy of the bytes (short values by a loop: cheaper than slice()). */
function copy(v: Uint8Array): Uint8Array {
  const n = v.length;
  if (n > 16) return v.slice();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = v[i];
  return out;
}

/**
 * The factories Envoy registers that matter for protomesh (Envoy docs "well known filter
 * state"). Envoy's string accessors accept any bytes.
 */
export const OBJECT_FACTORIES: ReadonlyMap<string, ObjectFactory> = new Map<string, ObjectFactory>([
  ["envoy.tcp_proxy.cluster", copy],
  ["envoy.string", copy],
  ["envoy.network.upstream_server_name", copy],
  // Network::Utility::parseInternetAddressAndPortNoThrow: "ip:port" or "[ipv6]:port".
  ["envoy.network.transport_socket.original_dst_address", (v) => (validIpPort(dec.decode(v)) ? copy(v) : null)],
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

// The foreign-function argument and GrpcService messages, declared once for protobufjs. `value`
// is `string` in Envoy's proto; decoding it as bytes keeps non-UTF-8 values intact.
const messages = new protobuf.Root()
  .add(
    new protobuf.Type("SetEnvoyFilterStateArguments")
      .add(new protobuf.Field("path", 1, "string"))
      .add(new protobuf.Field("value", 2, "bytes"))
      .add(new protobuf.Field("span", 3, "int32")),
  )
  .add(new protobuf.Type("EnvoyGrpc").add(new protobuf.Field("clusterName", 1, "string")))
  .add(
    new protobuf.Type("GrpcService")
      .add(new protobuf.Field("envoyGrpc", 1, "EnvoyGrpc"))
      .add(new protobuf.Field("googleGrpc", 2, "bytes")),
  );
const SetEnvoyFilterStateArguments = messages.lookupType("SetEnvoyFilterStateArguments");
const GrpcService = messages.lookupType("GrpcService");

/** proto3 decode of SetEnvoyFilterStateArguments; null when ParseFromString would fail. */
export function decodeSetFilterStateArgs(b: Uint8Array): SetFilterStateArgs | null {
  try {
    const m = SetEnvoyFilterStateArguments.toObject(SetEnvoyFilterStateArguments.decode(b), { defaults: true });
    return { path: m.path as string, value: m.value as Uint8Array, span: m.span as number };
  } catch {
    return null;
  }
}

/** Encodes SetEnvoyFilterStateArguments (for tests and tools). */
export function encodeSetFilterStateArgs(path: string, value: string, span: number): Uint8Array {
  return SetEnvoyFilterStateArguments.encode({ path, value: new TextEncoder().encode(value), span }).finish();
}

/**
 * What the `service` argument of grpc_call names: Envoy first parses it as a GrpcService and,
 * when that fails, takes the bytes as a plain cluster name (context.cc grpcCall).
 */
export type GrpcServiceRef =
  | { readonly kind: "envoy_grpc"; readonly clusterName: string }
  | { readonly kind: "google_grpc" }
  | { readonly kind: "cluster_name" };

export function parseGrpcService(b: Uint8Array): GrpcServiceRef {
  try {
    const m = GrpcService.decode(b) as unknown as { envoyGrpc?: { clusterName?: string }; googleGrpc?: Uint8Array };
    if (m.envoyGrpc) return { kind: "envoy_grpc", clusterName: m.envoyGrpc.clusterName ?? "" };
    if (m.googleGrpc) return { kind: "google_grpc" };
  } catch {
    // not a GrpcService: a plain cluster name
  }
  return { kind: "cluster_name" };
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

/**
 * `args` views wasm memory: valid during the call only, so anything kept must be copied.
 * `argsKey`, when given, is the same bytes as a latin1 string (for memoizing on them).
 */
export type ForeignFunction = (ctx: Context, args: Uint8Array, argsKey?: string) => ForeignResult;

/**
 * decodeSetFilterStateArgs memoized by the argument bytes: a filter sends the same few
 * messages over and over (one per route), and the protobuf decode costs more than the rest of
 * the call. Keyed by the bytes as a latin1 string (one char per byte: lossless), which the VM
 * hands over already built and cached per pointer (WasmVm.rawKey), so a hit reads no bytes
 * here. The cached value's bytes are never written to (factories copy them).
 */
const decodedArgs = new Map<string, SetFilterStateArgs | null>();
const DECODE_CACHE_MAX_ENTRIES = 256;

function decodeSetFilterStateArgsCached(b: Uint8Array, key: string | undefined): SetFilterStateArgs | null {
  if (key === undefined) {
    if (b.length > 256) return decodeSetFilterStateArgs(b);
    key = Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
  }
  const hit = decodedArgs.get(key);
  if (hit !== undefined) return hit;
  if (decodedArgs.has(key)) return null;
  const parsed = decodeSetFilterStateArgs(b.slice());
  if (decodedArgs.size >= DECODE_CACHE_MAX_ENTRIES) decodedArgs.clear();
  decodedArgs.set(key, parsed);
  return parsed;
}

// Results without data are the same every time: no object per call.
const RESULTS: ReadonlyArray<ForeignResult | undefined> = (() => {
  const a: Array<ForeignResult | undefined> = [];
  for (const v of Object.values(WasmResult)) if (typeof v === "number") a[v] = Object.freeze({ result: v });
  return a;
})();

function resultOf(r: WasmResult): ForeignResult {
  return RESULTS[r] ?? { result: r };
}

export const FOREIGN_FUNCTIONS: ReadonlyMap<string, ForeignFunction> = new Map<string, ForeignFunction>([
  [
    "set_envoy_filter_state",
    (ctx, args, argsKey) => {
      const parsed = decodeSetFilterStateArgsCached(args, argsKey);
      if (!parsed) return resultOf(WasmResult.BadArgument);
      return resultOf(setEnvoyFilterState(ctx, parsed));
    },
  ],
  ["clear_route_cache", () => resultOf(WasmResult.Ok)],
  // CEL (cel.ts): registered only when Envoy is built with WASM_USE_CEL_PARSER (not on Windows,
  // HostOptions.celParser false); otherwise unknown functions, NotFound.
  ["expr_create", (ctx, args) => (ctx.vm.host.celParser === false ? resultOf(WasmResult.NotFound) : exprCreate(ctx, args))],
  ["expr_evaluate", (ctx, args) => (ctx.vm.host.celParser === false ? resultOf(WasmResult.NotFound) : exprEvaluate(ctx, args))],
  ["expr_delete", (ctx, args) => (ctx.vm.host.celParser === false ? resultOf(WasmResult.NotFound) : exprDelete(ctx, args))],
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
