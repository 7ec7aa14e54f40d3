/** Listening on a random loopback port and closing a server together with its open sockets. */
import type * as net from "node:net";

export interface Closable {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0, tracks sockets so `close()` does not wait for idle keep-alives. */
export async function listenTracked(server: net.Server): Promise<Closable> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
