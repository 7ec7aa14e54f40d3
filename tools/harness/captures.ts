/**
 * The recorded first flights (test/fixtures/captures/*.bin) as the bench and the harness test
 * use them, plus what a server-first protocol's server says before its client speaks.
 */
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Recorded first flights of real clients (test/fixtures/captures/capture.ts writes them). */
export const CAPTURES_DIR = fileURLToPath(new URL("../../test/fixtures/captures/", import.meta.url));

export interface Capture {
  /** File name without `.bin`, e.g. `tls-sni-alpn-h2`. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /**
   * MySQL clients speak only after the server's HandshakeV10 (codecs README, "Server-first"):
   * the bench delivers `SERVER_GREETING` upstream first in observe mode, as a real server would.
   */
  readonly serverFirst: boolean;
}

export async function loadCaptures(dir = CAPTURES_DIR): Promise<Capture[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".bin")).sort();
  const out: Capture[] = [];
  for (const file of files) {
    const bytes = new Uint8Array(await readFile(path.join(dir, file)));
    if (bytes.length === 0) continue;
    const name = file.slice(0, -4);
    out.push({ name, bytes, serverFirst: name.startsWith("mysql-") });
  }
  return out;
}

/**
 * A MySQL HandshakeV10 packet (protocol 10, version "8.0.36", mysql_native_password), the
 * upstream bytes of a server-first connection. The sniffer only needs to see that upstream
 * spoke first; the bytes are kept realistic so a parser of them would not be mismeasured.
 */
export const SERVER_GREETING: Uint8Array = (() => {
  const enc = new TextEncoder();
  const caps = 0x003ff7ff;
  const payload = [
    0x0a, ...enc.encode("8.0.36\0"), 7, 0, 0, 0, ...enc.encode("01234567"), 0,
    caps & 0xff, (caps >> 8) & 0xff, 0xff, 0x02, 0x00, (caps >> 16) & 0xff, (caps >> 24) & 0xff,
    21, ...new Array<number>(10).fill(0), ...enc.encode("89abcdefghij"), 0, ...enc.encode("mysql_native_password\0"),
  ];
  return Uint8Array.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, 0, ...payload]);
})();
