/** In-process node HTTP/1.1 and HTTP/2 cleartext (h2c, prior knowledge) servers and clients. */
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import { listenTracked, type Closable } from "./listen.js";

/** Every request is answered `200` with body `<method> <path> <request body length>`. */
export async function startHttp1Server(): Promise<Closable> {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => {
      res.setHeader("content-type", "text/plain");
      res.end(`${req.method} ${req.url} ${n}`);
    });
  });
  return listenTracked(server);
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

export function http1Request(port: number, path: string, body = ""): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: body ? "POST" : "GET", agent: false, headers: { connection: "close" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Same answers as the HTTP/1.1 server, over h2c. */
export async function startH2cServer(): Promise<Closable> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    let n = 0;
    stream.on("data", (c: Buffer) => (n += c.length));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "text/plain" });
      stream.end(`${headers[":method"]} ${headers[":path"]} ${n}`);
    });
  });
  const c = await listenTracked(server as unknown as net.Server);
  return {
    port: c.port,
    close: async () => {
      for (const s of sessions) s.destroy();
      await c.close();
    },
  };
}

/** One request over a fresh h2c session (prior knowledge: the client starts with the preface). */
export function h2cRequest(port: number, path: string, body = ""): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({ ":method": body ? "POST" : "GET", ":path": path }, { endStream: false });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks).toString() });
    });
    req.on("error", reject);
    req.end(body);
  });
}
