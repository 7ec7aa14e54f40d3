/** A TCP echo server that half-closes when its client does. */
import * as net from "node:net";
import { listenTracked, type Closable } from "./listen.js";

export function startEchoServer(): Promise<Closable & { readonly accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted++;
    s.on("error", () => {});
    s.pipe(s);
  });
  return listenTracked(server).then((c) => ({ ...c, accepted: () => accepted }));
}
