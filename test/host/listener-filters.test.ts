import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { envoyBehaviour } from "./envoy-version.js";
import { inspectClientHello, inspectHttp } from "./listener-filters.js";
import { pickFilterChain, startTcpListener, type ConnectionFacts, type TcpFilterChain, type TcpListener } from "./tcp.js";
import { connect, fakeHost, readAll, recordingServer, withTimeout, type RecordingServer } from "./fakes.js";
import type { DataPlaneHost } from "./types.js";

const WAIT_MS = 5000;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A TLS 1.2/1.3-style ClientHello record with optional SNI and ALPN (RFC 8446 4.1.2). */
function clientHello(opts: { sni?: string; alpn?: string[]; recordSplit?: number } = {}): Buffer {
  const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  const exts: Buffer[] = [];
  if (opts.sni !== undefined) {
    const name = Buffer.from(opts.sni, "latin1");
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    const list = Buffer.concat([u16(entry.length), entry]);
    exts.push(Buffer.concat([u16(0), u16(list.length), list]));
  }
  if (opts.alpn !== undefined) {
    const protos = Buffer.concat(opts.alpn.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "latin1")])));
    const list = Buffer.concat([u16(protos.length), protos]);
    exts.push(Buffer.concat([u16(16), u16(list.length), list]));
  }
  const extBytes = Buffer.concat(exts);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 0x41), // random (no 0x0a, so the probe's line splitter sees one line)
    Buffer.from([0]), // session id
    u16(4),
    Buffer.from([0x13, 0x01, 0x13, 0x02]),
    Buffer.from([1, 0]), // compression: null
    u16(extBytes.length),
    extBytes,
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  const split = opts.recordSplit ?? hs.length;
  const rec = (b: Buffer): Buffer => Buffer.concat([Buffer.from([22, 3, 1]), u16(b.length), b]);
  return split >= hs.length ? rec(hs) : Buffer.concat([rec(hs.subarray(0, split)), rec(hs.subarray(split))]);
}

