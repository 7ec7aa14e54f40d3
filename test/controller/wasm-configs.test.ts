import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { EnvoyValidator, formatIssue, type ExtraCheck } from "../../controller/envoy/validate.js";
import { wasmPluginConfigs, wasmPluginConfigsInDocument } from "../../controller/envoy/wasm-configs.js";
import { snifferEnvoyFilter } from "../../controller/sniffer/istio.js";

const envoyDir = new URL("../../envoy/", import.meta.url).pathname;
const committed = (name: string): Record<string, any> => parse(readFileSync(join(envoyDir, name), "utf8"));
const validator = EnvoyValidator.shared();

describe("wasmPluginConfigs", () => {
  it("finds the plugin inside the listener's typed_config, with its path and the string on_configure receives", () => {
    const cfg = committed("tcp-stats.yaml");
    const plugins = wasmPluginConfigs(cfg);
    assert.equal(plugins.length, 1);
    const p = plugins[0]!;
    assert.equal(p.path, "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config");
    assert.equal(p.configurationPath, `${p.path}.configuration`);
    assert.equal(p.rootId, "tcp-stats");
    assert.equal(p.name, "tcp-stats");
    assert.equal(p.vmId, "tcp-stats");
    assert.equal(p.wasmFile, "/etc/envoy/wasm/tcp-stats.wasm");
    assert.equal(p.configurationType, "google.protobuf.StringValue");
    assert.equal(p.configuration, cfg.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config.configuration.value);
  });

  it("finds every plugin of a multi-chain listener, and decodes BytesValue and Struct configurations", () => {
    const cfg = committed("sniffer-bypass.yaml");
    const chain = cfg.static_resources.listeners[0].default_filter_chain;
    const wasm = chain.filters.find((f: any) => f.name === "envoy.filters.network.wasm");
    assert.ok(wasm, "sniffer-bypass.yaml has no wasm filter in its default chain");
    const json = wasm.typed_config.config.configuration.value as string;
    const bytes = structuredClone(wasm);
    bytes.typed_config.config.configuration = { "@type": "type.googleapis.com/google.protobuf.BytesValue", value: Buffer.from(json).toString("base64") };
    const struct = structuredClone(wasm);
    struct.typed_config.config.configuration = { "@type": "type.googleapis.com/google.protobuf.Struct", value: { mode: "bypass" } };
    chain.filters.unshift(bytes, struct);
    const plugins = wasmPluginConfigs(cfg);
    assert.deepEqual(plugins.map((p) => [p.path.replace(/\.typed_config\.config$/, ""), p.configurationType, p.configuration]), [
      ["static_resources.listeners[0].default_filter_chain.filters[0]", "google.protobuf.BytesValue", json],
      ["static_resources.listeners[0].default_filter_chain.filters[1]", "google.protobuf.Struct", `{"mode":"bypass"}`],
      [`static_resources.listeners[0].default_filter_chain.filters[${chain.filters.indexOf(wasm)}]`, "google.protobuf.StringValue", json],
    ]);
  });

  it("works on a fragment of another type (an EnvoyFilter patch's network filter)", () => {
    const filter = committed("tcp-stats.yaml").static_resources.listeners[0].filter_chains[0].filters[0];
    assert.deepEqual(wasmPluginConfigs(filter, "envoy.config.listener.v3.Filter").map((p) => p.path), ["typed_config.config"]);
  });
});

describe("wasmPluginConfigsInDocument", () => {
  it("walks each EnvoyFilter patch value as the message its applyTo names, with the document path", () => {
    const ef = snifferEnvoyFilter({ mode: "observe", port: 6379 }) as any;
    const i = ef.spec.configPatches.findIndex((p: any) => p.applyTo === "NETWORK_FILTER" && p.patch.value.name === "envoy.filters.network.wasm");
    assert.ok(i >= 0, "no wasm NETWORK_FILTER patch");
    const plugins = wasmPluginConfigsInDocument(ef);
    assert.deepEqual(plugins.map((p) => [p.path, p.configurationPath, p.rootId]), [
      [`spec.configPatches[${i}].patch.value.typed_config.config`, `spec.configPatches[${i}].patch.value.typed_config.config.configuration`, "sniffer"],
    ]);
    assert.equal(plugins[0]!.configuration, ef.spec.configPatches[i].patch.value.typed_config.config.configuration.value);
  });

  it("treats any other document as a Bootstrap", () => {
    assert.deepEqual(wasmPluginConfigsInDocument(committed("tcp-stats.yaml")).map((p) => p.rootId), ["tcp-stats"]);
  });
});

describe("validate with extraChecks", () => {
  const rootIdIsKnown: ExtraCheck = (config, { typeName }) =>
    wasmPluginConfigs(config, typeName)
      .filter((p) => p.rootId !== "tcp-stats")
      .map((p) => ({ path: `${p.path}.root_id`, message: `unknown protomesh filter ${JSON.stringify(p.rootId)}` }));

  it("returns the proto issues and the extra checks' issues together", () => {
    const cfg = committed("tcp-stats.yaml");
    const filters = cfg.static_resources.listeners[0].filter_chains[0].filters;
    filters[0].typed_config.config.root_id = "tcp-statz";
    filters[1].typed_config.max_early_data_bytes = 2000000;
    assert.deepEqual(validator.validate(cfg, { extraChecks: [rootIdIsKnown] }).map(formatIssue), [
      "static_resources.listeners[0].filter_chains[0].filters[1].typed_config.max_early_data_bytes: 2000000 violates uint32.lte 1048576",
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config.root_id: unknown protomesh filter "tcp-statz"',
    ]);
  });

  it("locates the extra checks' issues in YAML by line and column", () => {
    const text = readFileSync(join(envoyDir, "tcp-stats.yaml"), "utf8").replace("root_id: tcp-stats", "root_id: other");
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.includes("root_id: other")) + 1;
    const issues = validator.validateYaml(text, { file: "t.yaml", extraChecks: [rootIdIsKnown] });
    assert.deepEqual(issues.map(formatIssue), [
      `t.yaml:${line}:${lines[line - 1]!.indexOf("root_id") + 1}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config.root_id: unknown protomesh filter "other"`,
    ]);
  });
});
