import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  FilterState,
  Host,
  type DataBuffer,
  type HeaderList,
  type HttpFilter,
  type HttpFilterCallbacks,
  type LocalReply,
  type Plugin,
  type StreamInfo,
} from "./index.js";
import { probeWasm } from "./harness.js";

/** Fake Envoy decoder/encoder callbacks: records local replies and keeps the buffered body. */
class FakeStream implements HttpFilterCallbacks {
  readonly streamInfo: StreamInfo;
  readonly replies: LocalReply[] = [];
  readonly decoding: DataBuffer = { bytes: new Uint8Array(0) };
  continued = 0;
  readonly filter: HttpFilter | undefined;

  constructor(plugin: Plugin) {
    const fs = new FilterState();
    this.streamInfo = {
      connection: {
        id: 7n,
        source: { host: "10.0.0.1", port: 1234 },
        destination: { host: "10.0.0.2", port: 80 },
        requestedServerName: "",
        listenerDirection: "INBOUND",
        filterState: new FilterState(),
        filterChainName: "http",
      },
      filterState: fs,
    };
    this.filter = plugin.httpFilterFactory().create(this);
  }
  continueDecoding(): void {
    this.continued++;
  }
  continueEncoding(): void {}
  sendLocalReply(reply: LocalReply): void {
    this.replies.push(reply);
  }
  decodingBuffer(): DataBuffer | undefined {
    return this.decoding;
  }
  encodingBuffer(): DataBuffer | undefined {
    return undefined;
  }
}

const req = (path: string): HeaderList => [
  [":method", "GET"],
  [":path", path],
  [":authority", "svc"],
];

describe("wasm HTTP filter adapter", () => {
  const host = new Host();
  after(() => host.close());

  it("lets on_request_headers add a header and continues", async () => {
    const p = await host.loadPlugin({ name: "http-add", wasm: probeWasm, configuration: "add_request_header=x-added:yes", vmCount: 1 });
    const s = new FakeStream(p);
    const headers = req("/");
    assert.equal(s.filter!.decodeHeaders(headers, true), "Continue");
    assert.deepEqual(headers.at(-1), ["x-added", "yes"]);
  });

  it("sends a local reply after the callback and stops all iteration", async () => {
    const p = await host.loadPlugin({ name: "http-deny", wasm: probeWasm, configuration: "local_reply_path=/deny", vmCount: 1 });
    const s = new FakeStream(p);
    assert.equal(s.filter!.decodeHeaders(req("/deny"), true), "StopAllIterationAndWatermark");
    assert.equal(s.replies.length, 1);
    const r = s.replies[0];
    assert.equal(r.status, 403);
    assert.equal(Buffer.from(r.body).toString(), "denied by probe\n");
    assert.deepEqual(r.headers, [["x-probe", "denied"]]);
    assert.equal(r.details, "probe_denied");
    assert.equal(r.grpcStatus, -1);
  });

  it("buffers the request body with StopIterationAndBuffer until end of stream, then appends", async () => {
    const p = await host.loadPlugin({ name: "http-body", wasm: probeWasm, configuration: "buffer_request_body=true", vmCount: 1 });
    const s = new FakeStream(p);
    assert.equal(s.filter!.decodeHeaders(req("/upload"), false), "Continue");
    const chunk1: DataBuffer = { bytes: Buffer.from("abc") };
    assert.equal(s.filter!.decodeData(chunk1, false), "StopIterationAndBuffer");
    // The data plane keeps what the filter asked to buffer (Envoy's decoding buffer).
    s.decoding.bytes = chunk1.bytes;
    const chunk2: DataBuffer = { bytes: Buffer.from("def") };
    assert.equal(s.filter!.decodeData(chunk2, true), "Continue");
    assert.equal(Buffer.from(s.decoding.bytes).toString(), "abcdef+probe");
    assert.ok(host.logs.some((l) => l.plugin === "http-body" && l.message === "probe: request_body size=6"));
  });

  it("turns StopIteration from on_request_headers into StopAllIterationAndWatermark", async () => {
    const p = await host.loadPlugin({ name: "http-stop", wasm: probeWasm, configuration: "on_request_headers=stop", vmCount: 1 });
    assert.equal(new FakeStream(p).filter!.decodeHeaders(req("/"), false), "StopAllIterationAndWatermark");
  });

  it("drops the request headers once on_request_headers continued: BadArgument, empty list", async () => {
    const p = await host.loadPlugin({ name: "http-late", wasm: probeWasm, configuration: "late_request_headers=true", vmCount: 1 });
    const s = new FakeStream(p);
    assert.equal(s.filter!.decodeHeaders(req("/late"), false), "Continue");
    assert.equal(s.filter!.decodeData({ bytes: Buffer.from("x") }, true), "Continue");
    assert.equal(s.filter!.encodeHeaders([[":status", "200"]], true), "Continue");
    const lines = host.logs.filter((l) => l.plugin === "http-late" && l.message.startsWith("probe: late_request_headers")).map((l) => l.message);
    assert.deepEqual(lines, [
      "probe: late_request_headers in=request_body value_status=2 pairs_status=0 pairs=0",
      "probe: late_request_headers in=response_headers value_status=2 pairs_status=0 pairs=0",
    ]);
  });

  it("keeps the request headers readable while on_request_headers has not continued", async () => {
    const p = await host.loadPlugin({ name: "http-held", wasm: probeWasm, configuration: "on_request_headers=stop\nlate_request_headers=true", vmCount: 1 });
    const s = new FakeStream(p);
    assert.equal(s.filter!.decodeHeaders(req("/held"), false), "StopAllIterationAndWatermark");
    s.filter!.decodeData({ bytes: Buffer.from("x") }, true);
    const line = host.logs.find((l) => l.plugin === "http-held" && l.message.startsWith("probe: late_request_headers"));
    assert.equal(line?.message, "probe: late_request_headers in=request_body value_status=0 pairs_status=0 pairs=3");
  });

  it("fail-closed: a failed VM answers 503 wasm_fail_stream once", async () => {
    const p = await host.loadPlugin({ name: "http-fail", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1 });
    p.vms[0].fail("test: forced failure");
    const s = new FakeStream(p);
    assert.equal(s.filter!.decodeHeaders(req("/"), true), "StopAllIterationAndWatermark");
    assert.equal(s.filter!.encodeHeaders([[":status", "200"]], true), "Continue");
    assert.deepEqual(
      s.replies.map((r) => [r.status, r.details, r.grpcStatus]),
      [[503, "wasm_fail_stream", 14]],
    );
  });
});
