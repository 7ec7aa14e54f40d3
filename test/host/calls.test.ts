import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Host, type Plugin } from "./index.js";
import { FakeConnection, probeWasm } from "./harness.js";

function run(host: Host, c: FakeConnection, cmd: string): string[] {
  const start = host.logs.length;
  c.data(cmd + "\n");
  return host.logs.slice(start).map((l) => l.message);
}

describe("http_call and grpc_call", () => {
  const host = new Host();
  let plugin: Plugin;
  let web: http.Server;
  let silent: http.Server;
  let grpcServer: grpc.Server;
  const seen: Array<{ method?: string; url?: string; host?: string }> = [];

  before(async () => {
    web = http.createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host });
      res.setHeader("x-answer", "42");
      res.end("hello from web");
    });
    // Accepts requests and never answers: the call's timeout decides.
    silent = http.createServer(() => undefined);
    await Promise.all([web, silent].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
    grpcServer = new grpc.Server();
    const id = (b: Buffer) => b;
    grpcServer.addService(
      {
        Echo: {
          path: "/test.Echo/Echo",
          requestStream: false,
          responseStream: false,
          requestSerialize: id,
          requestDeserialize: id,
          responseSerialize: id,
          responseDeserialize: id,
        },
      },
      {
        Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
          cb(null, Buffer.concat([Buffer.from("echo:"), call.request])),
      },
    );
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    host.addCluster("web", { endpoints: [{ host: "127.0.0.1", port: (web.address() as AddressInfo).port }] });
    host.addCluster("silent", { endpoints: [{ host: "127.0.0.1", port: (silent.address() as AddressInfo).port }] });
    host.addCluster("grpcsvc", { endpoints: [{ host: "127.0.0.1", port: grpcPort }], protocol: "http2" });
    plugin = await host.loadPlugin({ name: "probe-calls", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1 });
  });

  after(async () => {
    await host.close();
    silent.closeAllConnections();
    await Promise.all([web, silent].map((s) => new Promise<void>((r) => s.close(() => r()))));
    grpcServer.forceShutdown();
  });

  it("sends an HTTP/1.1 request to the cluster and answers on the root context", async () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const [line] = run(host, c, "http web /status 2000");
    const m = /^probe: http status=0 token=(\d+)$/.exec(line);
    assert.ok(m, line);
    const token = Number(m[1]);
    assert.equal(token % 4, 0, "http call tokens are 0 mod 4");
    const resp = await host.logs.waitFor(`probe: http_response token=${token} `);
    assert.match(resp.message, /code=200 body=hello from web headers=\d+$/);
    assert.equal(resp.contextId, plugin.vms[0].rootContext.id);
    assert.deepEqual(seen.at(-1), { method: "GET", url: "/status", host: "web" });
  });

  it("answers BadArgument for an unknown cluster", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "http nowhere / 1000"), ["probe: http status=2 token=0"]);
  });

  it("turns a timeout into the router's 504 local reply", async () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const [line] = run(host, c, "http silent /slow 50");
    const token = Number(/token=(\d+)$/.exec(line)![1]);
    const resp = await host.logs.waitFor(`probe: http_response token=${token} `);
    assert.match(resp.message, /code=504 body=upstream request timeout headers=3$/);
  });

  it("makes a unary gRPC call: success is on_grpc_receive only", async () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const [line] = run(host, c, "grpc grpcsvc test.Echo Echo ping");
    const m = /^probe: grpc status=0 token=(\d+)$/.exec(line);
    assert.ok(m, line);
    const token = Number(m[1]);
    assert.equal(token % 4, 1, "grpc call tokens are 1 mod 4");
    const r = await host.logs.waitFor(`probe: grpc_receive token=${token} `);
    assert.equal(r.message, `probe: grpc_receive token=${token} body=echo:ping`);
    assert.equal(host.logs.messages(`grpc_close token=${token} `).length, 0);
  });

  it("reports a failed gRPC call with on_grpc_close and the status code", async () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const [line] = run(host, c, "grpc grpcsvc test.Echo Missing x");
    const token = Number(/token=(\d+)$/.exec(line)![1]);
    const closed = await host.logs.waitFor(`probe: grpc_close token=${token} `);
    assert.equal(closed.message, `probe: grpc_close token=${token} code=12`);
  });

  it("closes a GrpcService call to an unknown cluster with Unavailable, then answers InternalFailure", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const lines = run(host, c, "grpcsvc nowhere test.Echo Echo x");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0], /^probe: grpc_close token=\d+ code=14$/);
    assert.equal(lines[1], "probe: grpc status=10 token=0");
  });

  it("reaches a known cluster through a serialized GrpcService", async () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const [line] = run(host, c, "grpcsvc grpcsvc test.Echo Echo hi");
    const token = Number(/^probe: grpc status=0 token=(\d+)$/.exec(line)![1]);
    const got = await host.logs.waitFor(`probe: grpc_receive token=${token} `);
    assert.equal(got.message, `probe: grpc_receive token=${token} body=echo:hi`);
  });

  it("answers ParseFailure for a gRPC call to an unknown cluster name", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "grpc nowhere test.Echo Echo x"), ["probe: grpc status=4 token=0"]);
  });
});
