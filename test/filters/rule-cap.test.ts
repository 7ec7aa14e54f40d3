/**
 * The RPC filters' rule limit, the same on both sides: the dubbo and thrift filters
 * (assembly/filters/rpc/rule-parse.ts MAX_RULES) and the controller's schemas
 * (controller/config/{dubbo,thrift}.ts) accept 4,096 rules and refuse one more with the same words,
 * and a thousand-rule set stays well inside the 1 MiB configuration limit.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host, PluginLoadError } from "../host/index.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { DUBBO_MAX_RULES } from "../../controller/config/dubbo.js";
import { THRIFT_MAX_RULES } from "../../controller/config/thrift.js";
import { LIMITS } from "../../controller/config/json.js";

const FILTERS = ["dubbo", "thrift"] as const;
const MAX_RULES = 4096;

/** `n` rules on distinct exact services, 16 clusters between them. */
function configuration(n: number): string {
  const rules = Array.from({ length: n }, (_, i) => ({
    name: `r${i}`,
    match: { service: { exact: `com.acme.Service${i}` }, method: { exact: "get" } },
    route: { cluster: `c${i % 16}` },
  }));
  return JSON.stringify({ stat_prefix: "cap", rules });
}

describe("RPC filter rule limit", () => {
  const host = new Host();
  after(() => host.close());

  const wasm = (filter: string): string => new URL(`../../build/${filter}.wasm`, import.meta.url).pathname;

  it("is 4,096 in both controller schemas", () => {
    assert.equal(DUBBO_MAX_RULES, MAX_RULES);
    assert.equal(THRIFT_MAX_RULES, MAX_RULES);
    assert.ok(Buffer.byteLength(configuration(1000)) < LIMITS.configBytes / 4, "a thousand rules leave room in one configuration");
    assert.ok(Buffer.byteLength(configuration(MAX_RULES)) < LIMITS.configBytes, "the cap fits one configuration at this rule size");
  });

  for (const filter of FILTERS) {
    it(`${filter}: the filter and the controller accept ${MAX_RULES} rules`, async () => {
      const text = configuration(MAX_RULES);
      assert.deepEqual(checkConfiguration(filter, text), []);
      const plugin = await host.loadPlugin({ name: `${filter}-cap`, wasm: wasm(filter), rootId: filter, configuration: text, vmCount: 1 });
      assert.ok(plugin.vms.every((vm) => !vm.failed));
    });

    it(`${filter}: both refuse ${MAX_RULES + 1} rules with the same words`, async () => {
      const text = configuration(MAX_RULES + 1);
      const problems = checkConfiguration(filter, text);
      assert.ok(problems.some((p) => p.includes(`must hold at most ${MAX_RULES} rules`)), JSON.stringify(problems));
      host.logs.length = 0;
      await assert.rejects(host.loadPlugin({ name: `${filter}-over`, wasm: wasm(filter), rootId: filter, configuration: text, vmCount: 1 }), PluginLoadError);
      const errors = host.logs.filter((l) => l.level === "error").map((l) => l.message);
      assert.ok(errors.some((e) => e.includes(`"rules" must hold at most ${MAX_RULES} rules`)), JSON.stringify(errors));
    });
  }
});
