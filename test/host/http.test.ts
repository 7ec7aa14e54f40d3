import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { startHttpListener, type HttpListener } from "./http.js";
import { fakeHost, text, utf8, withTimeout } from "./fakes.js";
import { legacyResponseFlags, toShortString } from "./response-flags.js";
import type {
  DataBuffer,
  DataStatus,
  HeaderList,
  HeadersStatus,
  HttpFilter,
  HttpFilterCallbacks,
  HttpFilterFactory,
  TrailersStatus,
} from "./types.js";

type Script = Partial<{
  decodeHeaders(h: HeaderList, eos: boolean, cb: HttpFilterCallbacks): HeadersStatus;
  decodeData(b: DataBuffer, eos: boolean, cb: HttpFilterCallbacks): DataStatus;
  decodeTrailers(t: HeaderList, cb: HttpFilterCallbacks): TrailersStatus;
  encodeHeaders(h: HeaderList, eos: boolean, cb: HttpFilterCallbacks): HeadersStatus;
  encodeData(b: DataBuffer, eos: boolean, cb: HttpFilterCallbacks): DataStatus;
  encodeTrailers(t: HeaderList, cb: HttpFilterCallbacks): TrailersStatus;
}>;

function httpFake(name: string, log: string[], s: Script = {}): HttpFilterFactory {
  return {
    name,
    create(cb): HttpFilter {
      return {
        decodeHeaders: (h, e) => (log.push(`${name}:decodeHeaders${e ? " eos" : ""}`), s.decodeHeaders?.(h, e, cb) ?? "Continue"),
        decodeData: (b, e) => (log.push(`${name}:decodeData ${b.bytes.length}${e ? " eos" : ""}`), s.decodeData?.(b, e, cb) ?? "Continue"),
        decodeTrailers: (t) => (log.push(`${name}:decodeTrailers`), s.decodeTrailers?.(t, cb) ?? "Continue"),
        encodeHeaders: (h, e) => (log.push(`${name}:encodeHeaders ${h[0]?.[1]}${e ? " eos" : ""}`), s.encodeHeaders?.(h, e, cb) ?? "Continue"),
        encodeData: (b, e) => (log.push(`${name}:encodeData ${b.bytes.length}${e ? " eos" : ""}`), s.encodeData?.(b, e, cb) ?? "Continue"),
        encodeTrailers: (t) => (log.push(`${name}:encodeTrailers`), s.encodeTrailers?.(t, cb) ?? "Continue"),
        onStreamComplete: () => void log.push(`${name}:complete`),
        onDestroy: () => void log.push(`${name}:destroy`),
      };
    },
  };
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers: http.IncomingHttpHeaders;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers: http.IncomingHttpHeaders;
}

function request(
  port: number,
  opts: { method?: string; path?: string; chunks?: string[]; trailers?: Record<string, string>; between?: (i: number) => Promise<void> },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: opts.method ?? "GET", path: opts.path ?? "/", agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }),
      );
    });
    void (async () => {
      const chunks = opts.chunks ?? [];
      if (chunks.length > 0 || opts.trailers) req.setHeader("transfer-encoding", "chunked");
      for (let i = 0; i < chunks.length; i++) {
        req.write(chunks[i]!);
        await opts.between?.(i);
      }
      if (opts.trailers) req.addTrailers(opts.trailers);
      req.end();
    })().catch(reject);
  });
}

