import { DEFAULT_DECODE_TIMEOUT_MS, DEFAULT_STAT_PREFIX, HeaderKind, NameKind, parseDurationMs, parseThriftConfig } from "../config";
import { Call, Rng, firstMatch, pickCluster } from "../match";
import { ByteWriter, encodeAppException } from "../exception";
import { ThriftProtocol, ThriftTransport } from "../../../codecs/thrift/index";

const RULES = '{"rules": [' +
  '{"name": "orders-echo", "match": {"service": {"exact": "Orders"}, "method": {"exact": "echo"}}, "route": {"cluster": "a"}},' +
  '{"name": "orders", "match": {"service": {"prefix": "Ord"}}, "route": {"cluster": "b"}},' +
  '{"name": "tenant", "match": {"headers": [{"name": "X-Tenant", "exact": "blue"}]}, "route": {"cluster": "c"}},' +
  '{"name": "glob", "match": {"method": {"glob": "get*"}}, "route": {"weightedClusters": [{"name": "d", "weight": 3}, {"name": "e", "weight": 1}]}},' +
  '{"name": "deny", "match": {"method": {"exact": "drop"}}, "policy": {"deny": true}}' +
  "]}";

function call(name: string, keys: string[] = [], values: string[] = []): Call {
  return Call.of(name, keys, values);
}

describe("thrift configuration", () => {
  it("uses defaults for an empty configuration", () => {
    const p = parseThriftConfig("");
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe(DEFAULT_STAT_PREFIX);
    expect(p.config.decodeTimeoutMs).toBe(DEFAULT_DECODE_TIMEOUT_MS);
    expect(p.config.rules.length).toBe(0);
    expect(parseThriftConfig("{}").error).toBe("");
  });

  it("reads every field", () => {
    const p = parseThriftConfig('{"stat_prefix": "mesh", "routing": "request", "transport": "header", "protocol": "compact", "decode_timeout_ms": 250, "seed": 7, "rules": []}');
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe("mesh");
    expect(p.config.transport).toBe(ThriftTransport.Header);
    expect(p.config.protocol).toBe(ThriftProtocol.Compact);
    expect(p.config.decodeTimeoutMs).toBe(250);
    expect(p.config.seed).toBe(7);
    expect(p.config.perRequest).toBe(true);
    expect(parseThriftConfig("{}").config.perRequest).toBe(false);
  });

  it("reads the rule model's JSON form", () => {
    const p = parseThriftConfig(RULES);
    expect(p.error).toBe("");
    const r = p.config.rules;
    expect(r.length).toBe(5);
    expect(r[0].service.kind).toBe(NameKind.Exact);
    expect(r[1].service.kind).toBe(NameKind.Prefix);
    expect(r[2].headers[0].name).toBe("x-tenant");
    expect(r[2].headers[0].kind).toBe(HeaderKind.Exact);
    expect(r[3].totalWeight).toBe(4);
    expect(r[4].deny).toBe(true);
    expect(r[4].message).toBe("denied by protomesh rule deny");
  });

  it("names the bad field", () => {
    const bad = "thrift: invalid configuration: ";
    expect(parseThriftConfig('{"transport": "tcp"}').error).toBe(bad + '"transport" must be one of auto, framed, unframed, header, found "tcp"');
    expect(parseThriftConfig('{"colour": 1}').error).toBe(bad + 'unknown field "colour" (known: stat_prefix, routing, transport, protocol, decode_timeout_ms, seed, rules, telemetry)');
    expect(parseThriftConfig('{"decode_timeout_ms": 0}').error).toBe(bad + '"decode_timeout_ms" must be a duration in milliseconds, an integer 1..600000, found 0');
    expect(parseThriftConfig('{"rules": [{"name": "x"}]}').error).toBe(bad + '"rules[0].route" is required unless policy.deny is true');
    expect(parseThriftConfig('{"rules": [{"name": "x", "match": {"version": "1"}, "route": {"cluster": "a"}}]}').error)
      .toBe(bad + 'unknown field "rules[0].match.version" (known: service, method, headers (version and group are Dubbo only))');
    expect(parseThriftConfig('{"rules": [{"name": "x", "route": {"weightedClusters": [{"name": "a", "weight": 0}]}}]}').error)
      .toBe(bad + '"rules[0].route.weightedClusters[0].weight" must be a weight, an integer 1..1000000, found 0');
    expect(parseThriftConfig('{"rules": [{"name": "x", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "1s"}, "pause": 1}}]}').error)
      .toBe(bad + 'unknown field "rules[0].fault.pause" (known: abort, delay)');
  });

  it("reads a delay fault", () => {
    const p = parseThriftConfig('{"rules": [{"name": "x", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "250ms", "percent": 25}}}]}');
    expect(p.error).toBe("");
    expect(p.config.rules[0].delayMs).toBe(250);
    expect(p.config.rules[0].delayMilliPercent).toBe(25000);
  });

  it("reads durations as the rule model writes them", () => {
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("2s")).toBe(2000);
    expect(parseDurationMs("3m")).toBe(180000);
    expect(parseDurationMs("1h")).toBe(-1);
    expect(parseDurationMs("ms")).toBe(-1);
  });
});

