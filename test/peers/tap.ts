/**
 * A transparent TCP relay that records every byte each way, per connection. Put one in front of
 * a proxy and one behind it: equal digests on both taps prove the proxy forwarded byte for byte,
 * in both directions, whatever the client and server libraries did.
 */
import { createHash } from "node:crypto";
import * as net from "node:net";
import { listenTracked } from "./listen.js";

export interface TappedConnection {
  /** Client → server bytes, in order. */
  readonly up: Buffer[];
  /** Server → client bytes, in order. */
  readonly down: Buffer[];
  /** Resolves when both sockets are closed. */
  readonly closed: Promise<void>;
}

export interface Flow {
  readonly length: number;
  readonly sha256: string;
}

export function flow(chunks: ReadonlyArray<Buffer>): Flow {
  const h = createHash("sha256");
  let length = 0;
  for (const c of chunks) {
    h.update(c);
    length += c.length;
  }
  return { length, sha256: h.digest("hex") };
}

export interface Tap {
  readonly port: number;
  readonly connections: TappedConnection[];
  close(): Promise<void>;
}

/** Relays 127.0.0.1:<tap.port> → 127.0.0.1:<targetPort>. */
export async function startTap(targetPort: number): Promise<Tap> {
  const connections: TappedConnection[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (down) => {
    const up = net.connect({ host: "127.0.0.1", port: targetPort, allowHalfOpen: true });
    const rec = { up: [] as Buffer[], down: [] as Buffer[] };
    const closed = Promise.all([
      new Promise<void>((r) => down.once("close", () => r())),
      new Promise<void>((r) => up.once("close", () => r())),
    ]).then(() => undefined);
    connections.push({ ...rec, closed });
    down.on("error", () => up.destroy());
    up.on("error", () => down.destroy());
    down.on("data", (c: Buffer) => {
      rec.up.push(c);
      if (!up.write(c)) {
        down.pause();
        up.once("drain", () => down.resume());
      }
    });
    up.on("data", (c: Buffer) => {
      rec.down.push(c);
      if (!down.write(c)) {
        up.pause();
        down.once("drain", () => up.resume());
      }
    });
    down.on("end", () => up.end());
    up.on("end", () => down.end());
    down.on("close", () => up.destroySoon());
    up.on("close", () => down.destroySoon());
    up.once("connect", () => down.resume());
  });
  const c = await listenTracked(server);
  return { port: c.port, connections, close: c.close };
}
