import {
  parseHttpTelemetryConfig, DEFAULT_DENIER_MESSAGE, DEFAULT_DENIER_STATUS, DEFAULT_MAX_KEYS, DEFAULT_VALID_DURATION_MS,
} from "../config";
import { DenierHandler } from "../../../telemetry/handlers/denier";
import { ListEntry, ListHandler, listRefusal, listed } from "../../../telemetry/handlers/list";
import { MemQuotaHandler, quotaKey } from "../../../telemetry/handlers/memquota";
import { ConnectionAttributes } from "../../../telemetry/handlers/handler";
import { Verdict } from "../../../telemetry/handlers/check";
import { Attr, RequestAttributes } from "../../../telemetry/request";
import { knownAtRequestHeaders } from "../../../telemetry/rules";
import { Bucket, decodeBucket, encodeBucket, msToNextToken, refill } from "../../../policy/token-bucket";

const PREFIX = "http-telemetry: invalid configuration: ";

function error(text: string): string {
  return parseHttpTelemetryConfig(text).error;
}

describe("check handler configuration", () => {
  it("denier: defaults and fields", () => {
    const d = changetype<DenierHandler>(parseHttpTelemetryConfig('{"handlers": [{"name": "d", "kind": "denier"}]}').config.handlers[0]);
    expect(d.status).toBe(DEFAULT_DENIER_STATUS);
    expect(d.message).toBe(DEFAULT_DENIER_MESSAGE);
    const e = changetype<DenierHandler>(parseHttpTelemetryConfig('{"handlers": [{"name": "d", "kind": "denier", "status_code": 451, "message": "no"}]}').config.handlers[0]);
    expect(e.status).toBe(451);
    expect(e.message).toBe("no");
  });

  it("list: attribute, exact and prefix entries, blacklist", () => {
    const l = changetype<ListHandler>(parseHttpTelemetryConfig(
      '{"handlers": [{"name": "l", "kind": "list", "attribute": "source.principal", "blacklist": true, "entries": ["a", {"prefix": "spiffe://x/"}]}]}').config.handlers[0]);
    expect(l.attr).toBe(Attr.SourcePrincipal);
    expect(l.blacklist).toBe(true);
    expect(l.entries.length).toBe(2);
    expect(l.entries[0].prefix).toBe(false);
    expect(l.entries[1].prefix).toBe(true);
    expect(l.entries[1].value).toBe("spiffe://x/");
  });

  it("memquota: defaults and fields", () => {
    const q = changetype<MemQuotaHandler>(parseHttpTelemetryConfig('{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 5}]}').config.handlers[0]);
    expect(q.maxAmount).toBe(5);
    expect(q.validMs).toBe(DEFAULT_VALID_DURATION_MS);
    expect(q.maxKeys).toBe(DEFAULT_MAX_KEYS);
    expect(q.keyAttrs.length).toBe(0);
    expect(q.status).toBe(429);
    const r = changetype<MemQuotaHandler>(parseHttpTelemetryConfig(
      '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 5, "valid_duration_ms": 60000, "max_keys": 7, "key": ["source.namespace", "request.path"]}]}').config.handlers[0]);
    expect(r.validMs).toBe(60000);
    expect(r.maxKeys).toBe(7);
    expect(r.keyAttrs).toStrictEqual([Attr.SourceNamespace, Attr.RequestPath]);
  });

  it("bad fields fail naming the field", () => {
    const cases: string[][] = [
      ['{"handlers": [{"name": "d", "kind": "denier", "status_code": 200}]}', "\"handlers[0].status_code\" must be an HTTP status, an integer 400..599, found 200"],
      ['{"handlers": [{"name": "d", "kind": "denier", "mesage": "x"}]}', "unknown field \"handlers[0].mesage\" (known: name, kind, fail_open, sampling, status_code, message)"],
      ['{"handlers": [{"name": "l", "kind": "list", "entries": []}]}', "\"handlers[0].attribute\" is required"],
      ['{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host"}]}', "\"handlers[0].entries\" is required"],
      ['{"handlers": [{"name": "l", "kind": "list", "attribute": "response.code", "entries": []}]}',
        "\"handlers[0].attribute\" must be an attribute known at request headers (not a response attribute or request.total_size), found \"response.code\""],
      ['{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [{"prefix": ""}]}]}',
        "\"handlers[0].entries[0]\" must be a string (exact value) or {\"prefix\": \"…\"} (non-empty), found object"],
      ['{"handlers": [{"name": "q", "kind": "memquota"}]}', "\"handlers[0].max_amount\" is required"],
      ['{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 0}]}', "\"handlers[0].max_amount\" must be a number of requests, an integer 1..1000000000, found 0"],
      ['{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": ["request.total_size"]}]}',
        "\"handlers[0].key[0]\" must be an attribute known at request headers (not a response attribute or request.total_size), found \"request.total_size\""],
      ['{"handlers": [{"name": "d", "kind": "denier"}, {"name": "p", "kind": "prometheus"}], "rules": [{"handlers": ["p", "d"], "match": {"response.duration": {"present": true}}, "name": "slow"}]}',
        "rule \"slow\" feeds check handler \"d\" (decided at request headers) but matches response.duration, known only at the end of the request"],
    ];
    for (let i = 0; i < cases.length; i++) expect(error(cases[i][0])).toBe(PREFIX + cases[i][1]);
    // A response condition is fine for report handlers.
    expect(error('{"handlers": [{"name": "p", "kind": "prometheus"}], "rules": [{"name": "e", "match": {"response.code": {"prefix": "5"}}, "handlers": ["p"]}]}')).toBe("");
  });
});

