import { DEFAULTS, Mode, TargetKind, parseSnifferConfig, protocolFromName } from "../config";
import { Protocol } from "../../../codecs/detect/result";
import { RULE_CLUSTER_NAME, RULE_STAT_PREFIX } from "../../../runtime/fields";

const PREFIX = "sniffer: invalid configuration: ";

class Bad {
  constructor(public json: string, public error: string) {}
}

// Each bad configuration and the exact error line it must produce. The field kinds' rules and
// the controller's matching errors are in the shared table (runtime/fields/cases.json).
const BAD: Bad[] = [
  new Bad('{"mode": "sniff"}', '"mode" must be one of observe, route, bypass, found "sniff"'),
  new Bad('{"mode": 1}', '"mode" must be one of observe, route, bypass, found 1'),
  new Bad('{"max_detect_bytes": 0}', '"max_detect_bytes" must be a size in bytes, an integer 1..16384, found 0'),
  new Bad('{"max_detect_bytes": 16385}', '"max_detect_bytes" must be a size in bytes, an integer 1..16384, found 16385'),
  new Bad('{"max_detect_bytes": 1.5}', '"max_detect_bytes" must be a size in bytes, an integer 1..16384, found 1.5'),
  new Bad('{"max_detect_bytes": 18446744073709551616}',
    '"max_detect_bytes" must be a size in bytes, an integer 1..16384, found 18446744073709551616'),
  new Bad('{"max_tls_bytes": "big"}', '"max_tls_bytes" must be a size in bytes, an integer 1..16384, found "big"'),
  new Bad('{"detect_timeout_ms": -1}', '"detect_timeout_ms" must be a duration in milliseconds, an integer 0..3600000, found -1'),
  new Bad('{"detect_timeout_ms": 1e309}', '"detect_timeout_ms" must be a duration in milliseconds, an integer 0..3600000, found 1e309'),
  new Bad('{"stat_prefix": ""}', "\"stat_prefix\" " + RULE_STAT_PREFIX + ', found ""'),
  new Bad('{"stat_prefix": "a-b"}', "\"stat_prefix\" " + RULE_STAT_PREFIX + ', found "a-b"'),
  new Bad('{"routes": []}', '"routes" must be an object mapping protocol names to targets, found array'),
  new Bad('{"routes": {"redis": 3}}', "\"routes.redis\" " + RULE_CLUSTER_NAME + ", found 3"),
  new Bad('{"routes": {"smtp": "x"}}',
    'unknown protocol "smtp" in "routes" (known: tcp, http/1.1, h2c, tls, dubbo, thrift, redis, postgres, mysql, kafka, mqtt, amqp)'),
  new Bad('{"default_route": ""}', "\"default_route\" " + RULE_CLUSTER_NAME + ', found ""'),
  new Bad('{"passthrough_cluster": null}', "\"passthrough_cluster\" " + RULE_CLUSTER_NAME + ", found null"),
  new Bad('{"allowed_destinations": {}}', '"allowed_destinations" must be an array of {"cidr", "ports"} objects, found object'),
  new Bad('{"allowed_destinations": [1]}', '"allowed_destinations[0]" must be an object with "cidr" and optional "ports", found 1'),
  new Bad('{"allowed_destinations": [{"ports": [1]}]}', '"allowed_destinations[0].cidr" is required'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/33"}]}',
    '"allowed_destinations[0].cidr" must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8, found "10.0.0.0/33"'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "ports": [0]}]}',
    '"allowed_destinations[0].ports[0]" must be a port 1..65535 or a range "lo-hi", found 0'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "ports": ["9-1"]}]}',
    '"allowed_destinations[0].ports[0]" must be a port 1..65535 or a range "lo-hi", found "9-1"'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "port": [1]}]}', 'unknown field "allowed_destinations[0].port" (known: cidr, ports)'),
  new Bad('{"statPrefix": "x"}', 'unknown field "statPrefix" (known: mode, max_detect_bytes, max_tls_bytes, detect_timeout_ms, ' +
    'stat_prefix, routes, default_route, passthrough_cluster, allowed_destinations)'),
  new Bad("[]", "expected a JSON object, found array"),
  new Bad("\ufeff{}", "expected a value, found byte order mark (U+FEFF) at byte 0"),
];

