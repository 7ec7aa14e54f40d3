// as-pect.config.js stubs every proxy_* import to answer Unimplemented (12) without writing any
// return slot, so these tests check that host failures come back as values and never throw.
import {
  EMPTY, Metric, callForeignFunction, callForeignFunctionEncoded, defineMetric, dequeueSharedQueue, getBuffer, getBufferStatus,
  getCurrentTimeNanoseconds, getHeaderMapPairs, getHeaderMapValue, getLogLevel, getMetric, getProperty,
  getBufferBytesInto, getSharedData, grpcCall, httpCall, incrementMetric, logInfo, registerSharedQueue,
  sendLocalResponse, setEnvoyFilterState, setEnvoyFilterStateEncoded, setProperty, setPropertyFrom,
} from "../hostcalls";
import { BufferType, LifeSpan, MapType, MetricType, WasmResult } from "../enums";
import { HeaderPair } from "../pairs";

describe("host calls on a failing host", () => {
  it("return the status with empty values", () => {
    expect(logInfo("x")).toBe(WasmResult.Unimplemented);
    const p = getProperty(["source", "address"]);
    expect(p.status).toBe(WasmResult.Unimplemented);
    expect(p.ok).toBe(false);
    expect(p.value.byteLength).toBe(0);
    expect(setProperty(["k"], EMPTY)).toBe(WasmResult.Unimplemented);
    const b = getBuffer(BufferType.PluginConfiguration);
    expect(b.status).toBe(WasmResult.Unimplemented);
    expect(b.text()).toBe("");
    expect(getBufferStatus(BufferType.NetworkDownstreamData).value).toBe(0);
    expect(getHeaderMapPairs(MapType.HttpRequestHeaders).pairs.length).toBe(0);
    expect(getHeaderMapValue(MapType.HttpRequestHeaders, ":path").status).toBe(WasmResult.Unimplemented);
    expect(getLogLevel().status).toBe(WasmResult.Unimplemented);
    expect(getCurrentTimeNanoseconds()).toBe(0);
  });

  it("report metric failures without throwing", () => {
    const d = defineMetric(MetricType.Counter, "c");
    expect(d.status).toBe(WasmResult.Unimplemented);
    const m = Metric.define(MetricType.Gauge, "g");
    expect(m.ok).toBe(false);
    expect(incrementMetric(0, 1)).toBe(WasmResult.Unimplemented);
    expect(getMetric(0).status).toBe(WasmResult.Unimplemented);
  });

  it("report shared data, queue and call failures without throwing", () => {
    const s = getSharedData("k");
    expect(s.status).toBe(WasmResult.Unimplemented);
    expect(s.cas).toBe(0);
    expect(registerSharedQueue("q").status).toBe(WasmResult.Unimplemented);
    expect(dequeueSharedQueue(1).status).toBe(WasmResult.Unimplemented);
    const headers = [new HeaderPair(":method", "GET")];
    expect(httpCall("c", headers, EMPTY, [], 100).status).toBe(WasmResult.Unimplemented);
    expect(grpcCall("c", "s", "m", [], EMPTY, 100).status).toBe(WasmResult.Unimplemented);
    expect(sendLocalResponse(403, "d", EMPTY, headers)).toBe(WasmResult.Unimplemented);
    expect(callForeignFunction("f", EMPTY).value.byteLength).toBe(0);
    expect(setEnvoyFilterState("envoy.tcp_proxy.cluster", "x", LifeSpan.DownstreamConnection)).toBe(WasmResult.Unimplemented);
  });

  it("report failures of the allocation-free variants as values and leave the destination alone", () => {
    const dst = new ArrayBuffer(4);
    store<u32>(changetype<usize>(dst), 0x04030201);
    expect(getBufferBytesInto(BufferType.NetworkDownstreamData, 0, 4, dst, 0)).toBe(-(<i32>WasmResult.Unimplemented));
    expect(getBufferBytesInto(BufferType.NetworkDownstreamData, 0, 4, dst, 2)).toBe(-(<i32>WasmResult.Unimplemented));
    expect(load<u32>(changetype<usize>(dst))).toBe(0x04030201);
    expect(callForeignFunctionEncoded(String.UTF8.encode("f"), EMPTY)).toBe(WasmResult.Unimplemented);
    expect(setEnvoyFilterStateEncoded(EMPTY)).toBe(WasmResult.Unimplemented);
    expect(setPropertyFrom(String.UTF8.encode("k"), changetype<usize>(dst), 4)).toBe(WasmResult.Unimplemented);
  });
});