describe("check handlers", () => {
  it("known at request headers", () => {
    expect(knownAtRequestHeaders(Attr.RequestPath)).toBe(true);
    expect(knownAtRequestHeaders(Attr.SourcePrincipal)).toBe(true);
    expect(knownAtRequestHeaders(Attr.RequestTotalSize)).toBe(false);
    expect(knownAtRequestHeaders(Attr.ResponseCode)).toBe(false);
    expect(knownAtRequestHeaders(Attr.ResponseTotalSize)).toBe(false);
  });

  it("list matching: exact, prefix, whitelist and blacklist", () => {
    const entries: ListEntry[] = [new ListEntry(false, "a.b"), new ListEntry(true, "spiffe://cluster.local/ns/ops/")];
    expect(listed(entries, "a.b")).toBe(true);
    expect(listed(entries, "a.bc")).toBe(false);
    expect(listed(entries, "spiffe://cluster.local/ns/ops/sa/x")).toBe(true);
    expect(listed(entries, "spiffe://cluster.local/ns/opsx")).toBe(false);
    expect(listed(entries, "")).toBe(false);
    const conn = new ConnectionAttributes();
    const r = new RequestAttributes();
    const h = new ListHandler("l");
    h.attr = Attr.RequestHost;
    h.entries = entries;
    r.host = "a.b";
    expect(h.check(conn, r, 0)).toBe(Verdict.Allow);
    r.host = "c";
    expect(h.check(conn, r, 0)).toBe(Verdict.Deny);
    expect(h.body).toBe(listRefusal(Attr.RequestHost, "c", false));
    h.blacklist = true;
    expect(h.check(conn, r, 0)).toBe(Verdict.Allow);
    r.host = "a.b";
    expect(h.check(conn, r, 0)).toBe(Verdict.Deny);
    expect(h.body).toBe("request.host \"a.b\" is blacklisted\n");
  });

  it("quota keys join the attribute values with NUL", () => {
    const conn = new ConnectionAttributes();
    const r = new RequestAttributes();
    r.host = "h";
    r.path = "/p";
    expect(quotaKey([], conn, r)).toBe("");
    expect(quotaKey([Attr.RequestHost, Attr.RequestPath], conn, r)).toBe("h\0/p");
    expect(quotaKey([Attr.RequestHost, Attr.RequestPath], conn, r)).not.toBe(quotaKey([Attr.RequestPath, Attr.RequestHost], conn, r));
  });
});

describe("token bucket arithmetic", () => {
  it("refills whole tokens and keeps the partial remainder", () => {
    // 3 tokens per 1000 ms: one every 333.3 ms.
    const b = new Bucket(0, 1000);
    refill(b, 1300, 3, 1000);
    expect(b.left).toBe(0);
    expect(b.last).toBe(1000);
    refill(b, 1400, 3, 1000);
    expect(b.left).toBe(1);
    expect(b.last).toBe(1333);
    refill(b, 1700, 3, 1000);
    expect(b.left).toBe(2);
    // Capped at the bucket size; time then restarts from now.
    refill(b, 9000, 3, 1000);
    expect(b.left).toBe(3);
    expect(b.last).toBe(9000);
  });

  it("a steady refill over a long run adds tokens at the configured rate", () => {
    const b = new Bucket(0, 0);
    let taken: i64 = 0;
    for (let t: u64 = 1; t <= 100000; t += 7) {
      refill(b, t, 40, 1000);
      if (b.left > 0) {
        b.left--;
        taken++;
      }
    }
    // 100 s at 40 per second.
    expect(taken >= 3999 && taken <= 4000).toBe(true);
  });

  it("time to the next token, and the 16-byte shared value", () => {
    const b = new Bucket(0, 1000);
    expect(msToNextToken(b, 1000, 10, 1000)).toBe(100);
    expect(msToNextToken(b, 1060, 10, 1000)).toBe(40);
    expect(msToNextToken(new Bucket(10, 0), 5, 10, 1000)).toBe(0);
    const d = decodeBucket(encodeBucket(new Bucket(-1, 0x0102030405060708)), 5, 0);
    expect(d.left).toBe(-1);
    expect(d.last).toBe(0x0102030405060708);
    // Absent or foreign values: a full bucket at now.
    const fresh = decodeBucket(new ArrayBuffer(3), 5, 77);
    expect(fresh.left).toBe(5);
    expect(fresh.last).toBe(77);
  });
});
