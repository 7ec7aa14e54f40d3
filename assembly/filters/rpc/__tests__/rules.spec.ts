import { JsonValue, parseJson } from "../../../runtime/json";
import { Fields } from "../../../runtime/fields";
import { Rule } from "../rule";
import { RuleSyntax, parseRules } from "../rule-parse";
import { Call } from "../call";
import { firstMatch } from "../match";
import { Rng } from "../rng";
import { Answer, PendingCalls } from "../pending-calls";
import { Deadlines } from "../deadlines";
import { Refusal, Verdict } from "../verdict";

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
      .toBe('unknown field "rules[0].fault.delay" (known: abort)');
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

class Waiter {
  dueMs: u64 = 0;
  constructor(public id: i32) {}
}

describe("rpc deadlines", () => {
  it("hands out due items in order, moves a deadline, and drops forgotten items", () => {
    const d = new Deadlines<Waiter>();
    const a = new Waiter(1);
    const b = new Waiter(2);
    const c = new Waiter(3);
    d.set(a, 100);
    d.set(b, 50);
    d.set(c, 70);
    d.set(b, 200);
    c.dueMs = 0;
    expect(d.take(99).length).toBe(0);
    const due = d.take(150);
    expect(due.length).toBe(1);
    expect(due[0].id).toBe(1);
    expect(a.dueMs).toBe(0);
    expect(d.size).toBe(1);
    expect(d.take(1000)[0].id).toBe(2);
    expect(d.size).toBe(0);
  });
});

describe("rpc verdicts", () => {
  it("denies before faults, aborts and delays by percent", () => {
    const rules = parse('[{"name": "d", "policy": {"deny": true}, "fault": {"delay": {"duration": "1s"}}},' +
      '{"name": "f", "route": {"cluster": "a"}, "fault": {"abort": {"message": "boom"}, "delay": {"duration": "2s", "percent": 0}}},' +
      '{"name": "s", "route": {"cluster": "a"}, "fault": {"delay": {"duration": "3s"}}}]', DUBBO).rules;
    const v = new Verdict();
    const rng = new Rng(1);
    v.judge(rules[0], rng, "t.");
    expect(v.refusal).toBe(Refusal.Denied);
    expect(v.message).toBe("denied by protomesh rule d");
    expect(v.delayMs).toBe(0);
    v.judge(rules[1], rng, "t.");
    expect(v.refusal).toBe(Refusal.Aborted);
    expect(v.message).toBe("boom");
    expect(v.delayMs).toBe(0);
    v.judge(rules[2], rng, "t.");
    expect(v.refusal).toBe(Refusal.None);
    expect(v.delayMs).toBe(3000);
    v.judge(null, rng, "t.");
    expect(v.refusal).toBe(Refusal.None);
    expect(v.delayMs).toBe(0);
  });
});
