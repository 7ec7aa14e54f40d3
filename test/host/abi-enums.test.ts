import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as modules from "../../assembly/runtime/enums.js";
import { BufferType, LOG_LEVEL_NAMES, LogLevel, MapType, MetricType, PeerType, StreamType, WasmResult } from "./abi.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

// The ABI's numbers, as proxy-wasm-cpp-sdk proxy_wasm_enums.h and proxy-wasm/spec
// abi-versions/v0.2.1 fix them: both the modules and the host read assembly/runtime/enums.ts.
const ABI: Record<string, Record<string, number>> = {
  WasmResult: {
    Ok: 0, NotFound: 1, BadArgument: 2, SerializationFailure: 3, ParseFailure: 4, BadExpression: 5,
    InvalidMemoryAccess: 6, Empty: 7, CasMismatch: 8, ResultMismatch: 9, InternalFailure: 10,
    BrokenConnection: 11, Unimplemented: 12,
  },
  Action: { Continue: 0, Pause: 1 },
  BufferType: {
    HttpRequestBody: 0, HttpResponseBody: 1, NetworkDownstreamData: 2, NetworkUpstreamData: 3,
    HttpCallResponseBody: 4, GrpcReceiveBuffer: 5, VmConfiguration: 6, PluginConfiguration: 7, CallData: 8, Max: 8,
  },
  MapType: {
    HttpRequestHeaders: 0, HttpRequestTrailers: 1, HttpResponseHeaders: 2, HttpResponseTrailers: 3,
    GrpcReceiveInitialMetadata: 4, GrpcReceiveTrailingMetadata: 5, HttpCallResponseHeaders: 6,
    HttpCallResponseTrailers: 7, Max: 7,
  },
  StreamType: { Request: 0, Response: 1, Downstream: 2, Upstream: 3, Max: 3 },
  MetricType: { Counter: 0, Gauge: 1, Histogram: 2, Max: 2 },
  PeerType: { Unknown: 0, Local: 1, Remote: 2 },
  LogLevel: { Trace: 0, Debug: 1, Info: 2, Warn: 3, Error: 4, Critical: 5 },
  LifeSpan: { FilterChain: 0, DownstreamRequest: 1, DownstreamConnection: 2 },
};

/** An enum object's named members (TypeScript adds reverse number → name entries). */
function members(e: object): Record<string, number> {
  return Object.fromEntries(Object.entries(e).filter(([k]) => Number.isNaN(Number(k)))) as Record<string, number>;
}

describe("ABI enums: one source for the modules and the host", () => {
  it("the host uses the modules' enum objects", () => {
    assert.equal(WasmResult, modules.WasmResult);
    assert.equal(BufferType, modules.BufferType);
    assert.equal(MapType, modules.MapType);
    assert.equal(StreamType, modules.StreamType);
    assert.equal(MetricType, modules.MetricType);
    assert.equal(PeerType, modules.PeerType);
  });

  for (const [name, values] of Object.entries(ABI)) {
    it(`${name} has the ABI's values`, () => {
      const e = (modules as unknown as Record<string, object>)[name];
      assert.ok(e, `assembly/runtime/enums.ts exports ${name}`);
      assert.deepEqual(members(e), values);
    });
  }

  it("LOG_LEVEL_NAMES spells LogLevel in order", () => {
    assert.deepEqual(LOG_LEVEL_NAMES.map((n, i) => [n, i]), Object.entries(members(LogLevel)).map(([k, v]) => [k.toLowerCase(), v]));
  });

  it("no other TypeScript source declares its own copy", () => {
    const names = Object.keys(ABI).join("|");
    const decl = new RegExp(`\\benum\\s+(${names})\\b`);
    const copies: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(path.join(REPO, dir))) {
        const rel = path.join(dir, entry);
        if (entry === "node_modules" || entry === "build") continue;
        if (statSync(path.join(REPO, rel)).isDirectory()) walk(rel);
        else if (entry.endsWith(".ts") && rel !== path.join("assembly", "runtime", "enums.ts")) {
          if (decl.test(readFileSync(path.join(REPO, rel), "utf8"))) copies.push(rel);
        }
      }
    };
    for (const dir of ["assembly", "test", "bench", "fuzz", "controller", "scripts"]) walk(dir);
    assert.deepEqual(copies, []);
  });
});
