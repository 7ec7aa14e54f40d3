/**
 * A strict reference for what the sniffer should report for a connection's first bytes, written
 * independently of the wasm detector: first the TLS records are reassembled into the handshake
 * message, then the ClientHello is read with a bounds-checked cursor.
 *
 * Rules: RFC 8446 §5.1 (records: type 22, length ≤ 2^14), §4 and §4.1.2 (ClientHello: version,
 * random[32], legacy_session_id<0..32>, cipher_suites<2..2^16-2>, legacy_compression_methods
 * <1..2^8-1>, extensions), §4.2 (no duplicate extension types); RFC 6066 §3 (server_name: one
 * host_name, ASCII without a trailing dot); RFC 7301 §3.1 (ProtocolNameList, names 1..255 bytes);
 * and BoringSSL, which Envoy's tls_inspector runs: only the record version's major byte is
 * checked, ≤ 32 empty records in a row, a ClientHello body ≤ 16384 bytes, no handshake bytes
 * after it in its record, compression must offer null, exactly one server_name entry of type
 * host_name, 1..255 bytes, without NUL (ssl/tls_record.cc, ssl/s3_both.cc, ssl/handshake.cc,
 * ssl/extensions.cc, ssl/handshake_server.cc extract_sni). Deliberate differences from Envoy
 * (assembly/codecs/README.md): legacy_version must be 0x0300..0x0304; a hello over 64 records
 * or over the cap is TLS without SNI/ALPN; SNI published only as a host name.
 */

export const MAX_RECORD = 16384;
export const MAX_HELLO = 16384;
export const MAX_RECORDS = 64;
export const MAX_EMPTY = 32;

export interface Verdict {
  readonly protocol: "tls" | "tcp";
  /** protomesh.sni as published (lower-cased host name), when published. */
  readonly sni?: string;
  /** protomesh.alpn as published, when published. */
  readonly alpn?: string;
  /** Why (for the disagreement report). */
  readonly why: string;
}

const tcp = (why: string): Verdict => ({ protocol: "tcp", why });
const tlsBare = (why: string): Verdict => ({ protocol: "tls", why });

/** The verdict for a connection whose client sent `stream` and then ended it. */
export function referenceVerdict(stream: Uint8Array, cap = MAX_HELLO): Verdict {
  const message: number[] = [];
  let off = 0;
  let records = 0;
  let emptyRun = 0;
  let helloLen = -1; // body length once the handshake header is in
  let declared = 0; // handshake bytes the records read so far declare
  for (;;) {
    if (helloLen >= 0 && message.length >= 4 + helloLen) break;
    const avail = stream.length - off;
    if (avail < 5) {
      // A partial record header still rules the bytes out when what arrived is wrong.
      if (avail >= 1 && stream[off] !== 22) return tcp(`record type ${stream[off]}`);
      if (avail >= 2 && stream[off + 1] !== 3) return tcp("record major version");
      if (avail >= 4 && stream[off + 3]! > 0x40) return tcp("record length above 2^14");
      return helloLen >= 0 ? tlsBare("stream ended inside the ClientHello") : tcp("stream ended before the handshake header");
    }
    const type = stream[off]!;
    const version = (stream[off + 1]! << 8) | stream[off + 2]!;
    const length = (stream[off + 3]! << 8) | stream[off + 4]!;
    if (type !== 22) return tcp(`record type ${type}`);
    if (version >> 8 !== 3) return tcp(`record version ${version}`);
    if (length > MAX_RECORD) return tcp(`record length ${length}`);
    records++;
    if (records > MAX_RECORDS) return tlsBare("more than 64 records");
    emptyRun = length === 0 ? emptyRun + 1 : 0;
    if (emptyRun > MAX_EMPTY) return tcp("too many empty records");
    declared += length;
    if (helloLen >= 0 && declared > 4 + helloLen) return tcp("excess handshake data");
    const body = stream.subarray(off + 5, Math.min(stream.length, off + 5 + length));
    for (const b of body) {
      if (helloLen < 0) {
        if (message.length === 0 && b !== 1) return tcp(`handshake type ${b}`);
        message.push(b);
        if (message.length === 4) {
          helloLen = (message[1]! << 16) | (message[2]! << 8) | message[3]!;
          if (helloLen < 41 || helloLen > MAX_HELLO) return tcp(`ClientHello length ${helloLen}`);
          if (helloLen > cap) return tlsBare("over the cap");
          if (declared > 4 + helloLen) return tcp("excess handshake data");
        }
      } else {
        message.push(b);
      }
    }
    if (body.length < length) {
      return helloLen >= 0 ? tlsBare("stream ended inside a record") : tcp("stream ended before the handshake header");
    }
    off += 5 + length;
  }
  return parseClientHello(Uint8Array.from(message.slice(4)));
}

