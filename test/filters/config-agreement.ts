/**
 * The controller refuses what a filter's on_configure refuses, in the filter's words, and accepts
 * what it accepts: both run on the same inputs (the filter in the host, the controller's
 * checkConfiguration).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { checkConfiguration } from "../../controller/config/index.js";
import { Host } from "../host/index.js";

type Filter = Parameters<typeof checkConfiguration>[0];

/**
 * Loads `config` into `filter` (root id = the filter's name), asserts the plugin start fails and
 * the controller gives exactly the filter's error line; returns that line.
 */
export async function assertRefusedAlike(host: Host, filter: Filter, wasm: string, config: string): Promise<string> {
  await assert.rejects(host.loadPlugin({ name: filter, wasm, rootId: filter, vmCount: 1, configuration: config }), config);
  const logged = host.logs.filter((e) => e.level === "error").at(-1)?.message ?? "";
  assert.match(logged, new RegExp(`^${filter}: invalid configuration: `), config);
  assert.deepEqual(checkConfiguration(filter, config).map((p) => `${filter}: invalid configuration: ${p}`), [logged], config);
  return logged;
}

/** The two tests: every `bad` refused alike, every `good` accepted by both. */
export function itAgrees(filter: Filter, wasm: string, bad: readonly string[], good: readonly string[]): void {
  it("gives the filter's error line for each bad configuration", async () => {
    const host = new Host();
    try {
      for (const config of bad) await assertRefusedAlike(host, filter, wasm, config);
    } finally {
      await host.close();
    }
  });

  it("accepts what the filter accepts", async () => {
    const host = new Host();
    try {
      for (const [i, config] of good.entries()) {
        assert.deepEqual(checkConfiguration(filter, config), [], config);
        await host.loadPlugin({ name: `ok${i}`, wasm, rootId: filter, vmCount: 1, configuration: config });
      }
      assert.deepEqual(host.logs.filter((e) => e.level === "error"), []);
    } finally {
      await host.close();
    }
  });
}
