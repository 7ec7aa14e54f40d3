/**
 * Each real peer standalone: start it, do one real request with its real client, stop it.
 * sniffer.test.ts relies on these; a failure here points at the peer, not the proxy.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { mysqlRoundTrip, postgresRoundTrip, redisRoundTrip } from "./clients.js";
import { h2cRequest, http1Request, startH2cServer, startHttp1Server } from "./http.js";
import { grpcEcho, startGrpcServer } from "./grpc.js";
import { startTlsServer, tlsEcho, TLS_SERVER_NAME } from "./tls.js";
import { startThriftServer, thriftEcho, type ThriftStack } from "./thrift.js";
import { dubboInvoke, startDubboProvider } from "./dubbo.js";
import { startEchoServer } from "./echo.js";
import { daemons } from "./daemons.js";
import { flow, startTap } from "./tap.js";

describe("real peers standalone", () => {
  const { redis, postgres, mariadb, ...servers } = daemons();
  const closers: Array<() => Promise<void>> = [];

  before(() => servers.start());

  after(async () => {
    await Promise.all([servers.stop(), ...closers.map((c) => c())]);
  });

  it("redis-server answers ioredis SET/GET", { skip: redis.skip }, async () => {
    assert.equal(await redisRoundTrip((await redis.ready()).port, "k", "v1"), "v1");
  });

  it("postgresql answers pg SELECT $1", { skip: postgres.skip }, async () => {
    const pg = await postgres.ready();
    assert.equal(await postgresRoundTrip(pg.port, pg.user, "hello pg"), "hello pg");
  });

  it("mariadb greets first and answers mysql2 SELECT ?", { skip: mariadb.skip }, async () => {
    const maria = await mariadb.ready();
    const greeting = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: maria.port });
      s.once("data", (c: Buffer) => {
        s.destroy();
        resolve(c);
      });
      s.once("error", reject);
    });
    assert.equal(greeting[4], 10, "protocol version 10 handshake");
    assert.equal(await mysqlRoundTrip(maria.port, "hello maria"), "hello maria");
  });

  it("node http/1.1 and h2c servers answer their clients", async () => {
    const h1 = await startHttp1Server();
    closers.push(h1.close);
    assert.deepEqual(await http1Request(h1.port, "/a", "xyz"), { status: 200, body: "POST /a 3" });
    const h2 = await startH2cServer();
    closers.push(h2.close);
    assert.deepEqual(await h2cRequest(h2.port, "/b"), { status: 200, body: "GET /b 0" });
  });

  it("grpc-js insecure unary call", async () => {
    const g = await startGrpcServer();
    closers.push(g.close);
    assert.equal((await grpcEcho(g.port, Buffer.from("ping"))).toString(), "echo:ping");
  });

  it("node tls with a generated certificate reports SNI and ALPN", async () => {
    const t = await startTlsServer();
    closers.push(t.close);
    const r = await tlsEcho(t.port, t.cert, Buffer.from("secret"), ["h2", "http/1.1"]);
    assert.equal(r.echoed.toString(), "secret");
    assert.equal(r.authorized, true);
    assert.equal(r.alpn, "h2");
    assert.deepEqual(t.sessions, [{ servername: TLS_SERVER_NAME, alpn: "h2" }]);
  });

  for (const stack of ["framed-binary", "buffered-binary", "framed-compact"] as ThriftStack[]) {
    it(`thrift ${stack} echo`, async () => {
      const t = await startThriftServer(stack);
      closers.push(t.close);
      assert.equal(await thriftEcho(t.port, stack, `hi ${stack}`), `echo:hi ${stack}`);
      assert.deepEqual(t.calls, [`hi ${stack}`]);
    });
  }

  it("dubbo provider stub answers a hessian2 request", async () => {
    const d = await startDubboProvider();
    closers.push(d.close);
    assert.equal(await dubboInvoke(d.port, "org.protomesh.Greeter", "sayHello", "world"), "sayHello:world");
    assert.equal(d.requests.length, 1);
    assert.equal(d.requests[0]!.service, "org.protomesh.Greeter");
    assert.equal(d.requests[0]!.descriptor, "Ljava/lang/String;");
    assert.equal(d.requests[0]!.attachments["interface"], "org.protomesh.Greeter");
  });

  it("tap relays and records both directions exactly", async () => {
    const e = await startEchoServer();
    closers.push(e.close);
    const tap = await startTap(e.port);
    closers.push(tap.close);
    const payload = Buffer.alloc(100_000, 7);
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: tap.port, allowHalfOpen: true });
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.once("end", () => resolve(Buffer.concat(chunks)));
      s.once("error", reject);
      s.end(payload);
    });
    assert.equal(echoed.length, payload.length);
    await tap.connections[0]!.closed;
    assert.deepEqual(flow(tap.connections[0]!.up), flow([payload]));
    assert.deepEqual(flow(tap.connections[0]!.down), flow([payload]));
  });
});
