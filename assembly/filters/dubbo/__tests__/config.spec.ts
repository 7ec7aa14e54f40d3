import { DEFAULT_DECODE_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, DEFAULT_STAT_PREFIX, parseDubboConfig } from "../config";
import { RuleIndex } from "../rule-index";
import { Call } from "../../rpc/call";
import { firstMatch } from "../../rpc/match";

const BAD = "dubbo: invalid configuration: ";

const RULES = '{"rules": [' +
  '{"name": "orders-canary", "match": {"service": {"exact": "com.acme.Orders"}, "headers": [{"name": "X-Canary", "exact": "1"}]}, "route": {"cluster": "v2"}},' +
  '{"name": "blue", "match": {"group": "blue"}, "route": {"cluster": "blue"}},' +
  '{"name": "orders-v2", "match": {"service": {"exact": "com.acme.Orders"}, "version": "2.0.0"}, "route": {"cluster": "v2"}},' +
  '{"name": "pay", "match": {"service": {"prefix": "com.acme.pay."}}, "route": {"cluster": "pay"}},' +
  '{"name": "orders", "match": {"service": {"exact": "com.acme.Orders"}}, "route": {"cluster": "v1"}},' +
  '{"name": "admin", "match": {"service": {"exact": "com.acme.Admin"}, "method": {"glob": "drop*"}}, "policy": {"deny": true}},' +
  '{"name": "slow", "match": {"service": {"exact": "com.acme.Admin"}}, "route": {"cluster": "a"}, "fault": {"delay": {"duration": "250ms", "percent": 50}}},' +
  '{"name": "any-get", "match": {"method": {"exact": "get"}}, "route": {"cluster": "g"}}' +
  "]}";

function call(service: string, method: string, version: string = "", group: string = "", keys: string[] = [], values: string[] = []): Call {
  const c = Call.named(service, true, method, method);
  c.version = version;
  c.group = group;
  for (let i = 0; i < keys.length; i++) c.addHeader(keys[i], values[i]);
  return c;
}

describe("dubbo configuration", () => {
  it("uses the defaults for an empty configuration", () => {
    const p = parseDubboConfig("");
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe(DEFAULT_STAT_PREFIX);
    expect(p.config.decodeTimeoutMs).toBe(DEFAULT_DECODE_TIMEOUT_MS);
    expect(p.config.maxBodyBytes).toBe(DEFAULT_MAX_BODY_BYTES);
    expect(p.config.perRequest).toBe(false);
    expect(p.config.rules.length).toBe(0);
    expect(parseDubboConfig("{}").error).toBe("");
  });

  it("reads every field, and Dubbo's version, group and delay in rules", () => {
    const p = parseDubboConfig('{"stat_prefix": "mesh.dubbo", "routing": "request", "decode_timeout_ms": 250, "max_body_bytes": 1024, "seed": 7, "rules": ' + RULES.substring(10));
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe("mesh.dubbo");
    expect(p.config.perRequest).toBe(true);
    expect(p.config.decodeTimeoutMs).toBe(250);
    expect(p.config.maxBodyBytes).toBe(1024);
    expect(p.config.seed).toBe(7);
    const r = p.config.rules;
    expect(r.length).toBe(8);
    expect(r[1].group).toBe("blue");
    expect(r[2].version).toBe("2.0.0");
    expect(r[6].delayMs).toBe(250);
    expect(r[6].delayMilliPercent).toBe(50000);
  });

  it("names the bad field", () => {
    expect(parseDubboConfig('{"routing": "stream"}').error).toBe(BAD + '"routing" must be one of connection, request, found "stream"');
    expect(parseDubboConfig('{"colour": 1}').error).toBe(BAD + 'unknown field "colour" (known: stat_prefix, routing, decode_timeout_ms, max_body_bytes, seed, rules, telemetry)');
    expect(parseDubboConfig('{"decode_timeout_ms": 0}').error).toBe(BAD + '"decode_timeout_ms" must be a duration in milliseconds, an integer 1..600000, found 0');
    expect(parseDubboConfig('{"max_body_bytes": 16777217}').error).toBe(BAD + '"max_body_bytes" must be a size in bytes, an integer 1..16777216, found 16777217');
    expect(parseDubboConfig('{"rules": [{"name": "x"}]}').error).toBe(BAD + '"rules[0].route" is required unless policy.deny is true');
    expect(parseDubboConfig("[1]").error).toBe(BAD + "expected a JSON object, found array");
  });
});

describe("dubbo rule index", () => {
  it("finds the same first rule as a scan over every rule, trying only an interface's candidates", () => {
    const rules = parseDubboConfig(RULES).config.rules;
    const index = new RuleIndex(rules);
    expect(index.readsAttachments).toBe(true);
    // Candidates keep rule order: the interface's exact rules and every open (prefix/any) rule.
    expect(index.candidates("com.acme.Orders")).toStrictEqual([0, 1, 2, 3, 4, 7]);
    expect(index.candidates("com.acme.Admin")).toStrictEqual([1, 3, 5, 6, 7]);
    expect(index.candidates("com.acme.Other")).toStrictEqual([1, 3, 7]);
    const calls: Call[] = [
      call("com.acme.Orders", "get", "", "", ["x-canary"], ["1"]),
      call("com.acme.Orders", "get", "2.0.0"),
      call("com.acme.Orders", "get", "1.0.0", "blue"),
      call("com.acme.Orders", "list"),
      call("com.acme.pay.Refunds", "refund"),
      call("com.acme.Admin", "dropAll"),
      call("com.acme.Admin", "get"),
      call("com.acme.Other", "get"),
      call("com.acme.Other", "put"),
      call("", "get"),
    ];
    const expected: i32[] = [0, 2, 1, 4, 3, 5, 6, 7, -1, 7];
    for (let i = 0; i < calls.length; i++) {
      expect(index.first(calls[i])).toBe(expected[i], calls[i].service + "." + calls[i].method);
      expect(index.first(calls[i])).toBe(firstMatch(rules, calls[i]), calls[i].service + "." + calls[i].method);
    }
  });

  it("reads no attachments when no rule matches headers or group", () => {
    const rules = parseDubboConfig('{"rules": [{"name": "a", "match": {"service": {"exact": "S"}, "version": "1"}, "route": {"cluster": "c"}}]}').config.rules;
    expect(new RuleIndex(rules).readsAttachments).toBe(false);
    expect(new RuleIndex([]).first(call("S", "m"))).toBe(-1);
  });
});
