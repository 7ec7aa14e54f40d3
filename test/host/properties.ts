/**
 * proxy_get_property / proxy_set_property as Envoy answers them.
 *
 * Envoy: source/extensions/common/wasm/context.cc (getProperty walks `\0`-separated segments;
 * findValue asks the CEL StreamActivation first, then the wasm-only tokens plugin_name,
 * plugin_root_id, plugin_vm_id, connection_id, then filter state `wasm.<name>` holding a
 * CelState), source/extensions/filters/common/expr/context.cc (the attribute wrappers) and
 * serializeValue (string/bytes raw, int64/uint64/double little-endian 8 bytes, bool 1 byte,
 * maps as proxy-wasm pairs). A dotted single segment such as "source.address" is not a
 * top-level name and answers NotFound.
 *
 * serializeValue's map case asks the map for ListKeys() and answers SerializationFailure when
 * that fails; Envoy's attribute wrappers (BaseWrapper in filters/common/expr/context.h:
 * request, response, connection, upstream, source, destination, filter_state, xds) answer
 * "ListKeys() is not implemented", so reading such a map whole is SerializationFailure. Header
 * maps (HeadersWrapper) and protobuf map fields do list their keys and serialize as pairs. An
 * empty path leaves getProperty's CelValue default-constructed (null type), which
 * serializeValue also rejects with SerializationFailure.
 */
