/**
 * `validate` and `render` refuse a Wasm plugin configuration the filter would refuse, in the
 * filter's words, and a sniffer route to a cluster the Bootstrap does not define.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { main } from "../../controller/cli.js";
import { checkPluginConfigurations, definedClusters } from "../../controller/config/plugins.js";
import { wasmPluginConfigs } from "../../controller/envoy/wasm-configs.js";

const envoyDir = new URL("../../envoy/", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "protomesh-plugin-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function committed(name: string): Record<string, any> {
  return parse(readFileSync(join(envoyDir, name), "utf8"));
}

/** The committed config with its (only) Wasm plugin configuration replaced. */
function withConfiguration(name: string, configuration: string): string {
  const cfg = committed(name);
  const [plugin] = wasmPluginConfigs(cfg);
  assert.ok(plugin, `${name} holds no Wasm plugin`);
  let node: any = cfg;
  for (const seg of plugin.path.match(/[^.[\]]+/g)!) node = node[/^\d+$/.test(seg) ? Number(seg) : seg];
  node.configuration.value = configuration;
  const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(cfg));
  return file;
}

describe("plugin configuration checks", () => {
  it("finds every Wasm plugin configuration with its path", () => {
    const found = wasmPluginConfigs(committed("sniffer-route.yaml"));
    assert.equal(found.length, 1);
    assert.equal(found[0]!.rootId, "sniffer");
    assert.match(found[0]!.path, /^static_resources\.listeners\[0\]\.filter_chains\[\d+\]\.filters\[0\]\.typed_config\.config$/);
    for (const f of ["sniffer-route.yaml", "sniffer-bypass.yaml", "sniffer-observe.yaml", "tcp-stats.yaml"]) {
      assert.deepEqual(checkPluginConfigurations(committed(f)), [], f);
    }
  });

  it("validate refuses a sniffer configuration the filter would refuse", async () => {
    const r = await run("validate", withConfiguration("sniffer-observe.yaml", '{"mode":"observe","max_detect_bytes":"x"}'));
    assert.equal(r.code, 1);
    assert.match(r.err, /typed_config\.config\.configuration: sniffer: invalid configuration: "max_detect_bytes" must be a size in bytes, an integer 1\.\.16384, found "x"/);
  });

  it("validate refuses an unknown tcp-stats field", async () => {
    const r = await run("validate", withConfiguration("tcp-stats.yaml", '{"statPrefix":"x"}'));
    assert.equal(r.code, 1);
    assert.match(r.err, /tcp-stats: invalid configuration: unknown field "statPrefix" \(known: stat_prefix, istio_metrics, max_series, otlp, handlers, rules\)/);
  });

  it("validate refuses a sniffer route to a cluster no cluster defines", async () => {
    const r = await run("validate", withConfiguration("sniffer-route.yaml", '{"mode":"route","routes":{"redis":"nowhere"}}'));
    assert.equal(r.code, 1);
    assert.match(r.err, /sniffer routes to cluster "nowhere", which static_resources\.clusters does not define \(defined: .*PassthroughCluster/);
  });

  it("validate still accepts the committed configs", async () => {
    const r = await run("validate", join(envoyDir, "sniffer-route.yaml"));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /valid Envoy bootstrap\n$/);
  });

  it("render refuses a configuration the filter would refuse", async () => {
    const envoy = await run("render", "envoy", "--filter", "tcp-stats", "--configuration", '{"stat_prefix":5}');
    assert.equal(envoy.code, 1);
    assert.match(envoy.err, /tcp-stats: invalid configuration: "stat_prefix" must be a stat prefix: .*, found 5/);
    assert.equal(envoy.out, "");
    const istio = await run("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--configuration", '{"stat_prefix":"a=.=b;.;c"}');
    assert.equal(istio.code, 1);
    assert.match(istio.err, /found "a=\.=b;\.;c"/);
    const ok = await run("render", "envoy", "--filter", "tcp-stats", "--configuration", '{"stat_prefix":"mesh.tcp"}');
    assert.equal(ok.code, 0, ok.err);
  });

  it("says what cannot be checked in an Istio EnvoyFilter or with CDS", async () => {
    const r = await run("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "6379",
      "--configuration", '{"routes":{"redis":"outbound|6379||redis.default.svc.cluster.local"}}');
    assert.equal(r.code, 0, r.err);
    const doc = parse(r.out);
    assert.deepEqual(checkPluginConfigurations(doc), []);
    assert.match(definedClusters(doc).why ?? "", /istiod's service registry; only their syntax is checked/);
    const bad = await run("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "6379",
      "--configuration", '{"routes":{"redis":"outbound|6379||redis default"}}');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /"routes\.redis" must be a cluster name/);
    assert.match(definedClusters({ dynamic_resources: { cds_config: {} } }).why ?? "", /CDS/);
  });
});