const rules = parseThriftConfig(RULES).config.rules;

describe("thrift rule matching", () => {
  it("matches service and method of multiplexed names", () => {
    expect(firstMatch(rules, call("Orders:echo"))).toBe(0);
    expect(firstMatch(rules, call("Orders:hello"))).toBe(1);
    expect(firstMatch(rules, call("Order:hello"))).toBe(1);
    // A prefix never matches the empty remainder; a call that is not multiplexed has no service.
    expect(firstMatch(rules, call("Ord:hello"))).toBe(-1);
    expect(firstMatch(rules, call("echo"))).toBe(-1);
  });

  it("matches the whole name when the rule names no service", () => {
    expect(firstMatch(rules, call("getUser"))).toBe(3);
    expect(firstMatch(rules, call("get"))).toBe(-1);
    expect(firstMatch(rules, call("Users:getUser"))).toBe(-1);
    expect(firstMatch(rules, call("drop"))).toBe(4);
  });

  it("matches THeader headers case-insensitively by name, exactly by value", () => {
    expect(firstMatch(rules, call("hello", ["x-tenant"], ["blue"]))).toBe(2);
    expect(firstMatch(rules, call("hello", ["X-TENANT"], ["blue"]))).toBe(2);
    expect(firstMatch(rules, call("hello", ["x-tenant"], ["Blue"]))).toBe(-1);
  });

  it("picks weighted clusters by weight, deterministically per seed", () => {
    const rng = new Rng(42);
    let d = 0;
    for (let i = 0; i < 10000; i++) if (pickCluster(rules[3], rng) == 0) d++;
    expect(d > 7200 && d < 7800).toBe(true);
    const a = new Rng(9);
    const b = new Rng(9);
    for (let i = 0; i < 100; i++) expect(pickCluster(rules[3], a)).toBe(pickCluster(rules[3], b));
  });
});

describe("thrift TApplicationException encoding", () => {
  it("writes a framed strict binary exception", () => {
    const out = Uint8Array.wrap(encodeAppException(ThriftTransport.Framed, ThriftProtocol.Binary, String.UTF8.encode("m"), 7, 6, "no", 0, 0));
    const want: u8[] = [0, 0, 0, 30, 0x80, 1, 0, 3, 0, 0, 0, 1, 109, 0, 0, 0, 7, 11, 0, 1, 0, 0, 0, 2, 110, 111, 8, 0, 2, 0, 0, 0, 6, 0];
    expect(out.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(out[i]).toBe(want[i]);
  });

  it("writes an unframed compact exception", () => {
    const out = Uint8Array.wrap(encodeAppException(ThriftTransport.Unframed, ThriftProtocol.Compact, String.UTF8.encode("m"), 7, 6, "no", 0, 0));
    const want: u8[] = [0x82, 0x61, 7, 1, 109, 0x18, 2, 110, 111, 0x15, 12, 0];
    expect(out.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(out[i]).toBe(want[i]);
  });

  it("grows its buffer", () => {
    const w = new ByteWriter(1);
    for (let i = 0; i < 100; i++) w.u8(<u32>i);
    expect(w.take().byteLength).toBe(100);
  });
});