describe("HTTP data plane (Envoy HTTP filter manager)", () => {
  let upstream: http.Server;
  let upstreamPort: number;
  const seen: Seen[] = [];
  const listeners: HttpListener[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const s: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString(), trailers: req.trailers };
        seen.push(s);
        if (req.url === "/trailers") {
          res.writeHead(200, { "x-up": "1" });
          res.write("with trailers");
          res.addTrailers({ "grpc-status": "0" });
          res.end();
          return;
        }
        res.writeHead(200, { "content-type": "text/plain", "x-up": "1" });
        res.end(`up:${s.body}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });

  after(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function listen(filters: HttpFilterFactory[], cluster = "up") {
    const host = fakeHost({ up: { endpoints: [{ host: "127.0.0.1", port: upstreamPort }] } });
    const l = await startHttpListener(host, { filters, cluster });
    listeners.push(l);
    return l;
  }

  it("mutates headers both ways; decoders in order, encoders in reverse; then complete and destroy", async () => {
    const log: string[] = [];
    const a = httpFake("a", log, {
      decodeHeaders(h) {
        h.push(["x-added", "by-a"]);
        return "Continue";
      },
      encodeHeaders(h) {
        h.push(["x-resp", "by-a"]);
        return "Continue";
      },
    });
    const b = httpFake("b", log, {
      decodeHeaders(h) {
        assert.ok(h.some(([k]) => k === "x-added"), "b runs after a");
        return "Continue";
      },
    });
    const l = await listen([a, b]);
    const before = seen.length;
    const r = await request(l.port, { path: "/hello?x=1" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "up:");
    assert.equal(r.headers["x-resp"], "by-a");
    assert.equal(seen[before]!.headers["x-added"], "by-a");
    assert.equal(seen[before]!.url, "/hello?x=1");
    assert.equal(seen[before]!.headers["x-forwarded-proto"], "http");
    await withTimeout(l.requests[0]!.completed, 5000, "stream complete");
    assert.deepEqual(log, [
      "a:decodeHeaders eos",
      "b:decodeHeaders eos",
      "b:encodeHeaders 200",
      "a:encodeHeaders 200",
      "b:encodeData 3",
      "a:encodeData 3",
      "b:encodeData 0 eos",
      "a:encodeData 0 eos",
      "a:complete",
      "b:complete",
      "a:destroy",
      "b:destroy",
    ]);
    assert.equal(l.requests[0]!.streamInfo.upstreamCluster, "up");
    assert.equal(l.requests[0]!.responseCode, 200);
  });

  it("sends a local reply through every encoder filter and never reaches the upstream", async () => {
    const log: string[] = [];
    const a = httpFake("a", log, {
      encodeHeaders(h) {
        h.push(["x-seen-by-a", "1"]);
        return "Continue";
      },
    });
    const deny = httpFake("deny", log, {
      decodeHeaders(h, _e, cb) {
        if (h.find(([k]) => k === ":path")?.[1] === "/deny") {
          cb.sendLocalReply({ status: 403, body: utf8("denied\n"), headers: [["x-probe", "denied"]], details: "probe_denied", grpcStatus: -1 });
          return "StopIteration";
        }
        return "Continue";
      },
    });
    const after = httpFake("after", log);
    const l = await listen([a, deny, after]);
    const before = seen.length;
    const r = await request(l.port, { path: "/deny" });
    assert.equal(r.status, 403);
    assert.equal(r.body, "denied\n");
    assert.equal(r.headers["x-probe"], "denied");
    assert.equal(r.headers["x-seen-by-a"], "1");
    assert.equal(r.headers["content-type"], "text/plain");
    assert.equal(seen.length, before, "upstream got nothing");
    assert.ok(!log.includes("after:decodeHeaders eos"), "decoding stopped at the replying filter");
    assert.deepEqual(log.filter((e) => e.includes("encodeHeaders")), [
      "after:encodeHeaders 403",
      "deny:encodeHeaders 403",
      "a:encodeHeaders 403",
    ]);
    await withTimeout(l.requests[0]!.completed, 5000, "stream complete");
    assert.equal(l.requests[0]!.localReply, "probe_denied");
  });

  it("buffers the body while a filter stops on data: each callback gets the new chunk, decodingBuffer grows, the whole body forwards", async () => {
    const log: string[] = [];
    const chunkSizes: number[] = [];
    const bufferedSizes: number[] = [];
    let seenData: () => void = () => {};
    const buf = httpFake("buf", log, {
      decodeData(b, eos, cb) {
        chunkSizes.push(b.bytes.length);
        bufferedSizes.push(cb.decodingBuffer()?.bytes.length ?? 0);
        seenData();
        if (!eos) return "StopIterationAndBuffer";
        const buffered = cb.decodingBuffer()!;
        buffered.bytes = utf8(text(buffered.bytes) + text(b.bytes) + "+buf");
        b.bytes = new Uint8Array(0);
        return "Continue";
      },
    });
    const l = await listen([buf]);
    const before = seen.length;
    const r = await request(l.port, {
      method: "POST",
      path: "/body",
      chunks: ["aaaa", "bbbb", "cccc"],
      // Wait until the filter saw each chunk so the three reads stay apart.
      between: () => new Promise<void>((res) => (seenData = res)),
    });
    assert.equal(r.status, 200);
    assert.equal(seen[before]!.body, "aaaabbbbcccc+buf");
    assert.equal(r.body, "up:aaaabbbbcccc+buf");
    assert.deepEqual(chunkSizes, [4, 4, 4, 0]);
    assert.deepEqual(bufferedSizes, [0, 4, 8, 12]);
    assert.equal(log.filter((e) => e.endsWith("eos") && e.includes("decodeData")).length, 1);
  });

  it("StopIteration on headers: the filter still gets data; its Continue on data releases headers then body", async () => {
    const log: string[] = [];
    const gate = httpFake("gate", log, {
      decodeHeaders: () => "StopIteration",
      decodeData: (_b, eos) => (eos ? "Continue" : "StopIterationAndBuffer"),
    });
    const next = httpFake("next", log);
    const l = await listen([gate, next]);
    const r = await request(l.port, { method: "POST", path: "/gate", chunks: ["xyz"] });
    assert.equal(r.body, "up:xyz");
    const decode = log.filter((e) => e.startsWith("gate:decode") || e.startsWith("next:decode"));
    assert.deepEqual(decode, [
      "gate:decodeHeaders",
      "gate:decodeData 3",
      "gate:decodeData 0 eos",
      "next:decodeHeaders",
      "next:decodeData 3 eos",
    ]);
  });

  it("continueDecoding after StopAllIterationAndBuffer hands the buffered body to the stopping filter first", async () => {
    const log: string[] = [];
    let cbs: HttpFilterCallbacks | undefined;
    const auth = httpFake("auth", log, {
      decodeHeaders(_h, _e, cb) {
        cbs = cb;
        return "StopAllIterationAndBuffer";
      },
    });
    const l = await listen([auth]);
    const reply = request(l.port, { method: "POST", path: "/later", chunks: ["12345"] });
    // Release once the body sits in the filter manager's buffer (no filter callback announces it).
    const deadline = Date.now() + 5000;
    while (cbs?.decodingBuffer()?.bytes.length !== 5) {
      assert.ok(Date.now() < deadline, "body was not buffered within 5 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    cbs!.continueDecoding();
    const r = await reply;
    assert.equal(r.body, "up:12345");
    assert.equal(log[0], "auth:decodeHeaders");
    assert.match(log[1]!, /^auth:decodeData 5/);
    assert.equal(log.filter((e) => e.startsWith("auth:decodeData")).at(-1)?.endsWith("eos"), true);
  });

  it("a local reply from an encoder filter goes straight downstream, bypassing the encoders (sendDirectLocalReply)", async () => {
    const log: string[] = [];
    const outer = httpFake("outer", log);
    const inner = httpFake("inner", log, {
      encodeHeaders(_h, _e, cb) {
        cb.sendLocalReply({ status: 502, body: utf8("replaced\n"), headers: [], details: "inner_replaced", grpcStatus: -1 });
        return "StopIteration";
      },
    });
    const l = await listen([outer, inner]);
    const r = await request(l.port, { path: "/x" });
    assert.equal(r.status, 502);
    assert.equal(r.body, "replaced\n");
    // inner is the first encoder; outer never sees the upstream response nor the reply.
    assert.deepEqual(log.filter((e) => e.includes("encode")), ["inner:encodeHeaders 200"]);
  });

  it("carries request and response trailers (chunked)", async () => {
    const log: string[] = [];
    const l = await listen([httpFake("t", log)]);
    const before = seen.length;
    const r = await request(l.port, { method: "POST", path: "/trailers", chunks: ["body"], trailers: { "x-checksum": "abc" } });
    assert.equal(seen[before]!.trailers["x-checksum"], "abc");
    assert.equal(r.body, "with trailers");
    assert.equal(r.trailers["grpc-status"], "0");
    assert.ok(log.includes("t:decodeTrailers"));
    assert.ok(log.includes("t:encodeTrailers"));
  });

  it("answers 503 through the encoders when the upstream refuses", async () => {
    const log: string[] = [];
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const host = fakeHost({ gone: { endpoints: [{ host: "127.0.0.1", port: deadPort }] } });
    const l = await startHttpListener(host, { filters: [httpFake("f", log)], cluster: "gone" });
    listeners.push(l);
    const r = await request(l.port, { path: "/" });
    assert.equal(r.status, 503);
    assert.match(r.body, /connection failure/);
    assert.ok(log.includes("f:encodeHeaders 503"));
  });
});

describe("HTTP response flags (StreamInfo::setResponseFlag; response.flags = legacyResponseFlags)", () => {
  let upstream: http.Server;
  let upstreamPort = 0;
  let deadPort = 0;
  let hung: (() => void) | undefined;
  const listeners: HttpListener[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url === "/hang") {
          hung?.(); // the client gives up while the upstream holds the response
          return;
        }
        if (req.url === "/drop") {
          res.writeHead(200);
          res.write("partial");
          setImmediate(() => res.socket?.destroy());
          return;
        }
        res.end("ok");
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamPort = (upstream.address() as AddressInfo).port;
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
  });

  after(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function one(cluster: string, path: string, filters: HttpFilterFactory[] = []): Promise<{ status: number; flags: string; bits: bigint; details?: string }> {
    const host = fakeHost({
      up: { endpoints: [{ host: "127.0.0.1", port: upstreamPort }] },
      empty: { endpoints: [] },
      dead: { endpoints: [{ host: "127.0.0.1", port: deadPort }] },
    });
    const l = await startHttpListener(host, { filters, cluster });
    listeners.push(l);
    let status = 0;
    await new Promise<void>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port: l.port, path, agent: false }, (res) => {
        status = res.statusCode ?? 0;
        res.resume();
        res.on("end", resolve);
        res.on("error", () => resolve());
        res.on("aborted", () => resolve());
      });
      req.on("error", () => resolve());
      hung = () => req.destroy();
      req.end();
    });
    await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "stream to complete");
    const si = l.requests[0]!.streamInfo;
    const flags = si.responseFlags ?? [];
    return { status, flags: toShortString(flags), bits: legacyResponseFlags(flags), details: l.requests[0]!.localReply };
  }

  const denier = httpFake("deny", [], {
    decodeHeaders: (_h, _e, cb) => {
      cb.sendLocalReply({ status: 403, body: new TextEncoder().encode("no\n"), headers: [], details: "denied", grpcStatus: -1 });
      return "StopIteration";
    },
  });

  it("a proxied response sets none", async () => {
    assert.deepEqual(await one("up", "/"), { status: 200, flags: "-", bits: 0n, details: undefined });
  });

  it("the router: NC (unknown cluster, 503), UH (no endpoint), UF (connection refused)", async () => {
    assert.deepEqual(await one("nope", "/"), { status: 503, flags: "NC", bits: 1n << 24n, details: "cluster_not_found" });
    assert.deepEqual(await one("empty", "/"), { status: 503, flags: "UH", bits: 1n << 1n, details: "no_healthy_upstream" });
    const uf = await one("dead", "/");
    assert.deepEqual([uf.status, uf.flags, uf.bits], [503, "UF", 1n << 5n]);
  });

  it("UC when the upstream drops after the response started; DC when the client leaves first", async () => {
    const uc = await one("up", "/drop");
    assert.deepEqual([uc.status, uc.flags, uc.bits], [200, "UC", 1n << 6n]);
    const dc = await one("up", "/hang");
    assert.deepEqual([dc.status, dc.flags, dc.bits], [0, "DC", 1n << 14n]);
  });

  it("a filter's own local reply sets no flag", async () => {
    assert.deepEqual(await one("up", "/", [denier]), { status: 403, flags: "-", bits: 0n, details: "denied" });
  });
});

describe("HTTP data plane with the wasm probe fixture", () => {
  let upstream: http.Server;
  let upstreamPort: number;
  const seen: Seen[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString(), trailers: req.trailers });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it("adds headers both ways, answers a local reply, and buffers the request body", async () => {
    const { Host } = await import("./index.js");
    const host = new Host({ clusters: { up: { endpoints: [{ host: "127.0.0.1", port: upstreamPort }] } } });
    try {
      const probe = await host.loadPlugin({
        name: "probe",
        wasm: new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname,
        rootId: "probe",
        configuration: "add_request_header=x-req:1\nadd_response_header=x-resp:2\nlocal_reply_path=/deny\nbuffer_request_body=true\nlog_callbacks=true",
        vmCount: 1,
      });
      const l = await host.httpListener({ filters: [probe], cluster: "up" });
      const ok = await request(l.port, { method: "POST", path: "/echo", chunks: ["abc", "def"] });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers["x-resp"], "2");
      const got = seen.at(-1)!;
      assert.equal(got.headers["x-req"], "1");
      assert.equal(got.body, "abcdef+probe");
      assert.ok(host.logs.messages("probe: request_body size=6").length === 1);

      const before = seen.length;
      const denied = await request(l.port, { path: "/deny" });
      assert.equal(denied.status, 403);
      assert.equal(denied.body, "denied by probe\n");
      assert.equal(denied.headers["x-probe"], "denied");
      assert.equal(seen.length, before);
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "streams to complete");
      assert.equal(host.logs.messages("probe: cb=log").length, 2);
      assert.equal(host.logs.messages("probe: cb=delete").length, 2);
    } finally {
      await host.close();
    }
  });
});
