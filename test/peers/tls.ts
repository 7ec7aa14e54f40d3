/**
 * An in-process node TLS server with a self-signed certificate made at test time by the openssl
 * CLI (falling back to the committed test-only pair in certs/ when openssl is absent). It records
 * the SNI and the negotiated ALPN of each connection and echoes what it reads.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { listenTracked } from "./listen.js";
import { removeDir, tempDir } from "./process.js";

export const TLS_SERVER_NAME = "peer.protomesh.test";

export interface CertPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly generated: boolean;
}

export function testCertificate(): CertPair {
  const dir = tempDir("tls");
  try {
    const r = spawnSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2",
        "-subj", `/CN=${TLS_SERVER_NAME}`, "-addext", `subjectAltName=DNS:${TLS_SERVER_NAME}`,
      ],
      { encoding: "utf8", timeout: 10_000 },
    );
    if (r.status === 0) {
      return { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")), generated: true };
    }
  } finally {
    removeDir(dir);
  }
  const certs = new URL("./certs/", import.meta.url).pathname;
  return { cert: readFileSync(join(certs, "cert.pem")), key: readFileSync(join(certs, "key.pem")), generated: false };
}

export interface TlsSession {
  readonly servername: string | false;
  readonly alpn: string | false;
}

export interface TlsPeer {
  readonly port: number;
  readonly cert: Buffer;
  /** One entry per completed handshake, in order. */
  readonly sessions: TlsSession[];
  close(): Promise<void>;
}

export async function startTlsServer(alpn: ReadonlyArray<string> = ["h2", "http/1.1"]): Promise<TlsPeer> {
  const pair = testCertificate();
  const sessions: TlsSession[] = [];
  const server = tls.createServer({ cert: pair.cert, key: pair.key, ALPNProtocols: [...alpn], allowHalfOpen: true }, (s) => {
    sessions.push({ servername: s.servername ?? false, alpn: s.alpnProtocol ?? false });
    s.on("error", () => {});
    s.on("data", (c: Buffer) => s.write(c));
    s.on("end", () => s.end());
  });
  const c = await listenTracked(server);
  return { port: c.port, cert: pair.cert, sessions, close: c.close };
}

/** Handshakes with SNI + ALPN, writes `payload`, reads until the whole echo is back, closes. */
export function tlsEcho(
  port: number,
  ca: Buffer,
  payload: Buffer,
  alpn: ReadonlyArray<string> = ["h2", "http/1.1"],
  servername = TLS_SERVER_NAME,
): Promise<{ echoed: Buffer; alpn: string | false; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca, ALPNProtocols: [...alpn] });
    const chunks: Buffer[] = [];
    let n = 0;
    s.once("error", reject);
    s.once("secureConnect", () => s.write(payload));
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n < payload.length) return;
      resolve({ echoed: Buffer.concat(chunks), alpn: s.alpnProtocol ?? false, authorized: s.authorized });
      s.end();
    });
    s.once("end", () => reject(new Error(`tls echo: closed after ${n} of ${payload.length} bytes`)));
  });
}
