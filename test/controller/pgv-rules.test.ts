import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { EnvoyValidator, formatIssue } from "../../controller/envoy/validate.js";

const validator = EnvoyValidator.shared();

interface Case {
  /** The rule kind this case proves is enforced. */
  readonly rule: string;
  readonly type: string;
  readonly value: unknown;
  /** Every issue, formatted. */
  readonly issues: readonly string[];
}

const TCP_PROXY = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const tcp = (extra: Record<string, unknown>): Record<string, unknown> => ({ stat_prefix: "s", cluster: "c", ...extra });

/** Rules as Envoy's own protos (and our overlay) carry them, on the messages the controller renders. */
const ENVOY_CASES: readonly Case[] = [
  { rule: "uint32.lte (overlay: tcp_proxy max_early_data_bytes)", type: TCP_PROXY, value: tcp({ max_early_data_bytes: 2000000 }),
    issues: ["max_early_data_bytes: 2000000 violates uint32.lte 1048576"] },
  { rule: "enum.defined_only (overlay: tcp_proxy upstream_connect_mode)", type: TCP_PROXY, value: tcp({ upstream_connect_mode: 7 }),
    issues: ["upstream_connect_mode: 7 violates enum.defined_only"] },
  { rule: "uint32.gte on a wrapper", type: TCP_PROXY, value: tcp({ max_connect_attempts: 0 }),
    issues: ["max_connect_attempts: 0 violates uint32.gte 1"] },
  { rule: "string.min_len on an unset scalar", type: TCP_PROXY, value: { cluster: "c" },
    issues: ['stat_prefix: unset (""), violates string.min_len 1'] },
  { rule: "(validate.required) oneof", type: TCP_PROXY, value: { stat_prefix: "s" },
    issues: ["none of cluster, weighted_clusters is set, violates (validate.required) on oneof cluster_specifier"] },
  { rule: "repeated.min_items", type: TCP_PROXY, value: { stat_prefix: "s", weighted_clusters: { clusters: [] } },
    issues: ["weighted_clusters.clusters: has 0 item(s), violates repeated.min_items 1"] },
  { rule: "repeated.max_items", type: TCP_PROXY, value: tcp({ hash_policy: [{ source_ip: {} }, { source_ip: {} }] }),
    issues: ["hash_policy: has 2 item(s), violates repeated.max_items 1"] },
  { rule: "duration.gte", type: TCP_PROXY, value: tcp({ max_downstream_connection_duration: "0.0005s" }),
    issues: ['max_downstream_connection_duration: "0.0005s" violates duration.gte 0.001s'] },
  { rule: "duration.lt", type: "envoy.config.bootstrap.v3.Bootstrap", value: { stats_flush_interval: "301s" },
    issues: ['stats_flush_interval: "301s" violates duration.lt 300s'] },
  { rule: "duration.gt", type: "envoy.config.core.v3.BackoffStrategy", value: { base_interval: "1s", max_interval: "0s" },
    issues: ['max_interval: "0s" violates duration.gt 0s'] },
  { rule: "duration.required", type: "envoy.config.core.v3.BackoffStrategy", value: {},
    issues: ["base_interval: unset, violates duration.required"] },
  { rule: "message.required", type: "envoy.config.accesslog.v3.ComparisonFilter", value: { op: "GE" },
    issues: ["value: unset, violates message.required"] },
  { rule: "any.required", type: "envoy.config.core.v3.TypedExtensionConfig", value: { name: "x" },
    issues: ["typed_config: unset, violates any.required"] },
  { rule: "string.well_known_regex (HTTP_HEADER_NAME, strict: false)", type: "envoy.config.core.v3.HeaderValue", value: { key: "x-a\nb" },
    issues: ['key: "x-a\\nb" violates string.well_known_regex HTTP_HEADER_NAME (strict: false)'] },
  { rule: "string.max_bytes", type: "envoy.config.core.v3.HeaderValue", value: { key: "x", value: "é".repeat(8193) },
    issues: [`value: ${JSON.stringify("é".repeat(8193)).slice(0, 77)}... violates string.max_bytes 16384`] },
  { rule: "bytes.max_len", type: "envoy.config.core.v3.HeaderValue", value: { key: "x", raw_value: Buffer.alloc(16385).toString("base64") },
    issues: [`raw_value: ${JSON.stringify(Buffer.alloc(16385).toString("base64")).slice(0, 77)}... violates bytes.max_len 16384`] },
  { rule: "string.pattern", type: "envoy.config.route.v3.RouteMatch", value: { path_separated_prefix: "/api/" },
    issues: ['path_separated_prefix: "/api/" violates string.pattern "^[^?#]+[^?#/]$"'] },
  { rule: "string.in", type: "envoy.config.core.v3.SchemeHeaderTransformation", value: { scheme_to_overwrite: "ftp" },
    issues: ['scheme_to_overwrite: "ftp" violates string.in ["http", "https"]'] },
  { rule: "repeated.items (uint32.lte)", type: "envoy.config.listener.v3.FilterChainMatch", value: { source_ports: [80, 70000] },
    issues: ["source_ports[1]: 70000 violates uint32.lte 65535"] },
  { rule: "repeated.unique", type: "envoy.config.route.v3.InternalRedirectPolicy", value: { response_headers_to_copy: ["x-a", "x-a"] },
    issues: ["response_headers_to_copy: has repeated items, violates repeated.unique"] },
  { rule: "map.keys (string.min_len)", type: "envoy.config.core.v3.Metadata", value: { filter_metadata: { "": {} } },
    issues: ['filter_metadata.: key "" violates string.min_len 1'] },
  { rule: "map.min_pairs", type: "envoy.config.common.matcher.v3.Matcher.MatcherTree.MatchMap", value: { map: {} },
    issues: ["map: has 0 pair(s), violates map.min_pairs 1"] },
  { rule: "enum.not_in", type: "envoy.config.core.v3.HealthCheck.HttpHealthCheck", value: { path: "/h", method: "CONNECT" },
    issues: ['method: "CONNECT" violates enum.not_in [6]'] },
  { rule: "double.gte", type: "envoy.config.cluster.v3.Cluster.PreconnectPolicy", value: { per_upstream_preconnect_ratio: 0.5 },
    issues: ["per_upstream_preconnect_ratio: 0.5 violates double.gte 1"] },
  { rule: "bool.const", type: "envoy.config.bootstrap.v3.Bootstrap", value: { stats_flush_on_admin: false },
    issues: ["stats_flush_on_admin: false violates bool.const true"] },
  { rule: "uint64.lt", type: "envoy.config.core.v3.UdpSocketConfig", value: { max_rx_datagram_size: "65536" },
    issues: ['max_rx_datagram_size: "65536" violates uint64.lt 65536'] },
];

