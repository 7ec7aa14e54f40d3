/**
 * Real first flights: the bytes a client sends before it hears anything back. Mutations of these
 * reach deeper into a sniffer's parser than uniform noise does, because they keep most of the
 * structure (magic numbers, length fields) a parser checks first.
 */

import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { CAPTURES_DIR } from "../tools/harness/captures.js";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

function concat(...parts: ReadonlyArray<Uint8Array | readonly number[]>): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

const u8 = (v: number): number[] => [v & 0xff];
const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const u24 = (v: number): number[] => [(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const with16 = (body: Uint8Array): Uint8Array => concat(u16(body.length), body);
const with8 = (body: Uint8Array): Uint8Array => concat(u8(body.length), body);

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i * 37) & 0xff;
  return out;
}

function tlsExtension(type: number, body: Uint8Array): Uint8Array {
  return concat(u16(type), with16(body));
}

/** TLS 1.3-capable ClientHello (RFC 8446 §4.1.2) with SNI, ALPN, supported_versions, key_share. */
export function tlsClientHello(serverName = "example.com", alpn: readonly string[] = ["h2", "http/1.1"]): Uint8Array {
  const name = ascii(serverName);
  const sni = tlsExtension(0x0000, with16(concat(u8(0), with16(name))));
  const groups = tlsExtension(0x000a, with16(Uint8Array.from([...u16(0x001d), ...u16(0x0017), ...u16(0x0018)])));
  const pointFormats = tlsExtension(0x000b, with8(Uint8Array.from([0])));
  const sigAlgs = tlsExtension(0x000d, with16(Uint8Array.from([...u16(0x0403), ...u16(0x0804), ...u16(0x0401)])));
  const alpnExt = tlsExtension(0x0010, with16(concat(...alpn.map((p) => with8(ascii(p))))));
  const versions = tlsExtension(0x002b, with8(Uint8Array.from([...u16(0x0304), ...u16(0x0303)])));
  const keyShare = tlsExtension(0x0033, with16(concat(u16(0x001d), with16(pattern(32, 7)))));
  const extensions = concat(sni, groups, pointFormats, sigAlgs, alpnExt, versions, keyShare);
  const suites = Uint8Array.from([...u16(0x1301), ...u16(0x1302), ...u16(0x1303), ...u16(0xc02f), ...u16(0xc02b)]);
  const hello = concat(
    u16(0x0303), // legacy_version
    pattern(32, 1), // random
    with8(pattern(32, 99)), // legacy_session_id
    with16(suites),
    with8(Uint8Array.from([0])), // compression: null
    with16(extensions),
  );
  const handshake = concat(u8(1), u24(hello.length), hello);
  return concat(u8(0x16), u16(0x0301), u16(handshake.length), handshake);
}

/** HTTP/2 connection preface (RFC 9113 §3.4) + SETTINGS + WINDOW_UPDATE, as curl sends them. */
export function h2Preface(): Uint8Array {
  const settings = [...u16(3), ...u32(100), ...u16(4), ...u32(10485760), ...u16(2), ...u32(0)];
  const settingsFrame = [...u24(settings.length), 0x04, 0x00, ...u32(0), ...settings];
  const windowUpdate = [...u24(4), 0x08, 0x00, ...u32(0), ...u32(1048510465)];
  return concat(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), settingsFrame, windowUpdate);
}

/** Thrift binary protocol (strict) call `ping("hello")` in the framed transport. */
export function thriftFramedCall(method = "ping", seqId = 1): Uint8Array {
  const name = ascii(method);
  const arg = ascii("hello");
  const message = concat(
    u32(0x80010001), // VERSION_1 | CALL
    u32(name.length),
    name,
    u32(seqId),
    [11, ...u16(1)], // field 1: string
    u32(arg.length),
    arg,
    [0], // STOP
  );
  return concat(u32(message.length), message);
}

/** Dubbo request header (magic 0xdabb, two-way request, hessian2) with a short body. */
export function dubboRequest(): Uint8Array {
  const body = concat(
    [0x05], ascii("2.0.2"),
    [0x1d], ascii("org.apache.dubbo.DemoService"),
    [0x05], ascii("0.0.0"),
    [0x08], ascii("sayHello"),
    [0x12], ascii("Ljava/lang/String;"),
    [0x05], ascii("world"),
    [0x48, 0x5a], // empty attachments map
  );
  return concat([0xda, 0xbb, 0xc2, 0x00], u32(0), u32(42), u32(body.length), body);
}

export interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export const CORPUS: readonly Seed[] = [
  {
    name: "http1-get",
    bytes: ascii("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"),
  },
  {
    name: "http1-post",
    bytes: ascii("POST /api HTTP/1.1\r\nHost: svc.ns.svc.cluster.local\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\":\"bcd\"}"),
  },
  { name: "h2-preface", bytes: h2Preface() },
  { name: "tls-client-hello", bytes: tlsClientHello() },
  { name: "redis-ping", bytes: ascii("*1\r\n$4\r\nPING\r\n") },
  { name: "thrift-framed-call", bytes: thriftFramedCall() },
  { name: "dubbo-request", bytes: dubboRequest() },
];

/** The built-in seeds plus every committed capture (`capture:<file name>`), when present. */
export async function loadCorpus(dir = CAPTURES_DIR): Promise<Seed[]> {
  const seeds: Seed[] = [...CORPUS];
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith(".bin")).sort();
  } catch {
    return seeds;
  }
  for (const file of files) {
    const bytes = new Uint8Array(await readFile(path.join(dir, file)));
    if (bytes.length > 0) seeds.push({ name: `capture:${file.slice(0, -4)}`, bytes });
  }
  return seeds;
}
