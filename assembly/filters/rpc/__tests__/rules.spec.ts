import { JsonValue, parseJson } from "../../../runtime/json";
import { Fields } from "../../../runtime/fields";
import { Rule } from "../rule";
import { RuleSyntax, parseRules } from "../rule-parse";
import { Call } from "../call";
import { firstMatch } from "../match";
import { Rng } from "../rng";
import { Answer, PendingCalls } from "../pending-calls";

const DUBBO = new RuleSyntax(true, true);
const THRIFT = new RuleSyntax(false, false);

class Parsed {
  constructor(public rules: Rule[], public error: string) {}
}

function parse(text: string, syntax: RuleSyntax): Parsed {
  const v: JsonValue = parseJson(text).value!;
  const f = new Fields();
  const out: Rule[] = [];
  parseRules(f, v, "rules", 8, syntax, out);
  return new Parsed(out, f.ok ? "" : f.error);
}

const RULES = '[' +
  '{"name": "v2", "match": {"service": {"exact": "com.acme.Orders"}, "version": "2.0.0", "group": "blue"}, "route": {"cluster": "a"}},' +
  '{"name": "canary", "match": {"method": {"glob": "get*"}, "headers": [{"name": "X-Canary", "present": true}]}, "route": {"cluster": "b"},' +
  ' "fault": {"delay": {"duration": "250ms", "percent": 50}, "abort": {"message": "boom", "percent": 12.5}}},' +
  '{"name": "rest", "route": {"weightedClusters": [{"name": "c", "weight": 9}, {"name": "d", "weight": 1}]}}' +
  ']';

function dubboCall(service: string, method: string, version: string, group: string): Call {
  const c = Call.named(service, true, method, method);
  c.version = version;
  c.group = group;
  return c;
}

describe("rpc rules", () => {
  it("reads version, group and faults where the protocol has them", () => {
    const p = parse(RULES, DUBBO);
    expect(p.error).toBe("");
    expect(p.rules.length).toBe(3);
    expect(p.rules[0].version).toBe("2.0.0");
    expect(p.rules[0].group).toBe("blue");
    expect(p.rules[1].delayMs).toBe(250);
    expect(p.rules[1].delayMilliPercent).toBe(50000);
    expect(p.rules[1].abortMilliPercent).toBe(12500);
    expect(p.rules[2].totalWeight).toBe(10);
  });

  it("refuses them where it does not, naming the field", () => {
    expect(parse(RULES, THRIFT).error).toBe('unknown field "rules[0].match.version" (known: service, method, headers (version and group are Dubbo only))');
    expect(parse('[{"name": "x", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "1s"}}}]', THRIFT).error)
      .toBe('unknown field "rules[0].fault.delay" (known: abort (delay is not supported by this filter))');
    expect(parse('[{"name": "x", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "1h"}}}]', DUBBO).error)
      .toBe('"rules[0].fault.delay.duration" must be a duration such as 250ms, 1s or 2m, found "1h"');
    expect(parse('[{"name": "x", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "1s", "p": 1}}}]', DUBBO).error)
      .toBe('"rules[0].fault.delay" must be {duration, percent}, found object');
    expect(parse('[{"name": "x", "route": {"cluster": "a"}, "match": {"group": ""}}]', DUBBO).error)
      .toBe('"rules[0].match.group" must be a non-empty string, found ""');
  });

  it("matches version, group and headers on the protocol-neutral call", () => {
    const rules = parse(RULES, DUBBO).rules;
    expect(firstMatch(rules, dubboCall("com.acme.Orders", "get", "2.0.0", "blue"))).toBe(0);
    expect(firstMatch(rules, dubboCall("com.acme.Orders", "get", "1.0.0", "blue"))).toBe(2);
    expect(firstMatch(rules, dubboCall("com.acme.Orders", "put", "2.0.0", ""))).toBe(2);
    const c = dubboCall("com.acme.Users", "getUser", "", "");
    expect(firstMatch(rules, c)).toBe(2);
    c.addHeader("x-CANARY", "");
    expect(firstMatch(rules, c)).toBe(1);
  });

  it("draws percentages in thousandths", () => {
    const rng = new Rng(3);
    let hits = 0;
    for (let i = 0; i < 10000; i++) if (rng.chance(12500)) hits++;
    expect(hits > 1100 && hits < 1400).toBe(true);
    expect(rng.chance(0)).toBe(false);
  });
});

describe("rpc pending calls", () => {
  it("keys calls by an i64 id, oldest first, within its bound", () => {
    const t = new PendingCalls(3);
    const big: i64 = 0x7fffffff00000001;
    t.add(big, 10, 0)!.answer = Answer.Replace;
    t.add(7, 20, 1);
    t.add(7, 30, 2);
    expect(t.add(8, 40, 0)).toBeNull();
    expect(t.find(big)!.answer).toBe(Answer.Replace);
    expect(t.take(7)!.startNs).toBe(20);
    expect(t.take(7)!.startNs).toBe(30);
    expect(t.take(7)).toBeNull();
    expect(t.size).toBe(1);
  });
});