class Cursor {
  constructor(private readonly b: Uint8Array, private o = 0, private readonly end = b.length) {}
  get left(): number {
    return this.end - this.o;
  }
  u8(): number {
    if (this.left < 1) throw new Malformed("truncated u8");
    return this.b[this.o++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  bytes(n: number): Uint8Array {
    if (this.left < n) throw new Malformed(`truncated: ${n} bytes wanted, ${this.left} left`);
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }
  /** A vector with a `width`-byte length prefix, as its own cursor. */
  vector(width: 1 | 2): Cursor {
    const n = width === 1 ? this.u8() : this.u16();
    return new Cursor(this.bytes(n));
  }
}

class Malformed extends Error {}

function parseClientHello(body: Uint8Array): Verdict {
  try {
    return readClientHello(new Cursor(body));
  } catch (e) {
    if (e instanceof Malformed) return tcp(e.message);
    throw e;
  }
}

function readClientHello(c: Cursor): Verdict {
  const version = c.u16();
  if (version >> 8 !== 3 || (version & 0xff) > 4) return tcp(`legacy_version ${version.toString(16)}`);
  c.bytes(32);
  const sessionId = c.vector(1);
  if (sessionId.left > 32) return tcp("session id above 32");
  const suites = c.vector(2);
  if (suites.left < 2 || suites.left % 2 !== 0) return tcp("cipher suites");
  const comp = c.vector(1);
  const methods = comp.bytes(comp.left);
  if (methods.length < 1) return tcp("no compression methods");
  if (!methods.includes(0)) return tcp("compression without null");
  if (c.left === 0) return { protocol: "tls", why: "ClientHello without extensions" };
  const exts = c.vector(2);
  if (c.left !== 0) return tcp("bytes after the extensions block");
  const seen = new Set<number>();
  const found = new Map<number, Uint8Array>();
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.vector(2);
    if (seen.has(type)) return tcp(`duplicate extension ${type}`);
    seen.add(type);
    found.set(type, data.bytes(data.left));
  }
  let sni: string | undefined;
  const sn = found.get(0);
  if (sn !== undefined) {
    const e = new Cursor(sn);
    const list = e.vector(2);
    if (e.left !== 0) return tcp("bytes after server_name_list");
    const nameType = list.u8();
    const name = list.vector(2);
    if (list.left !== 0) return tcp("more than one server_name entry");
    if (nameType !== 0) return tcp(`name_type ${nameType}`);
    const host = name.bytes(name.left);
    if (host.length < 1 || host.length > 255) return tcp(`host_name length ${host.length}`);
    if (host.includes(0)) return tcp("host_name with NUL");
    const printable = host.every((b) => b >= 0x21 && b <= 0x7e);
    if (printable && host[host.length - 1] !== 0x2e) sni = Buffer.from(host).toString("latin1").toLowerCase();
  }
  let alpn: string | undefined;
  const al = found.get(16);
  if (al !== undefined) alpn = alpnText(al);
  return { protocol: "tls", sni, alpn, why: "complete ClientHello" };
}

/** Envoy's onALPN acceptance, then the published text (sniffer README "SNI and ALPN"). */
function alpnText(ext: Uint8Array): string | undefined {
  try {
    const e = new Cursor(ext);
    const list = e.vector(2);
    if (e.left !== 0 || list.left < 2) return undefined;
    const names: string[] = [];
    while (list.left > 0) {
      const name = list.vector(1);
      if (name.left === 0) return undefined;
      names.push(escapeAlpn(name.bytes(name.left)));
    }
    return names.join(",");
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}

export function escapeAlpn(name: Uint8Array): string {
  let s = "";
  for (const b of name) {
    s += b < 0x21 || b > 0x7e || b === 0x2c || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  }
  return s;
}