const require = createRequire(import.meta.url);
const xds = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const fixtures = new URL("../fixtures/pgv/", import.meta.url).pathname;
const withFixtures = new EnvoyValidator({
  includePaths: [fixtures, ...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(xds, "deps", d))],
});
const RULES = "protomesh.test.v1.Rules";
/** The fields test/fixtures/pgv/.../rules.proto needs set to be valid. */
const base = { prefix: "pm-x", outside: 11, must_be_true: true };

/** Every other rule kind, on the fixture message (one field per rule). */
const FIXTURE_CASES: readonly Case[] = [
  { rule: "string.prefix", type: RULES, value: { ...base, prefix: "x" }, issues: ['prefix: "x" violates string.prefix "pm-"'] },
  { rule: "string.suffix", type: RULES, value: { ...base, suffix: "a.wat" }, issues: ['suffix: "a.wat" violates string.suffix ".wasm"'] },
  { rule: "string.contains", type: RULES, value: { ...base, contains: "ab" }, issues: ['contains: "ab" violates string.contains "@"'] },
  { rule: "string.not_contains", type: RULES, value: { ...base, not_contains: "a/../b" }, issues: ['not_contains: "a/../b" violates string.not_contains ".."'] },
  { rule: "string.len (UTF-8 characters)", type: RULES, value: { ...base, len: "ééé" }, issues: [] },
  { rule: "string.len", type: RULES, value: { ...base, len: "ab" }, issues: ['len: "ab" violates string.len 3'] },
  { rule: "string.max_len", type: RULES, value: { ...base, max_len: "abcde" }, issues: ['max_len: "abcde" violates string.max_len 4'] },
  { rule: "string.max_bytes (bytes, not characters)", type: RULES, value: { ...base, len_bytes: "ééé" }, issues: ['len_bytes: "ééé" violates string.max_bytes 4'] },
  { rule: "string.const", type: RULES, value: { ...base, const_string: "v2" }, issues: ['const_string: "v2" violates string.const "v1"'] },
  { rule: "string.hostname", type: RULES, value: { ...base, hostname: "-bad.example" }, issues: ['hostname: "-bad.example" violates string.hostname'] },
  { rule: "string.ip", type: RULES, value: { ...base, ip: "10.0.0.300" }, issues: ['ip: "10.0.0.300" violates string.ip'] },
  { rule: "string.ipv4", type: RULES, value: { ...base, ipv4: "::1" }, issues: ['ipv4: "::1" violates string.ipv4'] },
  { rule: "string.ipv6", type: RULES, value: { ...base, ipv6: "10.0.0.1" }, issues: ['ipv6: "10.0.0.1" violates string.ipv6'] },
  { rule: "string.address", type: RULES, value: { ...base, address: "a_b" }, issues: ['address: "a_b" violates string.address'] },
  { rule: "string.address accepts an IP or a hostname", type: RULES, value: { ...base, address: "fe80::1" }, issues: [] },
  { rule: "string.uuid", type: RULES, value: { ...base, uuid: "1234" }, issues: ['uuid: "1234" violates string.uuid'] },
  { rule: "string.not_in", type: RULES, value: { ...base, not_in_string: "admin" }, issues: ['not_in_string: "admin" violates string.not_in ["admin"]'] },
  { rule: "string.well_known_regex (strict)", type: RULES, value: { ...base, header_strict: "x a" }, issues: ['header_strict: "x a" violates string.well_known_regex HTTP_HEADER_NAME'] },
  { rule: "string.pattern with RE2's (?i)", type: RULES, value: { ...base, case_insensitive: "Ab1" }, issues: [] },
  { rule: "string.pattern with RE2's (?i), not matching", type: RULES, value: { ...base, case_insensitive: "a-b" },
    issues: ['case_insensitive: "a-b" violates string.pattern "(?i)^[a-z0-9]+$"'] },
  { rule: "int32.const", type: RULES, value: { ...base, const_int: 3 }, issues: ["const_int: 3 violates int32.const 0"] },
  { rule: "int32.in", type: RULES, value: { ...base, in_int: 6 }, issues: ["in_int: 6 violates int32.in [0, 5, 7]"] },
  { rule: "int64.not_in (64-bit as string)", type: RULES, value: { ...base, not_in_int: "13" }, issues: ['not_in_int: "13" violates int64.not_in [13]'] },
  { rule: "lt below gt: outside the range", type: RULES, value: { ...base, outside: 5 }, issues: ["outside: 5 violates sint32.lt 0 or sint32.gt 10 (outside the range)"] },
  { rule: "lt below gt: below is fine", type: RULES, value: { ...base, outside: -1 }, issues: [] },
  { rule: "uint32.gte + lte", type: RULES, value: { ...base, ranged: 11 }, issues: ["ranged: 11 violates uint32.lte 10"] },
  { rule: "ignore_empty skips 0", type: RULES, value: { ...base, ranged: 0 }, issues: [] },
  { rule: "fixed64 at its maximum", type: RULES, value: { ...base, big: "18446744073709551615" }, issues: [] },
  { rule: "double.gt + lt", type: RULES, value: { ...base, ratio: 1 }, issues: ["ratio: 1 violates double.lt 1"] },
  { rule: "bool.const on an unset bool", type: RULES, value: { prefix: "pm-", outside: 11 }, issues: ["must_be_true: unset (false), violates bool.const true"] },
  { rule: "wrapper rules apply to the wrapped value", type: RULES, value: { ...base, wrapped: 0 }, issues: ["wrapped: 0 violates int32.gt 0"] },
  { rule: "enum.const", type: RULES, value: { ...base, color_const: "BLUE" }, issues: ['color_const: "BLUE" violates enum.const 0'] },
  { rule: "enum.in", type: RULES, value: { ...base, color_in: 2 }, issues: ["color_in: 2 violates enum.in [0, 1]"] },
  { rule: "bytes.prefix", type: RULES, value: { ...base, bytes_prefix: Buffer.from("XX").toString("base64") }, issues: ['bytes_prefix: "WFg=" violates bytes.prefix "PM"'] },
  { rule: "bytes.len", type: RULES, value: { ...base, bytes_len: Buffer.from("abc").toString("base64") }, issues: ['bytes_len: "YWJj" violates bytes.len 2'] },
  { rule: "bytes.ipv4", type: RULES, value: { ...base, bytes_ipv4: Buffer.from([10, 0, 0]).toString("base64") }, issues: ['bytes_ipv4: "CgAA" violates bytes.ipv4 (4 bytes)'] },
  { rule: "map.max_pairs + map.values", type: RULES, value: { ...base, map_max: { a: "xx", b: "y" } },
    issues: ["map_max: has 2 pair(s), violates map.max_pairs 1", 'map_max.b: "y" violates string.min_len 2'] },
  { rule: "map.keys on integer keys; values are messages checked in turn", type: RULES, value: { ...base, map_int_keys: { "0": { name: "n" }, "3": {} } },
    issues: ['map_int_keys.0: key "0" violates int32.gt 0', 'map_int_keys.3.name: unset (""), violates string.min_len 1'] },
  { rule: "repeated.items + max_items", type: RULES, value: { ...base, items: ["xa", "b", "xc"] },
    issues: ["items: has 3 item(s), violates repeated.max_items 2", 'items[1]: "b" violates string.prefix "x"'] },
  { rule: "repeated.ignore_empty, items enum.defined_only", type: RULES, value: { ...base, colors: [1, 9] }, issues: ["colors[1]: 9 violates enum.defined_only"] },
  { rule: "repeated.ignore_empty skips an empty list", type: RULES, value: { ...base, colors: [] }, issues: [] },
  { rule: "message.skip", type: RULES, value: { ...base, skipped: {} }, issues: [] },
  { rule: "an embedded message's rules apply", type: RULES, value: { ...base, checked: {} }, issues: ['checked.name: unset (""), violates string.min_len 1'] },
  { rule: "(validate.disabled) message", type: RULES, value: { ...base, unchecked: {} }, issues: [] },
  { rule: "duration.gte + lte", type: RULES, value: { ...base, duration_range: "61s" }, issues: ['duration_range: "61s" violates duration.lte 60s'] },
  { rule: "duration.in", type: RULES, value: { ...base, duration_in: "0.5s" }, issues: [] },
  { rule: "duration.in, not listed", type: RULES, value: { ...base, duration_in: "2s" }, issues: ['duration_in: "2s" violates duration.in [1s, 0.5s]'] },
  { rule: "timestamp.gt", type: RULES, value: { ...base, after_2020: "2019-06-01T00:00:00Z" }, issues: ['after_2020: "2019-06-01T00:00:00Z" violates timestamp.gt 1577836800s'] },
  { rule: "any.in", type: RULES, value: { ...base, typed: { "@type": "type.googleapis.com/protomesh.test.v1.Unchecked" } },
    issues: ['typed.@type: "type.googleapis.com/protomesh.test.v1.Unchecked" violates any.in ["type.googleapis.com/protomesh.test.v1.Inner"]'] },
  { rule: "rules inside an Any apply", type: RULES, value: { ...base, typed: { "@type": "type.googleapis.com/protomesh.test.v1.Inner", name: "" } },
    issues: ['typed.name: "" violates string.min_len 1'] },
  { rule: "a oneof member's rules apply when it is set", type: RULES, value: { ...base, a: "x" }, issues: ['a: "x" violates string.min_len 2'] },
  { rule: "an unset oneof member is not checked", type: RULES, value: { ...base, b: "" }, issues: [] },
  { rule: "proto3 optional: checked only when set", type: RULES, value: { ...base, optional_name: "x" }, issues: ['optional_name: "x" violates string.min_len 2'] },
];

