/**
 * Host calls driven directly (buildImports on a worker VM, with a chosen context current), each
 * answer checked against the source that produces it in Envoy + proxy-wasm-cpp-host.
 * "cpp-host" = proxy-wasm/proxy-wasm-cpp-host, "Envoy" = envoyproxy/envoy.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BufferType, MapType, marshalPairs, StreamType, unmarshalPairs } from "./abi.js";
import type { Context } from "./context.js";
import { buildImports } from "./imports.js";
import { FakeConnection, probeWasm } from "./harness.js";
import { FilterState, Host, WasmResult, type Plugin } from "./index.js";
import type { ConnectionInfo, HeaderList, HttpFilterCallbacks, LocalReply } from "./types.js";
import type { WasmVm } from "./vm.js";

type Env = Record<string, (...args: never[]) => number>;

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("ABI conformance: host calls answer as Envoy + proxy-wasm-cpp-host do", () => {
  const host = new Host();
  let plugin: Plugin;
  let vm: WasmVm;
  let env: Env;
  let root: Context;
  let out: number; // two u32 out-slots: out, out + 4
  let out64: number;

  /** Copies bytes into module memory; [ptr, size]. */
  function put(b: Uint8Array | string): [number, number] {
    const bytes = typeof b === "string" ? utf8(b) : b;
    const p = vm.alloc(Math.max(bytes.length, 1));
    assert.ok(vm.setBytes(p, bytes));
    return [p, bytes.length];
  }
  /** Reads what copyToPointerSize wrote at (out, out + 4). */
  function returned(): Uint8Array {
    const ptr = vm.getU32(out)!;
    const size = vm.getU32(out + 4)!;
    if (size === 0) return new Uint8Array(0);
    return vm.slice(ptr, size)!.slice();
  }
  function call(ctx: Context, name: string, ...args: Array<number | bigint>): number {
    return vm.withContext(ctx, () => (env[name] as unknown as (...a: Array<number | bigint>) => number)(...args));
  }
  function connInfo(): ConnectionInfo {
    return {
      id: 7n,
      source: { host: "10.0.0.1", port: 40000 },
      destination: { host: "10.0.0.2", port: 9090 },
      requestedServerName: "",
      listenerDirection: "INBOUND",
      filterState: new FilterState(),
      filterChainName: "chain-0",
    };
  }
  /** A stream context with HTTP callbacks (the maps are set by each test). */
  function httpContext(replies: LocalReply[] = []): Context {
    const ctx = vm.createStreamContext();
    const cb: HttpFilterCallbacks = {
      streamInfo: { connection: connInfo(), filterState: new FilterState() },
      continueDecoding() {},
      continueEncoding() {},
      sendLocalReply(r) {
        replies.push(r);
      },
      decodingBuffer: () => undefined,
      encodingBuffer: () => undefined,
    };
    ctx.httpCallbacks = cb;
    return ctx;
  }
  function networkContext(): { ctx: Context; conn: FakeConnection } {
    const conn = new FakeConnection(plugin);
    const ctx = vm.createStreamContext();
    ctx.readCallbacks = conn;
    return { ctx, conn };
  }

  before(async () => {
    plugin = await host.loadPlugin({ name: "abi", wasm: probeWasm, rootId: "probe", vmId: "abi-vm", configuration: "on_data=commands", vmCount: 1 });
    vm = plugin.vms[0];
    env = buildImports(vm).env as unknown as Env;
    root = vm.contexts.get(vm.rootContextId)!;
    out = vm.alloc(8);
    out64 = vm.alloc(8);
  });
  after(() => host.close());

  describe("buffers (cpp-host src/exports.cc get_buffer_bytes / get_buffer_status / set_buffer_bytes)", () => {
    it("clamps start/length: start beyond the size and length 0 answer Ok with (0, 0)", () => {
      const { ctx } = networkContext();
      ctx.downstreamData = { bytes: utf8("hello") };
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.NetworkDownstreamData, 1, 100, out, out + 4), WasmResult.Ok);
      assert.equal(new TextDecoder().decode(returned()), "ello");
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.NetworkDownstreamData, 9, 2, out, out + 4), WasmResult.Ok);
      assert.deepEqual([vm.getU32(out), vm.getU32(out + 4)], [0, 0]);
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.NetworkDownstreamData, 5, 1, out, out + 4), WasmResult.Ok);
      assert.deepEqual([vm.getU32(out), vm.getU32(out + 4)], [0, 0]);
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.NetworkDownstreamData, 0, 0, out, out + 4), WasmResult.Ok);
      assert.deepEqual([vm.getU32(out), vm.getU32(out + 4)], [0, 0]);
      // type > WasmBufferType::MAX → BadArgument before any lookup.
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.Max + 1, 0, 1, out, out + 4), WasmResult.BadArgument);
    });

    it("a buffer Envoy's getBuffer answers nullptr for is NotFound; a null Buffer::Instance is empty", () => {
      const { ctx } = networkContext();
      // Envoy context.cc getBuffer: PluginConfiguration without temp_plugin_, HttpCallResponseBody without a response → nullptr.
      assert.equal(call(ctx, "proxy_get_buffer_bytes", BufferType.PluginConfiguration, 0, 10, out, out + 4), WasmResult.NotFound);
      assert.equal(call(ctx, "proxy_get_buffer_status", BufferType.HttpCallResponseBody, out, out + 4), WasmResult.NotFound);
      // NetworkDownstreamData outside on_downstream_data: buffer_.set(nullptr) → size 0, Ok; writes BadArgument (BufferBase::copyFrom).
      vm.setU32(out, 99);
      vm.setU32(out + 4, 99);
      assert.equal(call(ctx, "proxy_get_buffer_status", BufferType.NetworkDownstreamData, out, out + 4), WasmResult.Ok);
      assert.deepEqual([vm.getU32(out), vm.getU32(out + 4)], [0, 0]);
      const [p, n] = put("x");
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkDownstreamData, 0, 0, p, n), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.VmConfiguration, 0, 0, p, n), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.PluginConfiguration, 0, 0, p, n), WasmResult.NotFound);
    });

    it("copyFrom on a mutable buffer: prepend, replace, append, else BadArgument (Envoy context.cc Buffer::copyFrom)", () => {
      const { ctx } = networkContext();
      const buf = { bytes: utf8("abcd") };
      ctx.upstreamData = buf;
      const [p, n] = put("XY");
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkUpstreamData, 0, 0, p, n), WasmResult.Ok);
      assert.equal(new TextDecoder().decode(buf.bytes), "XYabcd");
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkUpstreamData, 6, 0, p, n), WasmResult.Ok);
      assert.equal(new TextDecoder().decode(buf.bytes), "XYabcdXY");
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkUpstreamData, 1, 1, p, n), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkUpstreamData, 0, 3, p, n), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_set_buffer_bytes", BufferType.NetworkUpstreamData, 0, 8, p, n), WasmResult.Ok);
      assert.equal(new TextDecoder().decode(buf.bytes), "XY");
    });

    it("the gRPC receive buffer is a Buffer::Instance, so on_grpc_receive may rewrite it", () => {
      // Envoy context.cc getBuffer: GrpcReceiveBuffer → buffer_.set(grpc_receive_buffer_.get()),
      // a non-const Buffer::Instance* (context.h Buffer::set), so copyFrom applies.
      const buf = { bytes: utf8("msg") };
      root.grpcReceiveBuffer = buf;
      try {
        const [p, n] = put("new");
        assert.equal(call(root, "proxy_set_buffer_bytes", BufferType.GrpcReceiveBuffer, 0, 3, p, n), WasmResult.Ok);
        assert.equal(new TextDecoder().decode(buf.bytes), "new");
      } finally {
        root.grpcReceiveBuffer = null;
      }
      const [p, n] = put("z");
      assert.equal(call(root, "proxy_set_buffer_bytes", BufferType.GrpcReceiveBuffer, 0, 0, p, n), WasmResult.BadArgument);
    });
  });

  describe("header maps (Envoy context.cc getMap/getConstMap and the *HeaderMap* calls)", () => {
    it("a missing key is NotFound (ABI 0.2.x), an unavailable map BadArgument, its pairs an empty Ok", () => {
      const ctx = httpContext();
      ctx.requestHeaders = [[":path", "/"], ["x-a", "1"], ["x-a", "2"]];
      const [kp, kn] = put("x-missing");
      assert.equal(call(ctx, "proxy_get_header_map_value", MapType.HttpRequestHeaders, kp, kn, out, out + 4), WasmResult.NotFound);
      const [ap, an] = put("X-A");
      assert.equal(call(ctx, "proxy_get_header_map_value", MapType.HttpRequestHeaders, ap, an, out, out + 4), WasmResult.Ok);
      assert.equal(new TextDecoder().decode(returned()), "1");
      assert.equal(call(ctx, "proxy_get_header_map_value", MapType.HttpResponseHeaders, ap, an, out, out + 4), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_get_header_map_pairs", MapType.HttpResponseHeaders, out, out + 4), WasmResult.Ok);
      assert.deepEqual([vm.getU32(out + 4)], [0]);
      assert.equal(call(ctx, "proxy_get_header_map_size", MapType.HttpResponseHeaders, out), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_remove_header_map_value", MapType.HttpResponseHeaders, ap, an), WasmResult.BadArgument);
      // HttpCallResponseHeaders is readable only (getConstMap): writes → BadArgument.
      assert.equal(call(root, "proxy_add_header_map_value", MapType.HttpCallResponseHeaders, ap, an, ap, an), WasmResult.BadArgument);
      assert.equal(call(ctx, "proxy_get_header_map_value", MapType.Max + 1, ap, an, out, out + 4), WasmResult.BadArgument);
    });

    it("replace is remove + addCopy: duplicates go and the header moves to the end", () => {
      // Envoy source/common/http/header_map_impl.cc HeaderMapImpl::setCopy: remove(key); addCopy(key, value)
      // (the http_set_copy_replace_all_headers guard and its in-place path were removed).
      const ctx = httpContext();
      const map: HeaderList = [[":path", "/"], ["x-a", "1"], ["x-b", "b"], ["x-a", "2"]];
      ctx.requestHeaders = map;
      const [kp, kn] = put("x-a");
      const [vp, vn] = put("new");
      assert.equal(call(ctx, "proxy_replace_header_map_value", MapType.HttpRequestHeaders, kp, kn, vp, vn), WasmResult.Ok);
      assert.deepEqual(map, [[":path", "/"], ["x-b", "b"], ["x-a", "new"]]);
      assert.equal(call(ctx, "proxy_remove_header_map_value", MapType.HttpRequestHeaders, kp, kn), WasmResult.Ok);
      assert.deepEqual(map, [[":path", "/"], ["x-b", "b"]]);
      // Removing an absent key is still Ok.
      assert.equal(call(ctx, "proxy_remove_header_map_value", MapType.HttpRequestHeaders, kp, kn), WasmResult.Ok);
    });

    it("an added pseudo header goes after the pseudo headers, before regular ones", () => {
      // Envoy header_map_impl.h HeaderList::insert: pseudo headers are emplaced at pseudo_headers_end_.
      const ctx = httpContext();
      const map: HeaderList = [[":method", "GET"], ["x-b", "b"]];
      ctx.requestHeaders = map;
      const [kp, kn] = put(":Foo");
      const [vp, vn] = put("1");
      assert.equal(call(ctx, "proxy_add_header_map_value", MapType.HttpRequestHeaders, kp, kn, vp, vn), WasmResult.Ok);
      assert.deepEqual(map, [[":method", "GET"], [":foo", "1"], ["x-b", "b"]]);
      const [pp, pn] = put(marshalPairs([["x-c", "c"], [":authority", "h"]]));
      assert.equal(call(ctx, "proxy_set_header_map_pairs", MapType.HttpRequestHeaders, pp, pn), WasmResult.Ok);
      assert.deepEqual(map, [[":authority", "h"], ["x-c", "c"]]);
    });
  });

  describe("properties (Envoy context.cc getProperty/serializeValue, filters/common/expr/evaluator.cc, context.h)", () => {
    function getProp(ctx: Context, path: string[]): { r: number; v: Uint8Array } {
      const [p, n] = put(path.join("\0"));
      const r = call(ctx, "proxy_get_property", p, n, out, out + 4);
      return { r, v: r === WasmResult.Ok ? returned() : new Uint8Array(0) };
    }

    it("an empty path is SerializationFailure (a default CelValue is null-typed)", () => {
      const { ctx } = networkContext();
      // getProperty's loop breaks at once; serializeValue(CelValue()) hits `default` → SerializationFailure.
      const [p] = put("x");
      assert.equal(call(ctx, "proxy_get_property", p, 0, out, out + 4), WasmResult.SerializationFailure);
    });

    it("an attribute wrapper read whole is SerializationFailure (BaseWrapper::ListKeys is unimplemented)", () => {
      const { ctx } = networkContext();
      for (const name of ["source", "destination", "connection", "upstream", "xds", "filter_state"]) {
        assert.equal(getProp(ctx, [name]).r, WasmResult.SerializationFailure, name);
      }
      // StreamActivation::FindValue answers xds even without stream info (root context).
      assert.equal(getProp(root, ["xds"]).r, WasmResult.SerializationFailure);
      assert.equal(getProp(root, ["source"]).r, WasmResult.NotFound);
      assert.equal(getProp(ctx, ["source", "nope"]).r, WasmResult.NotFound);
      assert.equal(getProp(ctx, ["source", "address", "deeper"]).r, WasmResult.NotFound);
      assert.equal(getProp(ctx, ["source.address"]).r, WasmResult.NotFound);
    });

    it("metadata is the (empty) dynamic metadata message; its map fields serialize as empty pairs", () => {
      const { ctx } = networkContext();
      // ActivationValueToken::Metadata → CelProtoWrapper::CreateMessage(&info.dynamicMetadata()).
      assert.deepEqual(getProp(ctx, ["metadata"]), { r: WasmResult.Ok, v: new Uint8Array(0) });
      // A map field → FieldBackedMapImpl (lists keys) → pairs with count 0.
      assert.deepEqual(getProp(ctx, ["metadata", "filter_metadata"]), { r: WasmResult.Ok, v: new Uint8Array(4) });
      assert.equal(getProp(ctx, ["metadata", "filter_metadata", "envoy.lb"]).r, WasmResult.NotFound);
      assert.equal(getProp(ctx, ["metadata", "no_such_field"]).r, WasmResult.NotFound);
      assert.equal(getProp(root, ["metadata"]).r, WasmResult.NotFound);
    });

    it("request.headers joins repeated values with ',' and lists each key once", () => {
      const ctx = httpContext();
      ctx.requestHeaders = [[":path", "/p"], ["x-a", "1"], ["x-a", "2"]];
      // HeadersWrapper::operator[] → HeaderUtility::getAllOfHeaderAsString; ListKeys from a set of keys.
      assert.equal(new TextDecoder().decode(getProp(ctx, ["request", "headers", "x-a"]).v), "1,2");
      const all = getProp(ctx, ["request", "headers"]);
      assert.equal(all.r, WasmResult.Ok);
      assert.deepEqual(unmarshalPairs(all.v), [[":path", "/p"], ["x-a", "1,2"]]);
      assert.equal(getProp(ctx, ["request"]).r, WasmResult.SerializationFailure);
    });

    it("set_property: root context NotFound; an empty path is stored like any other", () => {
      const [vp, vn] = put("v");
      assert.equal(call(root, "proxy_set_property", vp, 0, vp, vn), WasmResult.NotFound);
      const { ctx, conn } = networkContext();
      // Context::setProperty appends the path to "wasm." without checking it.
      assert.equal(call(ctx, "proxy_set_property", vp, 0, vp, vn), WasmResult.Ok);
      assert.ok(conn.connection.filterState.get("wasm.") !== undefined);
    });
  });

  describe("context, log, time, timers (cpp-host exports.cc, context.cc)", () => {
    it("set_effective_context: unknown id BadArgument, 0 (the VM context) Ok", () => {
      const { ctx } = networkContext();
      assert.equal(call(ctx, "proxy_set_effective_context", 99999), WasmResult.BadArgument);
      // WasmBase::getContext(0) finds the VM context registered by createVmContext().
      assert.equal(call(ctx, "proxy_set_effective_context", 0), WasmResult.Ok);
      assert.equal(call(ctx, "proxy_set_effective_context", root.id), WasmResult.Ok);
    });

    it("log with a level above Critical is BadArgument; get_current_time answers wall-clock ns", () => {
      const [p, n] = put("hi");
      assert.equal(call(root, "proxy_log", 6, p, n), WasmResult.BadArgument);
      assert.equal(call(root, "proxy_log", 5, p, n), WasmResult.Ok);
      const before = BigInt(Date.now()) * 1_000_000n;
      assert.equal(call(root, "proxy_get_current_time_nanoseconds", out64), WasmResult.Ok);
      const t = Buffer.from(vm.slice(out64, 8)!).readBigUInt64LE();
      assert.ok(t >= before - 1_000_000_000n && t <= before + 1_000_000_000n);
    });

    it("set_tick_period from a stream context sets its root context's timer", () => {
      const { ctx } = networkContext();
      // ContextBase::setTimerPeriod → wasm()->setTimerPeriod(root_context()->id(), period).
      assert.equal(call(ctx, "proxy_set_tick_period_milliseconds", 60_000), WasmResult.Ok);
      assert.equal(vm.tickPeriods.get(root.id), 60_000);
      assert.equal(vm.tickPeriods.has(ctx.id), false);
      assert.equal(call(ctx, "proxy_set_tick_period_milliseconds", 0), WasmResult.Ok);
    });

    it("proxy_done outside a pending shutdown is NotFound (WasmBase::done)", () => {
      assert.equal(call(root, "proxy_done"), WasmResult.NotFound);
    });

    it("an unknown foreign function is NotFound", () => {
      const [p, n] = put("no_such_function");
      assert.equal(call(root, "proxy_call_foreign_function", p, n, p, 0, out, out + 4), WasmResult.NotFound);
    });
  });

  describe("shared data and queues (cpp-host src/shared_data.cc, src/shared_queue.cc)", () => {
    it("get of a missing key NotFound; cas 0 unconditional; stale cas CasMismatch; cas ignored on a new key", () => {
      const [kp, kn] = put("abi-key");
      const [vp, vn] = put("v1");
      assert.equal(call(root, "proxy_get_shared_data", kp, kn, out, out + 4, out64), WasmResult.NotFound);
      // SharedData::set: a new key is stored whatever cas says.
      assert.equal(call(root, "proxy_set_shared_data", kp, kn, vp, vn, 12345), WasmResult.Ok);
      assert.equal(call(root, "proxy_get_shared_data", kp, kn, out, out + 4, out64), WasmResult.Ok);
      const cas = vm.getU32(out64)!;
      assert.ok(cas > 0);
      assert.equal(call(root, "proxy_set_shared_data", kp, kn, vp, vn, cas + 1), WasmResult.CasMismatch);
      assert.equal(call(root, "proxy_set_shared_data", kp, kn, vp, vn, cas), WasmResult.Ok);
      assert.equal(call(root, "proxy_set_shared_data", kp, kn, vp, vn, cas), WasmResult.CasMismatch);
      assert.equal(call(root, "proxy_set_shared_data", kp, kn, vp, vn, 0), WasmResult.Ok);
    });

    it("registering twice gives the same token; empty dequeue is Empty; unknown tokens NotFound", () => {
      const [np, nn] = put("abi-queue");
      assert.equal(call(root, "proxy_register_shared_queue", np, nn, out), WasmResult.Ok);
      const token = vm.getU32(out)!;
      assert.equal(call(root, "proxy_register_shared_queue", np, nn, out), WasmResult.Ok);
      assert.equal(vm.getU32(out), token);
      assert.equal(call(root, "proxy_dequeue_shared_queue", token, out, out + 4), WasmResult.Empty);
      assert.equal(call(root, "proxy_dequeue_shared_queue", 0x7ffffff, out, out + 4), WasmResult.NotFound);
      const [dp, dn] = put("d");
      assert.equal(call(root, "proxy_enqueue_shared_queue", 0x7ffffff, dp, dn), WasmResult.NotFound);
      const [vp, vn] = put("");
      assert.equal(call(root, "proxy_resolve_shared_queue", vp, vn, np, nn, out), WasmResult.Ok);
      assert.equal(vm.getU32(out), token);
      const [up, un] = put("nope");
      assert.equal(call(root, "proxy_resolve_shared_queue", vp, vn, up, un, out), WasmResult.NotFound);
    });
  });

  describe("metrics (Envoy context.cc defineMetric/incrementMetric/recordMetric/getMetric)", () => {
    it("invalid type BadArgument; record on a counter adds; increment on a histogram BadArgument", () => {
      const [np, nn] = put("abi_metric");
      assert.equal(call(root, "proxy_define_metric", 3, np, nn, out), WasmResult.BadArgument);
      assert.equal(call(root, "proxy_define_metric", 0, np, nn, out), WasmResult.Ok);
      const counter = vm.getU32(out)!;
      assert.equal(call(root, "proxy_record_metric", counter, 5n), WasmResult.Ok);
      assert.equal(call(root, "proxy_record_metric", counter, 2n), WasmResult.Ok);
      assert.equal(call(root, "proxy_get_metric", counter, out64), WasmResult.Ok);
      assert.equal(Buffer.from(vm.slice(out64, 8)!).readBigUInt64LE(), 7n);
      assert.equal(call(root, "proxy_increment_metric", counter, 0n), WasmResult.BadArgument);
      assert.equal(call(root, "proxy_define_metric", 2, np, nn, out), WasmResult.Ok);
      const histogram = vm.getU32(out)!;
      assert.equal(call(root, "proxy_increment_metric", histogram, 1n), WasmResult.BadArgument);
      assert.equal(call(root, "proxy_record_metric", histogram, 1n), WasmResult.Ok);
      assert.equal(call(root, "proxy_get_metric", histogram, out64), WasmResult.BadArgument);
      // An id never defined: NotFound for counters, record NotFound for histograms too.
      assert.equal(call(root, "proxy_increment_metric", counter + 400, 1n), WasmResult.NotFound);
      assert.equal(call(root, "proxy_record_metric", histogram + 400, 1n), WasmResult.NotFound);
    });
  });

  describe("stream control (Envoy context.cc continueStream/closeStream/sendLocalResponse)", () => {
    it("continue/close per stream type in network and HTTP contexts", () => {
      const { ctx: net } = networkContext();
      assert.equal(call(net, "proxy_continue_stream", StreamType.Upstream), WasmResult.Unimplemented);
      assert.equal(call(net, "proxy_continue_stream", StreamType.Downstream), WasmResult.Ok);
      // No decoder callbacks: nothing happens, still Ok.
      assert.equal(call(net, "proxy_continue_stream", StreamType.Request), WasmResult.Ok);
      assert.equal(call(net, "proxy_close_stream", StreamType.Response), WasmResult.Ok);
      assert.equal(call(net, "proxy_continue_stream", StreamType.Max + 1), WasmResult.BadArgument);
      assert.equal(call(net, "proxy_close_stream", StreamType.Max + 1), WasmResult.BadArgument);
      const http = httpContext();
      assert.equal(call(http, "proxy_continue_stream", StreamType.Upstream), WasmResult.Unimplemented);
      assert.equal(call(http, "proxy_close_stream", StreamType.Downstream), WasmResult.Ok);
      assert.equal(call(http, "proxy_close_stream", StreamType.Upstream), WasmResult.Ok);
    });

    it("send_local_response outside HTTP is Ok and does nothing", () => {
      const { ctx, conn } = networkContext();
      const [p, n] = put("x");
      const [hp, hn] = put(marshalPairs([]));
      assert.equal(call(ctx, "proxy_send_local_response", 403, p, n, p, n, hp, hn, -1), WasmResult.Ok);
      assert.equal(conn.closeCalls, 0);
    });
  });

  describe("http_call argument checks (Envoy context.cc httpCall)", () => {
    it("unknown cluster, missing :path/:method/:authority and a negative timeout are BadArgument", async () => {
      const h2 = new Host({ clusters: { web: { endpoints: [{ host: "127.0.0.1", port: 9 }] } } });
      try {
        const p2 = await h2.loadPlugin({ name: "abi2", wasm: probeWasm, rootId: "probe", vmId: "abi-vm2", configuration: "on_data=commands", vmCount: 1 });
        const vm2 = p2.vms[0];
        const env2 = buildImports(vm2).env as unknown as Env;
        const root2 = vm2.contexts.get(vm2.rootContextId)!;
        const put2 = (b: Uint8Array | string): [number, number] => {
          const bytes = typeof b === "string" ? utf8(b) : b;
          const ptr = vm2.alloc(Math.max(bytes.length, 1));
          vm2.setBytes(ptr, bytes);
          return [ptr, bytes.length];
        };
        const tok = vm2.alloc(4);
        const httpCall = (cluster: string, headers: Array<[string, string]>, timeout: number) => {
          const [up, un] = put2(cluster);
          const [hp, hn] = put2(marshalPairs(headers));
          const [bp] = put2("");
          return vm2.withContext(root2, () =>
            (env2.proxy_http_call as unknown as (...a: number[]) => number)(up, un, hp, hn, bp, 0, bp, 0, timeout, tok),
          );
        };
        const full: Array<[string, string]> = [[":method", "GET"], [":path", "/"], [":authority", "web"]];
        assert.equal(httpCall("nope", full, 1000), WasmResult.BadArgument);
        for (const drop of [":method", ":path", ":authority"]) {
          assert.equal(httpCall("web", full.filter(([k]) => k !== drop), 1000), WasmResult.BadArgument, drop);
        }
        // `int timeout_milliseconds` from a u32 ≥ 2^31 is negative → BadArgument.
        assert.equal(httpCall("web", full, 0x80000000 | 0), WasmResult.BadArgument);
      } finally {
        await h2.close();
      }
    });
  });
});
