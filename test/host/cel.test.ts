import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { celParseError, expressionCount, exprCreate, exprDelete, exprEvaluate } from "./cel.js";
import { FOREIGN_FUNCTIONS } from "./foreign.js";
import { FilterState, WasmResult } from "./index.js";
import type { Context } from "./context.js";
import type { ConnectionInfo, HeaderList, StreamInfo } from "./types.js";

/**
 * A context as the CEL activation sees it: an HTTP stream in on_log (request complete, response
 * code and flags set), its root, and the host's switch for the CEL foreign functions.
 */
function stream(opts: { celParser?: boolean; requestHeaders?: HeaderList; flags?: StreamInfo["responseFlags"] } = {}): Context {
  const connection: ConnectionInfo = {
    id: 0xfffffffffffffff0n,
    source: { host: "10.1.2.3", port: 51000 },
    destination: { host: "10.9.8.7", port: 8080 },
    requestedServerName: "",
    listenerDirection: "INBOUND",
    filterState: new FilterState(),
    filterChainName: "fc",
  };
  const streamInfo: StreamInfo = {
    connection,
    filterState: new FilterState(),
    responseCode: 503,
    requestCompleteNs: 1_500_000_000n,
    responseFlags: opts.flags,
  };
  const vm = { host: { nodeMetadata: { NAMESPACE: "ns1" }, celParser: opts.celParser }, plugin: { name: "p", rootId: "r", vmId: "" } };
  const root = { vm, root: undefined as unknown, connection: () => undefined, filterState: () => undefined } as unknown as { root: unknown };
  root.root = root;
  return {
    vm,
    root,
    httpCallbacks: { streamInfo },
    requestHeaders: opts.requestHeaders ?? [[":method", "GET"], ["x-a", "1"], ["x-a", "2"]],
    responseHeaders: [[":status", "503"]],
    responseTrailers: null,
    connection: () => connection,
    filterState: () => streamInfo.filterState,
  } as unknown as Context;
}

function token(r: { result: WasmResult; data?: Uint8Array }): Uint8Array {
  assert.equal(r.result, WasmResult.Ok);
  assert.equal(r.data?.length, 4);
  return r.data!;
}

/** Proxy-wasm pairs with raw values → { key: hex of value }. */
function pairsHex(b: Uint8Array): Record<string, string> {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const n = dv.getUint32(0, true);
  const out: Record<string, string> = {};
  let p = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + i * 8, true);
    const vl = dv.getUint32(8 + i * 8, true);
    const k = Buffer.from(b.subarray(p, p + kl)).toString();
    p += kl + 1;
    out[k] = Buffer.from(b.subarray(p, p + vl)).toString("hex");
    p += vl + 1;
  }
  return out;
}

const le64 = (n: bigint, signed = true) => {
  const b = Buffer.alloc(8);
  if (signed) b.writeBigInt64LE(n);
  else b.writeBigUInt64LE(n);
  return b.toString("hex");
};
const hex = (s: string) => Buffer.from(s).toString("hex");

function evaluate(ctx: Context, src: string): { result: WasmResult; data?: Uint8Array } {
  return exprEvaluate(ctx, token(exprCreate(ctx, new TextEncoder().encode(src))));
}

