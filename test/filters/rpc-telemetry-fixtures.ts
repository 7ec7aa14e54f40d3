/** What the RPC filters' telemetry tests share. */
import type { Host } from "../host/index.js";

/**
 * The dubbo and thrift filters tick every 20 ms (assembly/filters/{dubbo,thrift}/index.ts TICK_MS)
 * and write their batched metric updates every 1,000 ms of ticks (assembly/telemetry/engine.ts
 * onTickDue, FLUSH_PERIOD_MS): this many ticks flush them.
 */
export const TICKS_PER_FLUSH = 1000 / 20;

/** Writes every plugin's batched metric updates, as its next flush would. */
export function flushTelemetry(host: Host): void {
  for (const p of host.plugins) for (let i = 0; i < TICKS_PER_FLUSH; i++) p.tick();
}
