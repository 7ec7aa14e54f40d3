/**
 * tcp-stats with `handlers` and `rules`: both renderers (standalone Envoy, Istio WasmPlugin) carry
 * them to the filter as written, with the stats_tags / extraStatTags Istio's TCP labels need, and
 * refuse what the filter would refuse, in its words.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { ISTIO_TCP_LABELS } from "../../controller/telemetry/stats-tags.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const CONFIG = {
  handlers: [
    { name: "prom", kind: "prometheus", metrics: "auto" },
    { name: "audit", kind: "accesslog", attributes: ["connection.id", "source.principal", "destination.port", "connection.duration"] },
    { name: "no_redis", kind: "denier" },
  ],
  rules: [
    { name: "all", handlers: ["prom", "audit"] },
    { name: "redis", match: { "destination.port": { exact: "6379" } }, handlers: ["no_redis"] },
  ],
};

/** Every object under `v` with a key `key`. */
function findAll(v: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) v.forEach((x) => findAll(x, key, out));
  else if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (key in o) out.push(o[key]);
    Object.values(o).forEach((x) => findAll(x, key, out));
  }
  return out;
}

describe("tcp-stats handlers and rules in the rendered resources", () => {
  it("standalone Envoy: the configuration reaches the filter; stats_tags extract Istio's TCP labels", async () => {
    const r = await run("render", "envoy", "--filter", "tcp-stats", "--configuration", JSON.stringify(CONFIG));
    assert.equal(r.code, 0, r.err);
    const doc = parse(r.out);
    const configs = findAll(doc, "configuration").map((c) => JSON.parse((c as { value: string }).value));
    assert.deepEqual(configs, [CONFIG]);
    const tags = (findAll(doc, "stats_tags")[0] as { tag_name: string }[]).map((t) => t.tag_name);
    for (const label of ISTIO_TCP_LABELS) assert.ok(tags.includes(label), label);
  });

  it("Istio WasmPlugin: pluginConfig carries handlers and rules", async () => {
    const r = await run("render", "istio", "--filter", "tcp-stats", "--port", "6379", "--configuration", JSON.stringify(CONFIG));
    assert.equal(r.code, 0, r.err);
    const doc = parse(r.out);
    assert.equal(doc.kind, "WasmPlugin");
    assert.deepEqual(doc.spec.pluginConfig, CONFIG);
  });

  it("both refuse what the filter refuses", async () => {
    const bad = JSON.stringify({ handlers: [{ name: "p", kind: "prometheus" }], rules: [{ name: "long", match: { "connection.duration": { present: true } }, handlers: ["p"] }] });
    const want = /tcp-stats: invalid configuration: rule "long" feeds prometheus handler "p" \(its series is chosen when the peer is known\) but matches connection\.duration, known only at close/;
    const envoy = await run("render", "envoy", "--filter", "tcp-stats", "--configuration", bad);
    assert.equal(envoy.code, 1);
    assert.match(envoy.err, want);
    const istio = await run("render", "istio", "--filter", "tcp-stats", "--port", "6379", "--configuration", bad);
    assert.equal(istio.code, 1);
    assert.match(istio.err, want);
    const both = await run("render", "istio", "--filter", "tcp-stats", "--port", "6379", "--configuration", JSON.stringify({ istio_metrics: "istio", handlers: [{ name: "p", kind: "prometheus" }] }));
    assert.equal(both.code, 1);
    assert.match(both.err, /"istio_metrics" applies only without handlers/);
  });
});