import { marshalPairs, WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import { legacyResponseFlags } from "./response-flags.js";
import type { Address, ConnectionInfo, FilterState, FilterStateEntry, HeaderList, LifeSpan, NodeMetadata } from "./types.js";

/** A CEL value as the attribute wrappers answer it (also cel.ts's evaluation values). */
export type CelValue = Value;

type Value =
  | { readonly t: "string"; readonly v: string }
  | { readonly t: "bytes"; readonly v: Uint8Array }
  | { readonly t: "int64"; readonly v: bigint }
  | { readonly t: "uint64"; readonly v: bigint }
  | { readonly t: "bool"; readonly v: boolean }
  /** `keys` undefined: an attribute wrapper whose ListKeys() is unimplemented (not serializable). */
  | { readonly t: "map"; readonly get: (key: string) => Value | undefined; readonly keys: (() => string[]) | undefined }
  /** A protobuf message (dynamic metadata): serialized as its wire bytes; fields walked by name. */
  | { readonly t: "message"; readonly bytes: Uint8Array; readonly field: (name: string) => Value | undefined };

export const CEL_STATE_KEY_PREFIX = "wasm.";

/**
 * A filter-state entry written by set_property (Envoy CelState, default prototype: bytes,
 * mutable, life span FilterChain); other entries are not properties. A class so the check is
 * an instanceof rather than a WeakSet (whose add costs more than the whole write).
 */
class CelStateEntry implements FilterStateEntry {
  constructor(readonly value: Uint8Array) {}
  // On the prototype: one field per entry instead of three (an entry is made per write).
  get span(): LifeSpan {
    return "FilterChain";
  }
  get readOnly(): boolean {
    return false;
  }
}

/** `wasm.<path>` per path, so repeated writes reuse one key string (hash computed once). */
const celKeys = new Map<string, string>();

function celKey(path: string): string {
  let k = celKeys.get(path);
  if (k === undefined) {
    if (celKeys.size >= 1024) celKeys.clear();
    k = CEL_STATE_KEY_PREFIX + path;
    celKeys.set(path, k);
  }
  return k;
}

const DIRECTIONS = { UNSPECIFIED: 0n, INBOUND: 1n, OUTBOUND: 2n } as const;

/** Network::Address::Instance::asString: "ip:port", IPv6 in brackets. */
export function formatAddress(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function str(v: string): Value {
  return { t: "string", v };
}

/** An attribute wrapper (BaseWrapper): fields by name, no key listing. */
function map(fields: Record<string, () => Value | undefined>): Value {
  return {
    t: "map",
    get: (k) => (Object.prototype.hasOwnProperty.call(fields, k) ? fields[k]() : undefined),
    keys: undefined,
  };
}

/**
 * HeadersWrapper: a key reads every value of that header joined with "," (HeaderUtility::
 * getAllOfHeaderAsString), and the keys are listed once each.
 */
function headerMap(headers: HeaderList | null): Value {
  return {
    t: "map",
    get: (k) => {
      if (!headers) return undefined;
      const lk = k.toLowerCase();
      let out: string | undefined;
      for (const [hk, hv] of headers) if (hk === lk) out = out === undefined ? hv : `${out},${hv}`;
      return out === undefined ? undefined : str(out);
    },
    keys: () => (headers ? [...new Set(headers.map(([k]) => k))] : []),
  };
}

const EMPTY = new Uint8Array(0);

/** A protobuf map field (FieldBackedMapImpl) with no entries: lists no keys, serializes as empty pairs. */
const EMPTY_PROTO_MAP: Value = { t: "map", get: () => undefined, keys: () => [] };

/**
 * `metadata` is the stream's dynamic metadata (envoy.config.core.v3.Metadata, a message). The
 * emulator has none, so it is the empty message: empty bytes, and its two map fields empty.
 */
const EMPTY_METADATA: Value = {
  t: "message",
  bytes: EMPTY,
  field: (name) => (name === "filter_metadata" || name === "typed_filter_metadata" ? EMPTY_PROTO_MAP : undefined),
};

/** protobuf length-delimited field. */
function ld(field: number, body: Uint8Array): Uint8Array {
  const head: number[] = [(field << 3) | 2];
  let n = body.length;
  while (n >= 0x80) {
    head.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  head.push(n);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** google.protobuf.Struct wire bytes: `fields` (1) entries {key 1, Value 2}; Value string 3 | struct 5. */
function structBytes(m: NodeMetadata): Uint8Array {
  return concat(
    Object.keys(m)
      .sort()
      .map((k) => {
        const v = m[k]!;
        const value = typeof v === "string" ? ld(3, enc.encode(v)) : ld(5, structBytes(v));
        return ld(1, concat([ld(1, enc.encode(k)), ld(2, value)]));
      }),
  );
}

/** A Struct as CEL sees it: a map whose keys list, strings and nested maps as values. */
function structValue(m: NodeMetadata): Value {
  return {
    t: "map",
    get: (k) => {
      if (!Object.prototype.hasOwnProperty.call(m, k)) return undefined;
      const v = m[k]!;
      return typeof v === "string" ? str(v) : structValue(v);
    },
    keys: () => Object.keys(m),
  };
}

/**
 * `xds.node`: the bootstrap envoy.config.core.v3.Node as a message (XDSWrapper,
 * source/extensions/filters/common/expr/context.cc); read whole it is its wire bytes
 * (`metadata` = field 3), and `metadata` walks on as a Struct.
 */
function nodeValue(meta: NodeMetadata | undefined): Value {
  const m = meta ?? {};
  return {
    t: "message",
    bytes: Object.keys(m).length === 0 ? EMPTY : ld(3, structBytes(m)),
    field: (name) => (name === "metadata" ? structValue(m) : undefined),
  };
}

function header(headers: HeaderList | null, name: string): Value | undefined {
  if (!headers) return undefined;
  for (const [k, v] of headers) if (k === name) return str(v);
  return undefined;
}

function lookupCelState(ctx: Context, key: string): FilterStateEntry | undefined {
  const fs = ctx.filterState();
  let e = fs?.get(key);
  if (e instanceof CelStateEntry) return e;
  // An HTTP stream's filter state sees the connection's (FilterStateImpl parent chain).
  const conn = ctx.connection()?.filterState;
  if (conn && conn !== fs) {
    e = conn.get(key);
    if (e instanceof CelStateEntry) return e;
  }
  return undefined;
}

/** The activation's top-level names (Context::findValue), for get_property and CEL expressions alike. */
export function celTopLevel(ctx: Context, name: string): Value | undefined {
  return topLevel(ctx, name);
}

function topLevel(ctx: Context, name: string): Value | undefined {
  const conn = ctx.connection();
  const http = ctx.httpCallbacks;
  if (conn) {
    switch (name) {
      case "source":
        return map({
          address: () => str(formatAddress(conn.source)),
          port: () => ({ t: "int64", v: BigInt(conn.source.port) }),
        });
      case "destination":
        return map({
          address: () => str(formatAddress(conn.destination)),
          port: () => ({ t: "int64", v: BigInt(conn.destination.port) }),
        });
      case "connection":
        return map({
          id: () => ({ t: "uint64", v: conn.id }),
          mtls: () => ({ t: "bool", v: false }),
          requested_server_name: () => str(conn.requestedServerName),
        });
      case "upstream":
        return map({
          address: () => (conn.upstreamAddress ? str(formatAddress(conn.upstreamAddress)) : undefined),
          port: () => (conn.upstreamAddress ? { t: "int64", v: BigInt(conn.upstreamAddress.port) } : undefined),
        });
      case "xds":
        return map({
          cluster_name: () => {
            const c = http?.streamInfo.upstreamCluster ?? conn.upstreamCluster;
            return c === undefined ? undefined : str(c);
          },
          listener_direction: () => ({ t: "int64", v: DIRECTIONS[conn.listenerDirection] }),
          filter_chain_name: () => str(conn.filterChainName),
          node: () => nodeValue(ctx.vm.host.nodeMetadata),
        });
      case "metadata":
        return EMPTY_METADATA;
      case "filter_state": {
        const sources: FilterState[] = [];
        const fs = ctx.filterState();
        if (fs) sources.push(fs);
        if (conn.filterState !== fs) sources.push(conn.filterState);
        return {
          t: "map",
          get: (k) => {
            for (const s of sources) {
              const e = s.get(k);
              // FilterStateWrapper: an object with field support walks on by field name.
              if (e?.fields) return map(Object.fromEntries(Object.entries(e.fields).map(([f, v]) => [f, () => str(v)])));
              if (e) return { t: "bytes", v: e.value };
            }
            return undefined;
          },
          keys: undefined,
        };
      }
      case "connection_id":
        return { t: "uint64", v: conn.id };
    }
  }
  if (http) {
    const reqHeaders = ctx.requestHeaders ?? ctx.accessLogRequestHeaders;
    const respHeaders = ctx.responseHeaders ?? ctx.accessLogResponseHeaders;
    if (name === "request") {
      return map({
        headers: () => headerMap(reqHeaders),
        path: () => header(reqHeaders, ":path"),
        url_path: () => {
          const p = header(reqHeaders, ":path");
          if (!p || p.t !== "string") return undefined;
          const q = p.v.indexOf("?");
          return str(q < 0 ? p.v : p.v.slice(0, q));
        },
        host: () => header(reqHeaders, ":authority"),
        scheme: () => header(reqHeaders, ":scheme"),
        method: () => header(reqHeaders, ":method"),
        referer: () => header(reqHeaders, "referer"),
        useragent: () => header(reqHeaders, "user-agent"),
        id: () => header(reqHeaders, "x-request-id"),
        // RequestWrapper Duration: StreamInfo::requestComplete(), absent until the stream ends
        // (Envoy source/extensions/filters/common/expr/context.cc); a CEL duration is written
        // as int64 nanoseconds (source/extensions/common/wasm/context.cc serializeValue).
        duration: () => {
          const d = http.streamInfo.requestCompleteNs;
          return d === undefined ? undefined : { t: "int64", v: d };
        },
      });
    }
    if (name === "response") {
      return map({
        code: () =>
          http.streamInfo.responseCode === undefined ? undefined : { t: "int64", v: BigInt(http.streamInfo.responseCode) },
        headers: () => headerMap(respHeaders),
        trailers: () => headerMap(ctx.responseTrailers ?? ctx.accessLogResponseTrailers),
        // ResponseWrapper Flags: CreateInt64(legacyResponseFlags()), the core flags' bit set,
        // 0 when none (a field every stream has, unlike `code`).
        flags: () => ({ t: "int64", v: legacyResponseFlags(http.streamInfo.responseFlags ?? []) }),
      });
    }
  }
  // StreamActivation::FindValue answers `xds` (XDSWrapper) even without stream info (a root
  // context); its stream fields are then absent.
  if (name === "xds" && !conn) return map({ node: () => nodeValue(ctx.vm.host.nodeMetadata) });
  switch (name) {
    case "plugin_name":
      return str(ctx.vm.plugin.name);
    case "plugin_root_id":
      return str(ctx.vm.plugin.rootId);
    case "plugin_vm_id":
      return str(ctx.vm.plugin.vmId);
  }
  if (http && name === "metadata") return EMPTY_METADATA;
  if (conn || http) {
    const e = lookupCelState(ctx, celKey(name));
    if (e) return { t: "bytes", v: e.value };
  }
  return undefined;
}

const enc = new TextEncoder();

/** serializeValue; null is SerializationFailure. */
function serialize(v: Value): Uint8Array | null {
  switch (v.t) {
    case "string":
      return enc.encode(v.v);
    case "bytes":
      return v.v;
    case "int64": {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, v.v, true);
      return b;
    }
    case "uint64": {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v.v, true);
      return b;
    }
    case "bool":
      return new Uint8Array([v.v ? 1 : 0]);
    case "message":
      return v.bytes;
    case "map": {
      if (v.keys === undefined) return null;
      const pairs: Array<[string, string]> = [];
      const dec = new TextDecoder("latin1");
      for (const k of v.keys()) {
        const fv = v.get(k);
        if (!fv) continue;
        if (fv.t === "string") {
          pairs.push([k, fv.v]);
          continue;
        }
        const b = serialize(fv);
        if (b === null) return null;
        pairs.push([k, dec.decode(b)]);
      }
      return marshalPairs(pairs);
    }
  }
}

export function getProperty(ctx: Context, path: string): { result: WasmResult; value?: Uint8Array } {
  const value = getPropertyValue(ctx, path);
  return typeof value === "number" ? { result: value } : { result: WasmResult.Ok, value };
}

/**
 * The connection attributes a filter reads most, by their raw `\0`-joined path, answered
 * without building the attribute maps above. Each gives exactly what the general walk gives
 * for that path on a context that has a connection (the only case they are used in);
 * `undefined` is NotFound.
 */
type FastProperty = (ctx: Context, conn: ConnectionInfo) => Uint8Array | undefined;

function int64(v: number): Uint8Array {
  // A port or direction: a small non-negative integer, little-endian, upper bytes zero.
  const b = new Uint8Array(8);
  b[0] = v & 0xff;
  b[1] = (v >>> 8) & 0xff;
  b[2] = (v >>> 16) & 0xff;
  b[3] = (v >>> 24) & 0xff;
  return b;
}

function uint64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

const FAST_PROPERTIES = new Map<string, FastProperty>([
  ["source\0address", (_c, conn) => enc.encode(formatAddress(conn.source))],
  ["source\0port", (_c, conn) => int64(conn.source.port)],
  ["destination\0address", (_c, conn) => enc.encode(formatAddress(conn.destination))],
  ["destination\0port", (_c, conn) => int64(conn.destination.port)],
  ["connection\0id", (_c, conn) => uint64(conn.id)],
  ["connection\0mtls", () => new Uint8Array([0])],
  ["connection\0requested_server_name", (_c, conn) => enc.encode(conn.requestedServerName)],
  ["connection_id", (_c, conn) => uint64(conn.id)],
  ["upstream\0address", (_c, conn) => (conn.upstreamAddress ? enc.encode(formatAddress(conn.upstreamAddress)) : undefined)],
  ["upstream\0port", (_c, conn) => (conn.upstreamAddress ? int64(conn.upstreamAddress.port) : undefined)],
  [
    "xds\0cluster_name",
    (ctx, conn) => {
      const c = ctx.httpCallbacks?.streamInfo.upstreamCluster ?? conn.upstreamCluster;
      return c === undefined ? undefined : enc.encode(c);
    },
  ],
  ["xds\0listener_direction", (_c, conn) => int64(Number(DIRECTIONS[conn.listenerDirection]))],
  ["xds\0filter_chain_name", (_c, conn) => enc.encode(conn.filterChainName)],
  ["plugin_name", (ctx) => enc.encode(ctx.vm.plugin.name)],
  ["plugin_root_id", (ctx) => enc.encode(ctx.vm.plugin.rootId)],
  ["plugin_vm_id", (ctx) => enc.encode(ctx.vm.plugin.vmId)],
]);

/** Path segments by raw path: a module asks for the same few paths again and again. */
const splitPaths = new Map<string, readonly string[]>();

function splitPath(path: string): readonly string[] {
  let parts = splitPaths.get(path);
  if (parts === undefined) {
    const p = path.split("\0");
    // A trailing NUL leaves an empty last segment that Envoy's loop never visits.
    if (p.length > 1 && p[p.length - 1] === "") p.pop();
    parts = p;
    if (splitPaths.size >= 1024) splitPaths.clear();
    splitPaths.set(path, parts);
  }
  return parts;
}

/** get_property's value (serialized), or null when it is not Ok (NotFound or SerializationFailure). */
export function getPropertyBytes(ctx: Context, path: string): Uint8Array | null {
  const v = getPropertyValue(ctx, path);
  return typeof v === "number" ? null : v;
}

/** get_property's value (serialized), or the WasmResult Envoy answers instead. */
export function getPropertyValue(ctx: Context, path: string): Uint8Array | WasmResult {
  if (path.length === 0) return WasmResult.SerializationFailure;
  const fast = FAST_PROPERTIES.get(path);
  if (fast !== undefined) {
    const conn = ctx.connection();
    if (conn !== undefined) return fast(ctx, conn) ?? WasmResult.NotFound;
  }
  return getPropertySlow(ctx, splitPath(path));
}

function getPropertySlow(ctx: Context, parts: readonly string[]): Uint8Array | WasmResult {
  let value = topLevel(ctx, parts[0]);
  if (!value) return WasmResult.NotFound;
  for (let i = 1; i < parts.length; i++) {
    let next: Value | undefined;
    if (value.t === "map") next = value.get(parts[i]);
    else if (value.t === "message") next = value.field(parts[i]);
    if (!next) return WasmResult.NotFound;
    value = next;
  }
  return serialize(value) ?? WasmResult.SerializationFailure;
}

/**
 * Context::setProperty: no stream info (root context) → NotFound; otherwise filter state
 * `wasm.<path>` holds a CelState (default prototype: bytes, mutable, life span FilterChain)
 * whose value is the raw bytes given.
 */
export function setProperty(ctx: Context, path: string, value: Uint8Array): WasmResult {
  return setPropertyOwned(ctx, path, value.slice());
}

/** setProperty() for a value the caller already copied (the filter state keeps it as is). */
export function setPropertyOwned(ctx: Context, path: string, owned: Uint8Array): WasmResult {
  const fs = ctx.filterState();
  if (fs === undefined) return WasmResult.NotFound;
  if (!fs.set(celKey(path), new CelStateEntry(owned))) return WasmResult.BadArgument;
  return WasmResult.Ok;
}
