/**
 * Plugin configurations as the canary VM reads them (issue 11): invalid UTF-8 is refused with its
 * byte offset instead of changing what the configuration means, and the configuration fuzz target
 * (fuzz/config.ts) holds on a short run: no trap, invalid UTF-8 always refused, memory bounded
 * (its parse-time judgement runs in `npm run fuzz:config`, not in a test).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host, PluginLoadError } from "../host/index.js";
import { CONFIG_FILTERS, readmeConfigurations, runConfigFuzz } from "../../fuzz/config.js";
import { checkConfiguration } from "../../controller/config/index.js";

const enc = new TextEncoder();

/** UTF-8 of `before`, the raw `mid` bytes, then UTF-8 of `after`. */
function spliced(before: string, mid: number[], after = ""): Uint8Array {
  return Uint8Array.from([...enc.encode(before), ...mid, ...enc.encode(after)]);
}

describe("plugin configuration input", () => {
  const host = new Host();
  after(() => host.close());

  async function refusal(filter: string, configuration: Uint8Array): Promise<string> {
    host.logs.length = 0;
    await assert.rejects(
      host.loadPlugin({ name: filter, wasm: new URL(`../../build/${filter}.wasm`, import.meta.url).pathname, configuration, vmCount: 1 }),
      PluginLoadError,
    );
    const errors = host.logs.filter((l) => l.level === "error").map((l) => l.message);
    assert.ok(errors.length > 0, "no error logged");
    return errors[0]!;
  }

  it("refuses invalid UTF-8 that once changed the meaning of a configuration", async () => {
    // Accepted as 1.0.0.0/8 before: the 0xC0 swallowed the '.'.
    assert.equal(await refusal("sniffer", spliced('{"mode":"bypass","allowed_destinations":[{"cidr":"1', [0xc0], '.0.0.0/8"}]}')),
      "sniffer: invalid configuration: invalid UTF-8 (bytes 0xc0 0x2e) at byte 51");
    assert.equal(await refusal("sniffer", spliced('{"mode":', [0xc0], '"observe"}')),
      "sniffer: invalid configuration: invalid UTF-8 (bytes 0xc0 0x22) at byte 8");
    // Loaded every default before.
    assert.equal(await refusal("sniffer", Uint8Array.of(0xfb)), "sniffer: invalid configuration: invalid UTF-8 (bytes 0xfb) at byte 0");
    // Made metric tcp_stat󢽳tats.* before.
    assert.equal(await refusal("tcp-stats", spliced('{"stat_prefix":"tcp_stat', [0xf3], '"}stats"}')),
      "tcp-stats: invalid configuration: invalid UTF-8 (bytes 0xf3 0x22 0x7d 0x73) at byte 24");
  });

  it("names a BOM the same way at the start and inside", async () => {
    assert.equal(await refusal("tcp-stats", spliced("", [0xef, 0xbb, 0xbf], "{}")),
      "tcp-stats: invalid configuration: expected a value, found byte order mark (U+FEFF) at byte 0");
    assert.equal(await refusal("tcp-stats", spliced("{", [0xef, 0xbb, 0xbf], "}")),
      "tcp-stats: invalid configuration: expected a string key, found byte order mark (U+FEFF) at byte 1");
  });

  it("refuses a 5 MB stat_prefix naming the size limit", async () => {
    assert.equal(await refusal("tcp-stats", enc.encode(`{"stat_prefix":"${"a".repeat(5_000_000)}"}`)),
      "tcp-stats: invalid configuration: configuration of 5000018 bytes is larger than the limit of 1048576 bytes at byte 1048576");
  });

  it("loads every configuration the READMEs show, and the controller accepts each", async () => {
    for (const filter of CONFIG_FILTERS) {
      const examples = readmeConfigurations(filter);
      assert.ok(examples.length >= 2, filter);
      for (const configuration of examples) {
        const plugin = await host.loadPlugin({ name: filter, wasm: new URL(`../../build/${filter}.wasm`, import.meta.url).pathname, configuration, vmCount: 1 });
        assert.ok(plugin.vms.every((vm) => !vm.failed), configuration);
        assert.deepEqual(checkConfiguration(filter, configuration), [], configuration);
      }
    }
  });

  for (const filter of CONFIG_FILTERS) {
    it(`fuzz:config holds for ${filter} on a short run`, async () => {
      const r = await runConfigFuzz({ filter, seed: 7, iterations: 3000, maxEntries: 10_000, judgeTime: false });
      assert.equal(r.failure, undefined);
      assert.ok(r.invalidUtf8 > 500, `only ${r.invalidUtf8} invalid UTF-8 inputs`);
      assert.ok(r.accepted > 0 && r.rejected > 0, `accepted ${r.accepted}, refused ${r.rejected}`);
      assert.deepEqual(r.sizes.map((s) => s.entries), [10, 100, 1000, 10_000]);
    });
  }
});
