import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { EnvoyValidator, formatIssue, type ValidationIssue } from "../../controller/envoy/validate.js";

const validator = EnvoyValidator.shared();
const envoyDir = new URL("../../envoy/", import.meta.url).pathname;

function committed(): Record<string, any> {
  return parse(readFileSync(join(envoyDir, "tcp-stats.yaml"), "utf8"));
}

function listenerFilters(cfg: Record<string, any>): any[] {
  return cfg.static_resources.listeners[0].filter_chains[0].filters;
}

function only(issues: ValidationIssue[]): ValidationIssue {
  assert.equal(issues.length, 1, `expected one issue, got:\n${issues.map(formatIssue).join("\n")}`);
  return issues[0]!;
}

describe("Envoy config validation", () => {
  it("accepts every committed envoy/*.yaml", () => {
    const files = readdirSync(envoyDir).filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length > 0, "envoy/ holds no .yaml");
    for (const f of files) {
      assert.deepEqual(validator.validateFile(join(envoyDir, f)).map(formatIssue), [], f);
    }
  });

  it("rejects an unknown top-level field, naming it", () => {
    const cfg = { ...committed(), static_resourcez: {} };
    const issue = only(validator.validate(cfg));
    assert.equal(issue.path, "static_resourcez");
    assert.match(issue.message, /unknown field in envoy\.config\.bootstrap\.v3\.Bootstrap \(did you mean "static_resources"\?\)/);
  });

  it("rejects an unknown nested field with its full path", () => {
    const cfg = committed();
    cfg.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.adress = "x";
    const issue = only(validator.validate(cfg));
    assert.equal(issue.path, "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.adress");
    assert.match(issue.message, /did you mean "address"/);
  });

  it("rejects an unknown field inside a typed_config Any, and inside an Any nested in it", () => {
    const cfg = committed();
    listenerFilters(cfg)[1].typed_config.upstream_connect_mod = "IMMEDIATE";
    listenerFilters(cfg)[0].typed_config.config.vm_config.code.local.file_name = "/x.wasm";
    const issues = validator.validate(cfg).map((i) => i.path).sort();
    assert.deepEqual(issues, [
      "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config.vm_config.code.local.file_name",
      "static_resources.listeners[0].filter_chains[0].filters[1].typed_config.upstream_connect_mod",
    ]);
  });

  it("rejects an Any whose @type names no known message", () => {
    const cfg = committed();
    listenerFilters(cfg)[1].typed_config["@type"] = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxi";
    const issue = only(validator.validate(cfg));
    assert.equal(issue.path, "static_resources.listeners[0].filter_chains[0].filters[1].typed_config.@type");
    assert.match(issue.message, /unknown type envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxi/);
  });

  it("accepts the overlay fields upstream_connect_mode and max_early_data_bytes (Envoy 1.37)", () => {
    const cfg = committed();
    Object.assign(listenerFilters(cfg)[1].typed_config, { upstream_connect_mode: "ON_DOWNSTREAM_DATA", max_early_data_bytes: 4096 });
    assert.deepEqual(validator.validate(cfg).map(formatIssue), []);
    // lowerCamel spelling, as protobuf's JSON parser accepts it
    listenerFilters(cfg)[1].typed_config = {
      "@type": listenerFilters(cfg)[1].typed_config["@type"], statPrefix: "s", cluster: "upstream", upstreamConnectMode: "ON_DOWNSTREAM_TLS_HANDSHAKE", maxEarlyDataBytes: 0,
    };
    assert.deepEqual(validator.validate(cfg).map(formatIssue), []);
  });

  it("rejects a misspelt upstream_connect_mode value, listing the valid ones", () => {
    const cfg = committed();
    listenerFilters(cfg)[1].typed_config.upstream_connect_mode = "ON_DOWNSTREAM_DAT";
    const issue = only(validator.validate(cfg));
    assert.equal(issue.path, "static_resources.listeners[0].filter_chains[0].filters[1].typed_config.upstream_connect_mode");
    assert.match(issue.message, /valid: IMMEDIATE, ON_DOWNSTREAM_DATA, ON_DOWNSTREAM_TLS_HANDSHAKE \(did you mean "ON_DOWNSTREAM_DATA"\?\)/);
  });

  it("checks wrapper, duration and oneof forms", () => {
    const cfg = committed();
    listenerFilters(cfg)[1].typed_config.max_early_data_bytes = -1;
    cfg.static_resources.clusters[0].connect_timeout = 1;
    listenerFilters(cfg)[1].typed_config.weighted_clusters = { clusters: [{ name: "upstream", weight: 1 }] };
    const messages = validator.validate(cfg).map(formatIssue).sort();
    assert.equal(messages.length, 3, messages.join("\n"));
    assert.match(messages[0]!, /clusters\[0\]\.connect_timeout: expected a duration/);
    assert.match(messages[1]!, /typed_config\.max_early_data_bytes: -1 is out of range for uint32/);
    assert.match(messages[2]!, /typed_config\.weighted_clusters: "weighted_clusters" and "cluster" are both set but belong to oneof cluster_specifier/);
  });

  it("accepts the wasm failure_policy overlay field and rejects a wrong value", () => {
    const cfg = committed();
    listenerFilters(cfg)[0].typed_config.config.failure_policy = "FAIL_RELOAD";
    assert.deepEqual(validator.validate(cfg).map(formatIssue), []);
    listenerFilters(cfg)[0].typed_config.config.failure_policy = "FAIL_SOMETIMES";
    assert.match(only(validator.validate(cfg)).message, /not a value of enum envoy\.extensions\.wasm\.v3\.FailurePolicy/);
  });

  it("reports the file line and column of the offending key in YAML", () => {
    const text = readFileSync(join(envoyDir, "tcp-stats.yaml"), "utf8").replace("vm_id:", "vmid:");
    const lines = text.split("\n");
    const expectedLine = lines.findIndex((l) => l.includes("vmid:")) + 1;
    const issue = only(validator.validateYaml(text, { file: "tcp-stats.yaml" }));
    assert.equal(issue.line, expectedLine);
    assert.equal(issue.column, lines[expectedLine - 1]!.indexOf("vmid") + 1);
    assert.match(formatIssue(issue), new RegExp(`^tcp-stats\\.yaml:${expectedLine}:\\d+: static_resources\\.listeners\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.config\\.vm_config\\.vmid: unknown field .*did you mean "vm_id"`));
  });

  it("applies the protoc-gen-validate rules Envoy enforces (required oneof, min_len, bounds)", () => {
    const cfg = committed();
    const tcp = listenerFilters(cfg)[1].typed_config;
    delete tcp.cluster;
    delete tcp.stat_prefix;
    tcp.max_connect_attempts = 0;
    const messages = validator.validate(cfg).map(formatIssue).sort();
    const at = "static_resources.listeners[0].filter_chains[0].filters[1].typed_config";
    assert.deepEqual(messages, [
      `${at}.max_connect_attempts: 0 violates uint32.gte 1`,
      `${at}.stat_prefix: unset (""), violates string.min_len 1`,
      `${at}: none of cluster, weighted_clusters is set, violates (validate.required) on oneof cluster_specifier`,
    ].sort());
  });

  it("refuses an overlay whose field number collides with an Envoy field", () => {
    const dir = new URL("../../controller/envoy/overlay/", import.meta.url).pathname;
    const bad = join(tmpdir(), `protomesh-overlay-${process.pid}.proto`);
    writeFileSync(bad, `syntax = "proto3";\npackage protomesh.overlay.envoy.extensions.filters.network.tcp_proxy.v3;\nmessage TcpProxy { string clash = 2; }\n`);
    try {
      assert.throws(() => new EnvoyValidator({ overlayFiles: [join(dir, "tcp_proxy.proto"), bad] }), /TcpProxy\.clash = 2 collides with Envoy's cluster = 2/);
    } finally {
      rmSync(bad, { force: true });
    }
  });
});