describe("CEL foreign functions (expr_create / expr_evaluate / expr_delete)", () => {
  it("a map literal of attributes serializes as pairs with each value in serializeValue's encoding", () => {
    const ctx = stream({ flags: ["UpstreamConnectionFailure"] });
    const r = evaluate(ctx, "{'d': request.duration, 'f': response.flags, 'c': connection_id, 's': response.code, 'm': request.method, 'mtls': connection.mtls, 'n': xds.node.metadata.NAMESPACE}");
    assert.equal(r.result, WasmResult.Ok);
    assert.deepEqual(pairsHex(r.data!), {
      d: le64(1_500_000_000n),
      // UpstreamConnectionFailure (UF) is bit 1 << 5 of legacyResponseFlags.
      f: le64(0x20n),
      c: le64(0xfffffffffffffff0n, false),
      s: le64(503n),
      m: hex("GET"),
      mtls: "00",
      n: hex("ns1"),
    });
  });

  it("a missing header fails the whole evaluation unguarded (InternalFailure) and not when guarded", () => {
    const ctx = stream();
    assert.equal(evaluate(ctx, "{'u': request.headers['x-missing']}").result, WasmResult.InternalFailure);
    assert.equal(evaluate(ctx, "{'u': request.useragent}").result, WasmResult.InternalFailure);
    const g = evaluate(ctx, "{'u': 'x-missing' in request.headers ? request.headers['x-missing'] : '', 'a': request.headers['x-a'], 'h': has(request.useragent), 'm': has(request.method)}");
    assert.equal(g.result, WasmResult.Ok);
    // HeadersWrapper joins every value of a header with ",".
    assert.deepEqual(pairsHex(g.data!), { u: "", a: hex("1,2"), h: "00", m: "01" });
  });

  it("types: ints, uints, bools and strings as literals; comparisons; || absorbs an error it does not need", () => {
    const ctx = stream();
    const r = evaluate(ctx, `{"i": 7, "u": 7u, "b": true, "e": response.code == 503, "o": request.useragent == 'x' || true, "n": !(1 != 1)}`);
    assert.equal(r.result, WasmResult.Ok);
    assert.deepEqual(pairsHex(r.data!), { i: le64(7n), u: le64(7n, false), b: "01", e: "01", o: "01", n: "01" });
    assert.equal(evaluate(ctx, "response.code == 'x'").result, WasmResult.InternalFailure);
    assert.equal(evaluate(ctx, "request.useragent == 'x' && true").result, WasmResult.InternalFailure);
    assert.equal(evaluate(ctx, "response.code").result, WasmResult.Ok);
  });

  it("a value that cannot be listed (an attribute wrapper) is SerializationFailure, as from get_property", () => {
    const ctx = stream();
    assert.equal(evaluate(ctx, "{'r': request}").result, WasmResult.SerializationFailure);
    assert.equal(evaluate(ctx, "request").result, WasmResult.SerializationFailure);
    const h = evaluate(ctx, "request.headers");
    assert.equal(h.result, WasmResult.Ok);
    assert.deepEqual(pairsHex(h.data!), { ":method": hex("GET"), "x-a": hex("1,2") });
  });

  it("expr_create answers BadArgument for anything outside the subset, and names why", () => {
    const ctx = stream();
    for (const src of ["", "{'a': }", "size(request.headers)", "request.headers[", "has(request)", "1 + 2", "[1, 2]", "'a\\q'"]) {
      assert.equal(exprCreate(ctx, new TextEncoder().encode(src)).result, WasmResult.BadArgument, src);
      assert.notEqual(celParseError(src), "", src);
    }
    assert.equal(celParseError("{'d': request.duration}"), "");
  });

  it("tokens live in the root context's store: evaluate unknown → NotFound, bad width → BadArgument, delete frees", () => {
    const ctx = stream();
    const t = token(exprCreate(ctx, new TextEncoder().encode("response.code")));
    const before = expressionCount(ctx);
    assert.equal(exprEvaluate(ctx, new Uint8Array([1, 2])).result, WasmResult.BadArgument);
    assert.equal(exprEvaluate(ctx, new Uint8Array([0xff, 0xff, 0xff, 0x7f])).result, WasmResult.NotFound);
    assert.equal(exprDelete(ctx, t).result, WasmResult.Ok);
    assert.equal(expressionCount(ctx), before - 1);
    assert.equal(exprEvaluate(ctx, t).result, WasmResult.NotFound);
    assert.equal(exprDelete(ctx, t).result, WasmResult.Ok);
    assert.equal(exprDelete(ctx, new Uint8Array(5)).result, WasmResult.BadArgument);
    // Another root (another plugin) does not see the token.
    const other = stream();
    const t2 = token(exprCreate(ctx, new TextEncoder().encode("response.code")));
    assert.equal(exprEvaluate(other, t2).result, WasmResult.NotFound);
  });

  it("a host without WASM_USE_CEL_PARSER (Windows) has no expr_* functions: NotFound", () => {
    const ctx = stream({ celParser: false });
    for (const name of ["expr_create", "expr_evaluate", "expr_delete"]) {
      assert.equal(FOREIGN_FUNCTIONS.get(name)!(ctx, new Uint8Array(4)).result, WasmResult.NotFound, name);
    }
    const on = stream();
    assert.equal(FOREIGN_FUNCTIONS.get("expr_create")!(on, new TextEncoder().encode("1")).result, WasmResult.Ok);
  });

  it("filter state written by set_property is reachable by key, guarded with `in`", () => {
    const ctx = stream();
    const conn = ctx.connection()!;
    const r0 = evaluate(ctx, "{'p': 'wasm.protomesh.protocol' in filter_state ? filter_state['wasm.protomesh.protocol'] : ''}");
    assert.equal(r0.result, WasmResult.Ok);
    assert.deepEqual(pairsHex(r0.data!), { p: "" });
    conn.filterState.set("wasm.protomesh.protocol", { value: new TextEncoder().encode("dubbo"), span: "Connection", readOnly: false });
    const r1 = evaluate(ctx, "{'p': 'wasm.protomesh.protocol' in filter_state ? filter_state['wasm.protomesh.protocol'] : ''}");
    assert.deepEqual(pairsHex(r1.data!), { p: hex("dubbo") });
  });
});