describe("http_inspector detection (inspectHttp), per parser", () => {
  // [name, input, Balsa (Envoy 1.39), legacy http-parser (Envoy 1.37/1.38) when it differs]
  const cases: Array<[string, string | Uint8Array, string, string?]> = [
    ["HTTP/1.1 request line", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", "Done http/1.1"],
    ["HTTP/1.0 request line", "GET / HTTP/1.0\r\n\r\n", "Done http/1.0"],
    ["HTTP/0.9 (no version) counts as http/1.0", "GET /\r\n", "Done http/1.0"],
    ["a method http-parser knows", "PURGE /a HTTP/1.1\n", "Done http/1.1"],
    ["a custom method: Balsa allows tchar, http-parser refuses", "FOO /a HTTP/1.1\n", "Done http/1.1", "Error"],
    ["a lower-case method: only Balsa takes it", "get /a HTTP/1.1\n", "Done http/1.1", "Error"],
    ["absolute-form target", "GET http://a.b/c HTTP/1.1\r\n", "Done http/1.1"],
    ["request line without newline yet", "GET /x HTTP/1.", "Continue"],
    ["request line up to its CR", "GET /x HTTP/1.1\r", "Continue"],
    ["h2 preface prefix", "PRI * HTTP/2.0\r\n", "Continue"],
    ["h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "Done h2c"],
    ["Redis RESP array", "*1\r\n$4\r\nPING\r\n", "Error"],
    ["Redis inline", "PING\r\n", "Error"],
    ["Redis inline without newline: no method starts with PI", "PING", "Continue", "Error"],
    ["bad version", "GET / HTTP/1.x\r\n", "Error"],
    ["bad version before the newline", "GET / HTTP/1.x", "Continue", "Error"],
    ["leading CRLF", "\r\nGET / HTTP/1.1\r\n", "Error"],
    ["first byte 0x00 (Thrift framed, Postgres startup)", Uint8Array.from([0, 0, 0, 8, 0x80, 1, 0, 1]), "Error"],
    ["Dubbo magic without newline", Uint8Array.from([0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1]), "Continue", "Error"],
    ["Thrift binary (strict) without newline", Uint8Array.from([0x80, 1, 0, 1, 0, 0, 0, 4]), "Continue", "Error"],
  ];
  for (const parser of ["balsa", "legacy"] as const) {
    for (const [name, input, balsa, legacy] of cases) {
      const want = parser === "legacy" ? (legacy ?? balsa) : balsa;
      it(`${parser}: ${name} → ${want}`, () => {
        const r = inspectHttp(typeof input === "string" ? enc(input) : input, parser);
        assert.equal(r.state === "Done" ? `Done ${r.protocol}` : r.state, want);
      });
    }
  }
});

describe("tls_inspector ClientHello parsing (inspectClientHello)", () => {
  it("finds SNI (lower-cased) and ALPN", () => {
    const r = inspectClientHello(clientHello({ sni: "Svc.Example.COM", alpn: ["h2", "http/1.1"] }));
    assert.deepEqual(r, { state: "Tls", serverName: "svc.example.com", alpn: ["h2", "http/1.1"] });
  });
  it("reassembles a ClientHello split over two records and waits for the rest", () => {
    const full = clientHello({ sni: "a.b", recordSplit: 20 });
    assert.deepEqual(inspectClientHello(full), { state: "Tls", serverName: "a.b", alpn: [] });
    assert.equal(inspectClientHello(full.subarray(0, 30)).state, "Continue");
    assert.equal(inspectClientHello(full.subarray(0, 3)).state, "Continue");
  });
  it("plaintext is not TLS", () => {
    assert.equal(inspectClientHello(enc("GET / HTTP/1.1\r\n")).state, "NotTls");
    assert.equal(inspectClientHello(enc("*1\r\n$4\r\nPING\r\n")).state, "NotTls");
  });
  it("a malformed ClientHello is not TLS", () => {
    const bad = clientHello({ sni: "x.y" });
    bad[bad.length - 6] = 0xff; // SNI list length now wrong
    assert.equal(inspectClientHello(bad).state, "NotTls");
  });
});

describe("filter_chain_match selection order (pickFilterChain)", () => {
  const chain = (name: string, match?: TcpFilterChain["match"]): TcpFilterChain => ({ name, filters: [], tcpProxy: {}, ...(match ? { match } : {}) });
  const facts = (f: Partial<ConnectionFacts> & { port?: number }): ConnectionFacts => ({
    source: { host: "127.0.0.1", port: 1 },
    destination: { host: "127.0.0.1", port: f.port ?? 80 },
    requestedServerName: f.requestedServerName ?? "",
    applicationProtocols: f.applicationProtocols ?? [],
    transportProtocol: f.transportProtocol ?? "raw_buffer",
  });
  const dflt = chain("default");

  it("a chain naming the port hides the port-less chains, even when it does not match further down", () => {
    const chains = [chain("p80-tls", { destinationPort: 80, transportProtocol: "tls" }), chain("any")];
    assert.equal(pickFilterChain(chains, facts({ port: 80 }), dflt)?.name, "default");
    assert.equal(pickFilterChain(chains, facts({ port: 80 })), undefined);
    assert.equal(pickFilterChain(chains, facts({ port: 81 }), dflt)?.name, "any");
  });
  it("server names: exact, then the longest wildcard, then chains without names — before transport and ALPN", () => {
    const chains = [
      chain("exact", { serverNames: ["a.b.example.com"] }),
      chain("wild-long", { serverNames: ["*.b.example.com"] }),
      chain("wild-short", { serverNames: ["*.example.com"] }),
      chain("alpn-h2", { applicationProtocols: ["h2"] }),
    ];
    const name = (sni: string, alpn: string[] = []) => pickFilterChain(chains, facts({ requestedServerName: sni, applicationProtocols: alpn }), dflt)?.name;
    assert.equal(name("a.b.example.com", ["h2"]), "exact");
    assert.equal(name("c.b.example.com", ["h2"]), "wild-long");
    assert.equal(name("c.example.com", ["h2"]), "wild-short");
    assert.equal(name("other.org", ["h2"]), "alpn-h2");
    assert.equal(name("other.org"), "default");
  });
  it("transport protocol before application protocols; ALPN in the connection's order", () => {
    const chains = [
      chain("tls", { transportProtocol: "tls" }),
      chain("h2", { applicationProtocols: ["h2"] }),
      chain("h11", { applicationProtocols: ["http/1.1"] }),
    ];
    assert.equal(pickFilterChain(chains, facts({ transportProtocol: "tls", applicationProtocols: ["h2"] }), dflt)?.name, "tls");
    assert.equal(pickFilterChain(chains, facts({ applicationProtocols: ["http/1.1", "h2"] }), dflt)?.name, "h11");
    assert.equal(pickFilterChain(chains, facts({ applicationProtocols: ["h2", "http/1.1"] }), dflt)?.name, "h2");
  });
  it("startTcpListener rejects two chains with the same match, as Envoy does", async () => {
    await assert.rejects(
      startTcpListener(fakeHost(), { filterChains: [chain("a", { applicationProtocols: ["h2c"] }), chain("b", { applicationProtocols: ["h2c"] })] }),
      /same matching rules/,
    );
  });
});

for (const envoyVersion of ["1.37", "1.39"] as const) describe(`listener filters over real sockets (Envoy ${envoyVersion})`, () => {
  const parser = envoyBehaviour(envoyVersion).httpInspectorParser;
  let echo: RecordingServer;
  let web: http.Server;
  let webPort = 0;
  let h2: http2.Http2Server;
  let h2Port = 0;
  let greeter: net.Server;
  let greeterPort = 0;
  let host: DataPlaneHost;
  const listeners: TcpListener[] = [];
  const sockets: net.Socket[] = [];
  const listenOn = (s: net.Server): Promise<number> =>
    new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as net.AddressInfo).port)));

  before(async () => {
    echo = await recordingServer("echo");
    web = http.createServer((req, res) => res.end(`web ${req.method} ${req.url} ${req.httpVersion}`));
    webPort = await listenOn(web);
    h2 = http2.createServer();
    h2.on("stream", (stream, headers) => {
      stream.respond({ ":status": 200 });
      stream.end(`h2 ${headers[":path"]}`);
    });
    h2Port = await listenOn(h2);
    // A server-first upstream (SMTP-like): speaks as soon as a client connects.
    greeter = net.createServer((s) => {
      s.on("error", () => {});
      s.end("220 greeter ready\r\n");
    });
    greeterPort = await listenOn(greeter);
    host = {
      ...fakeHost({
        echo: { endpoints: [{ host: "127.0.0.1", port: echo.port }] },
        web: { endpoints: [{ host: "127.0.0.1", port: webPort }] },
        h2: { endpoints: [{ host: "127.0.0.1", port: h2Port }] },
        greeter: { endpoints: [{ host: "127.0.0.1", port: greeterPort }] },
      }),
      envoyVersion,
    };
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(listeners.map((l) => l.close()));
    await echo.close();
    web.closeAllConnections();
    await new Promise<void>((r) => web.close(() => r()));
    await new Promise<void>((r) => h2.close(() => r()));
    await new Promise<void>((r) => greeter.close(() => r()));
  });

  /** The sniffer contract's bypass shape: HTTP chains kept by http_inspector, the rest to a default chain. */
  async function meshListener(extra: Partial<Parameters<typeof startTcpListener>[1]> = {}): Promise<TcpListener> {
    const l = await startTcpListener(host, {
      listenerFilters: ["tls_inspector", "http_inspector"],
      filterChains: [
        { name: "http", match: { applicationProtocols: ["http/1.1", "http/1.0"] }, filters: [], tcpProxy: { cluster: "web" } },
        { name: "h2c", match: { applicationProtocols: ["h2c"] }, filters: [], tcpProxy: { cluster: "h2" } },
        { name: "tls-svc", match: { serverNames: ["svc.example.com"], transportProtocol: "tls" }, filters: [], tcpProxy: { cluster: "echo" } },
      ],
      defaultFilterChain: { name: "default", filters: [], tcpProxy: { cluster: "echo" } },
      ...extra,
    });
    listeners.push(l);
    return l;
  }
  async function client(port: number): Promise<net.Socket> {
    const s = await connect(port);
    sockets.push(s);
    return s;
  }

  it("an HTTP/1.1 client (node http) lands on the http/1.1 chain and the peeked request reaches the upstream whole", async () => {
    const l = await meshListener();
    const agent = new http.Agent({ keepAlive: false });
    const body = await withTimeout(
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: l.port, path: "/hello", agent }, (res) => {
            let b = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (b += c));
            res.on("end", () => resolve(b));
          })
          .on("error", reject);
      }),
      WAIT_MS,
      "HTTP response",
    );
    agent.destroy();
    assert.equal(body, "web GET /hello 1.1");
    const c = l.connections.at(-1)!;
    assert.equal(c.filterChainName, "http");
    assert.deepEqual(c.applicationProtocols, ["http/1.1"]);
    assert.equal(c.transportProtocol, "raw_buffer");
    assert.equal(l.stats.get("http_inspector.http11_found"), 1);
    assert.equal(l.stats.get("tls_inspector.tls_not_found"), 1);
  });

  it("an HTTP/1.0 request line lands on the same chain (application protocol http/1.0)", async () => {
    const l = await meshListener();
    const s = await client(l.port);
    const reading = readAll(s);
    s.end("GET /old HTTP/1.0\r\n\r\n");
    assert.match((await reading).bytes.toString(), /web GET \/old 1\.0$/);
    assert.deepEqual(l.connections.at(-1)!.applicationProtocols, ["http/1.0"]);
    assert.equal(l.connections.at(-1)!.filterChainName, "http");
  });

  it("a Redis client (RESP PING) is not HTTP: default chain, bytes forwarded and echoed exactly", async () => {
    const l = await meshListener();
    const s = await client(l.port);
    const reading = readAll(s);
    s.end("*1\r\n$4\r\nPING\r\n");
    assert.equal((await reading).bytes.toString(), "*1\r\n$4\r\nPING\r\n");
    const c = l.connections.at(-1)!;
    assert.equal(c.filterChainName, "default");
    assert.deepEqual(c.applicationProtocols, []);
    assert.equal(c.bytesToUpstream, 14);
    assert.equal(l.stats.get("http_inspector.http_not_found"), 1);
  });

  it("an h2c prior-knowledge client (node http2) lands on the h2c chain", async () => {
    const l = await meshListener();
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    try {
      const text = await withTimeout(
        new Promise<string>((resolve, reject) => {
          const req = session.request({ ":path": "/two" });
          let b = "";
          req.setEncoding("utf8");
          req.on("data", (c: string) => (b += c));
          req.on("end", () => resolve(b));
          req.on("error", reject);
          req.end();
        }),
        WAIT_MS,
        "h2 response",
      );
      assert.equal(text, "h2 /two");
    } finally {
      session.destroy();
    }
    assert.equal(l.connections.at(-1)!.filterChainName, "h2c");
    assert.deepEqual(l.connections.at(-1)!.applicationProtocols, ["h2c"]);
    assert.equal(l.stats.get("http_inspector.http2_found"), 1);
  });

  it("a TLS client (node tls) with SNI lands on the chain for that server name; SNI and ALPN are recorded; http_inspector skips", async () => {
    const l = await meshListener();
    const upstreamBefore = echo.accepted;
    const t = tls.connect({ host: "127.0.0.1", port: l.port, servername: "svc.example.com", ALPNProtocols: ["h2", "http/1.1"], rejectUnauthorized: false });
    t.on("error", () => {}); // the echo upstream answers with our own ClientHello: the handshake fails
    sockets.push(t);
    const conn = await withTimeout(
      (async () => {
        while (l.connections.length === 0 || echo.accepted === upstreamBefore) await new Promise((r) => setTimeout(r, 10));
        return l.connections.at(-1)!;
      })(),
      WAIT_MS,
      "connection on a chain",
    );
    assert.equal(conn.filterChainName, "tls-svc");
    assert.equal(conn.transportProtocol, "tls");
    assert.equal(conn.info.requestedServerName, "svc.example.com");
    assert.deepEqual(conn.applicationProtocols, ["h2", "http/1.1"]);
    assert.equal(l.stats.get("tls_inspector.sni_found"), 1);
    assert.equal(l.stats.get("http_inspector.http_not_found") + l.stats.get("http_inspector.http11_found"), 0);
  });

  it("a TLS client with another server name goes to the default chain", async () => {
    const l = await meshListener();
    const s = await client(l.port);
    const reading = readAll(s);
    const hello = clientHello({ sni: "other.example.org" });
    s.end(hello);
    assert.deepEqual((await reading).bytes, hello);
    assert.equal(l.connections.at(-1)!.filterChainName, "default");
    assert.equal(l.connections.at(-1)!.info.requestedServerName, "other.example.org");
  });

  it("server-first client, continue_on_listener_filters_timeout=false (Envoy default): held until the timeout, then closed", async () => {
    const l = await meshListener({ listenerFiltersTimeoutMs: 300 });
    const echoBefore = echo.accepted;
    const started = Date.now();
    const s = await client(l.port);
    const got = await readAll(s, WAIT_MS);
    const elapsed = Date.now() - started;
    assert.equal(got.bytes.length, 0);
    assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before the 300 ms listener-filter timeout`);
    assert.equal(l.stats.get("listener.downstream_pre_cx_timeout"), 1);
    assert.equal(l.connections.length, 0);
    assert.equal(l.listenerClosed.at(-1)?.reason, "timeout");
    assert.equal(echo.accepted, echoBefore);
  });

  it("server-first client, continue_on_listener_filters_timeout=true (Istio): default chain after the timeout; the greeting arrives late", async () => {
    const l = await meshListener({
      listenerFiltersTimeoutMs: 300,
      continueOnListenerFiltersTimeout: true,
      defaultFilterChain: { name: "default", filters: [], tcpProxy: { cluster: "greeter" } },
    });
    const started = Date.now();
    const s = await client(l.port);
    const greeting = await withTimeout(
      new Promise<number>((resolve) => s.once("data", () => resolve(Date.now() - started))),
      WAIT_MS,
      "greeting",
    );
    assert.ok(greeting >= 250, `greeting after ${greeting} ms, before the listener-filter timeout`);
    const c = l.connections.at(-1)!;
    assert.equal(c.filterChainName, "default");
    assert.equal(c.listenerFiltersTimedOut, true);
    assert.equal(c.transportProtocol, "raw_buffer");
    assert.equal(l.stats.get("listener.downstream_pre_cx_timeout"), 1);
  });

  it(`a binary client-first flight without a newline (Dubbo magic): ${parser === "legacy" ? "not HTTP at once (legacy http-parser)" : "waits for the listener-filter timeout (Balsa)"}`, async () => {
    const l = await meshListener({ listenerFiltersTimeoutMs: 400, continueOnListenerFiltersTimeout: true });
    const dubbo = Buffer.from([0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    const started = Date.now();
    const s = await client(l.port);
    const echoed = new Promise<void>((resolve) => {
      const got: Buffer[] = [];
      s.on("data", (c: Buffer) => {
        got.push(c);
        if (Buffer.concat(got).length >= dubbo.length) resolve();
      });
    });
    // No FIN: a peer close while the listener filters wait would close the socket instead.
    s.write(dubbo);
    await withTimeout(echoed, WAIT_MS, "the echo of the Dubbo bytes");
    const elapsed = Date.now() - started;
    const c = l.connections.at(-1)!;
    assert.equal(c.filterChainName, "default");
    assert.equal(c.listenerFiltersTimedOut, parser === "balsa");
    assert.equal(l.stats.get("http_inspector.http_not_found"), parser === "legacy" ? 1 : 0);
    if (parser === "balsa") assert.ok(elapsed >= 350, `echoed after ${elapsed} ms, before the 400 ms listener-filter timeout`);
  });

  it("without listener filters a server-first client is connected at once (the old behaviour)", async () => {
    const l = await startTcpListener(host, { filterChains: [{ name: "plain", filters: [], tcpProxy: { cluster: "greeter" } }] });
    listeners.push(l);
    const s = await client(l.port);
    const got = await readAll(s, WAIT_MS);
    assert.equal(got.bytes.toString(), "220 greeter ready\r\n");
    assert.equal(l.connections[0]!.filterChainName, "plain");
  });

  it("no matching chain and no default chain: the connection is closed and counted", async () => {
    const l = await startTcpListener(host, {
      listenerFilters: ["http_inspector"],
      filterChains: [{ name: "http", match: { applicationProtocols: ["http/1.1"] }, filters: [], tcpProxy: { cluster: "web" } }],
    });
    listeners.push(l);
    const s = await client(l.port);
    const reading = readAll(s, WAIT_MS);
    s.write("*1\r\n$4\r\nPING\r\n");
    assert.equal((await reading).bytes.length, 0);
    assert.equal(l.stats.get("listener.no_filter_chain_match"), 1);
    assert.equal(l.listenerClosed.at(-1)?.reason, "no_filter_chain_match");
    assert.equal(l.connections.length, 0);
  });

  it("http_inspector closes a connection that sends 64 KiB of request line without a newline (MAX_INSPECT_SIZE)", async () => {
    const l = await meshListener();
    const s = await client(l.port);
    const reading = readAll(s, WAIT_MS);
    s.on("error", () => {});
    // A request target both parsers keep reading: neither decides before the cap.
    s.write(Buffer.concat([Buffer.from("GET /"), Buffer.alloc(64 * 1024 - 5, 0x61)]));
    await reading;
    assert.equal(l.stats.get("http_inspector.read_error"), 1);
    assert.equal(l.listenerClosed.at(-1)?.reason, "filter_close");
    assert.equal(l.connections.length, 0);
  });

  it("a peer that closes while the listener filters wait is closed without a filter chain", async () => {
    const l = await meshListener();
    const s = await client(l.port);
    const reading = readAll(s, WAIT_MS);
    s.end("GET /partial");
    await reading;
    await withTimeout(
      (async () => {
        while (l.listenerClosed.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      WAIT_MS,
      "listener close",
    );
    assert.equal(l.listenerClosed[0]!.reason, "remote_close");
    assert.equal(l.stats.get("listener.downstream_listener_filter_remote_close"), 1);
    assert.equal(l.connections.length, 0);
  });
});

describe("listener filters with the wasm probe fixture", () => {
  const probeWasm = new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname;
  let echo: RecordingServer;
  let wasmHost: import("./index.js").Host;
  const sockets: net.Socket[] = [];

  before(async () => {
    const { Host } = await import("./index.js");
    echo = await recordingServer("echo");
    wasmHost = new Host({ clusters: { echo: { endpoints: [{ host: "127.0.0.1", port: echo.port }] } } });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await wasmHost.close();
    await echo.close();
  });

  it("the SNI tls_inspector found is connection.requested_server_name to a wasm filter", async () => {
    const p = await wasmHost.loadPlugin({ name: "sni", wasm: probeWasm, rootId: "probe", configuration: "on_data=commands", vmCount: 1 });
    const l = await wasmHost.tcpListener({
      listenerFilters: ["tls_inspector", "http_inspector"],
      filterChains: [{ name: "tls-svc", match: { serverNames: ["*.example.com"], transportProtocol: "tls" }, filters: [p], tcpProxy: { cluster: "echo" } }],
    });
    const s = await connect(l.port);
    sockets.push(s);
    // The ClientHello (no 0x0a in it) ends the probe's first "line"; the command follows.
    s.write(Buffer.concat([clientHello({ sni: "svc.example.com", alpn: ["h2"] }), Buffer.from("\nprop connection.requested_server_name\n")]));
    const entry = await withTimeout(wasmHost.logs.waitFor("probe: prop connection.requested_server_name"), WAIT_MS, "probe prop line");
    assert.equal(entry.message, `probe: prop connection.requested_server_name status=0 hex=${Buffer.from("svc.example.com").toString("hex")}`);
    assert.equal(l.connections[0]!.filterChainName, "tls-svc");
  });
});