describe("sniffer configuration", () => {
  it("uses every default for empty text and {}", () => {
    const texts = ["", "  \n", "{}"];
    for (let i = 0; i < texts.length; i++) {
      const p = parseSnifferConfig(texts[i]);
      expect(p.error).toBe("");
      const c = p.config!;
      expect(c.mode).toBe(DEFAULTS.MODE);
      expect(c.mode).toBe(Mode.Observe);
      expect(c.maxDetectBytes).toBe(64);
      expect(c.maxTlsBytes).toBe(16384);
      expect(c.detectTimeoutMs).toBe(1000);
      expect(c.statPrefix).toBe("sniffer");
      expect(c.passthroughCluster).toBe("PassthroughCluster");
      expect(c.defaultRoute.kind).toBe(TargetKind.Passthrough);
      expect(c.targetFor(Protocol.Redis).cluster).toBe("PassthroughCluster");
      expect(c.allowedDestinations).toBeNull();
    }
  });

  it("reads every field", () => {
    const p = parseSnifferConfig('{"mode": "route", "max_detect_bytes": 32, "max_tls_bytes": 4096, ' +
      '"detect_timeout_ms": 0, "stat_prefix": "edge_1", "routes": {"redis": "redis-c", "tls": "passthrough", ' +
      '"http/1.1": "deny"}, "default_route": "other", "passthrough_cluster": "Orig", ' +
      '"allowed_destinations": [{"cidr": "10.0.0.0/8", "ports": [6379, "8000-8100"]}, {"cidr": "::1"}]}');
    expect(p.error).toBe("");
    const c = p.config!;
    expect(c.mode).toBe(Mode.Route);
    expect(c.maxDetectBytes).toBe(32);
    expect(c.maxTlsBytes).toBe(4096);
    expect(c.detectTimeoutMs).toBe(0);
    expect(c.statPrefix).toBe("edge_1");
    expect(c.targetFor(Protocol.Redis).kind).toBe(TargetKind.Cluster);
    expect(c.targetFor(Protocol.Redis).cluster).toBe("redis-c");
    // passthrough_cluster comes after routes in the text and still applies.
    expect(c.targetFor(Protocol.Tls).kind).toBe(TargetKind.Passthrough);
    expect(c.targetFor(Protocol.Tls).cluster).toBe("Orig");
    expect(c.targetFor(Protocol.Http1).kind).toBe(TargetKind.Deny);
    expect(c.targetFor(Protocol.Tcp).cluster).toBe("other");
    expect(c.targetFor(Protocol.Kafka).cluster).toBe("other");
    const d = c.allowedDestinations!;
    expect(d.length).toBe(2);
    expect(d[0].ports.length).toBe(2);
    expect(d[0].ports[1].lo).toBe(8000);
    expect(d[0].ports[1].hi).toBe(8100);
    expect(d[1].ports.length).toBe(0);
  });

  it("names the bad field", () => {
    for (let i = 0; i < BAD.length; i++) {
      const p = parseSnifferConfig(BAD[i].json);
      expect(p.ok).toBe(false, BAD[i].json);
      expect(p.error).toBe(PREFIX + BAD[i].error, BAD[i].json);
    }
  });

  it("reports malformed JSON with its offset", () => {
    expect(parseSnifferConfig('{"mode": "route"').error)
      .toBe(PREFIX + "expected ',' or '}' in object, found end of input at byte 16");
  });

  it("knows every protocol name of the contract", () => {
    expect(protocolFromName("http/1.1")).toBe(<i32>Protocol.Http1);
    expect(protocolFromName("h2c")).toBe(<i32>Protocol.H2);
    expect(protocolFromName("tcp")).toBe(<i32>Protocol.Tcp);
    expect(protocolFromName("amqp")).toBe(<i32>Protocol.Amqp);
    expect(protocolFromName("HTTP/1.1")).toBe(-1);
  });
});
