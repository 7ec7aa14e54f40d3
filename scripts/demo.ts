/**
 * protomesh demo, no Envoy needed. Each part renders its Envoy config with the controller,
 * validates it against Envoy's protos and runs the same deployment in the host emulator
 * (test/host: the real .wasm, a real listener, tcp_proxy and real servers and clients):
 *
 *   1. tcp-stats on TCP echo traffic            (scripts/demo/tcp-stats.ts)
 *   2. protocol sniffing: Dubbo, Thrift, HTTP   (scripts/demo/sniffer.ts)
 *      routed from one port, TLS SNI/ALPN read
 *
 *   npm run demo            (= npm run build && node --import tsx scripts/demo.ts)
 *
 * Exit code 0 only when every check of every part held; otherwise 1 with what failed.
 */
import { fail, part } from "./demo/common.js";
import { runSniffer } from "./demo/sniffer.js";
import { runTcpStats } from "./demo/tcp-stats.js";

async function main(): Promise<void> {
  const started = performance.now();
  part("Part 1: tcp-stats — connection and byte counters on raw TCP");
  await runTcpStats();
  part("Part 2: sniffer — name the protocol from the first bytes, route by it");
  await runSniffer();
  console.log(`\ndemo OK in ${((performance.now() - started) / 1000).toFixed(1)} s: every check above held.`);
  // Exit explicitly: a peer library's lingering handle must not keep the demo alive.
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.stack ?? err.message : String(err)));