describe("protoc-gen-validate rules", () => {
  it("the fixture's base value is valid", () => {
    assert.deepEqual(withFixtures.validate(base, RULES).map(formatIssue), []);
  });

  for (const c of ENVOY_CASES) {
    it(`Envoy protos: ${c.rule}`, () => {
      assert.deepEqual(validator.validate(c.value, c.type).map(formatIssue).sort(), [...c.issues].sort());
    });
  }

  for (const c of FIXTURE_CASES) {
    it(`fixture: ${c.rule}`, () => {
      assert.deepEqual(withFixtures.validate(c.value, c.type).map(formatIssue).sort(), [...c.issues].sort());
    });
  }

  it("names the full path, rule and value inside a bootstrap", () => {
    const cfg = {
      static_resources: {
        clusters: [{ name: "c", connect_timeout: "1s", load_assignment: { cluster_name: "c" } }],
        listeners: [{
          name: "l",
          address: { socket_address: { address: "0.0.0.0", port_value: 1 } },
          filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": `type.googleapis.com/${TCP_PROXY}`, ...tcp({ max_early_data_bytes: 2000000 }) } }] }],
        }],
      },
    };
    assert.deepEqual(validator.validate(cfg).map(formatIssue), [
      "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.max_early_data_bytes: 2000000 violates uint32.lte 1048576",
    ]);
  });

  it("accepts an enum number Envoy's JSON parser takes (proto3 enums are open) where no defined_only rule applies", () => {
    assert.deepEqual(validator.validate({ name: "c", lb_policy: 42 }, "envoy.config.cluster.v3.Cluster").map(formatIssue), ["lb_policy: 42 violates enum.defined_only"]);
    assert.deepEqual(withFixtures.validate({ ...base, color_const: 0, colors: [] }, RULES).map(formatIssue), []);
  });

  it("a .proto package that does not load leaves the validator working", () => {
    const v = new EnvoyValidator();
    const issues = v.validate({ "@type": "type.googleapis.com/envoy.config.trace.v3.OpenCensusConfig" }, "google.protobuf.Any");
    assert.equal(issues.length, 1);
    assert.match(formatIssue(issues[0]!), /^@type: unknown type envoy\.config\.trace\.v3\.OpenCensusConfig: the \.proto files of package envoy\.config\.trace\.v3 do not load: /);
    assert.deepEqual(v.validate({ stat_prefix: "s", cluster: "c" }, TCP_PROXY).map(formatIssue), []);
  });
});
