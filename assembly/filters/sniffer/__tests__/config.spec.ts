import { DEFAULTS, Mode, TargetKind, parseSnifferConfig, protocolFromName } from "../config";
import { Protocol } from "../../../codecs/detect/result";

const PREFIX = "sniffer: invalid configuration: ";

class Bad {
  constructor(public json: string, public error: string) {}
}

// Each bad configuration and the exact error line it must produce.
const BAD: Bad[] = [
  new Bad('{"mode": "sniff"}', '"mode" must be one of route, bypass, observe, found "sniff"'),
  new Bad('{"mode": 1}', '"mode" must be one of route, bypass, observe, found 1'),
  new Bad('{"max_detect_bytes": 0}', '"max_detect_bytes" must be an integer 1..16384, found 0'),
  new Bad('{"max_detect_bytes": 16385}', '"max_detect_bytes" must be an integer 1..16384, found 16385'),
  new Bad('{"max_detect_bytes": 1.5}', '"max_detect_bytes" must be an integer 1..16384, found 1.5'),
  new Bad('{"max_tls_bytes": "big"}', '"max_tls_bytes" must be an integer 1..16384, found "big"'),
  new Bad('{"detect_timeout_ms": -1}', '"detect_timeout_ms" must be an integer 0..3600000, found -1'),
  new Bad('{"stat_prefix": ""}', '"stat_prefix" must be a non-empty string, found ""'),
  new Bad('{"stat_prefix": "a.b"}', "\"stat_prefix\" must contain only letters, digits and '_', found \"a.b\""),
  new Bad('{"routes": []}', '"routes" must be an object mapping protocol → target, found array'),
  new Bad('{"routes": {"redis": 3}}', '"routes.redis" must be a non-empty string, found 3'),
  new Bad('{"routes": {"smtp": "x"}}',
    'unknown protocol "smtp" in "routes" (known: tcp, http/1.1, h2c, tls, dubbo, thrift, redis, postgres, mysql, kafka, mqtt, amqp)'),
  new Bad('{"default_route": ""}', '"default_route" must be a non-empty string, found ""'),
  new Bad('{"passthrough_cluster": null}', '"passthrough_cluster" must be a non-empty string, found null'),
  new Bad('{"allowed_destinations": {}}', '"allowed_destinations" must be an array of {"cidr", "ports"} objects, found object'),
  new Bad('{"allowed_destinations": [1]}', '"allowed_destinations[0]" must be an object with "cidr" and optional "ports", found 1'),
  new Bad('{"allowed_destinations": [{"ports": [1]}]}', '"allowed_destinations[0].cidr" is required'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/33"}]}',
    '"allowed_destinations[0].cidr" must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8, found "10.0.0.0/33"'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "ports": [0]}]}', '"allowed_destinations[0].ports[0]" must be an integer 1..65535, found 0'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "ports": ["9-1"]}]}',
    '"allowed_destinations[0].ports[0]" must be a port 1..65535 or a range "lo-hi", found "9-1"'),
  new Bad('{"allowed_destinations": [{"cidr": "10.0.0.0/8", "port": [1]}]}', 'unknown field "allowed_destinations[0].port"'),
  new Bad('{"statPrefix": "x"}', 'unknown field "statPrefix"'),
  new Bad("[]", "expected a JSON object, found array"),
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
      .toBe(PREFIX + "expected ',' or '}' in object, found end of input at offset 16");
  });

  it("knows every protocol name of the contract", () => {
    expect(protocolFromName("http/1.1")).toBe(<i32>Protocol.Http1);
    expect(protocolFromName("h2c")).toBe(<i32>Protocol.H2);
    expect(protocolFromName("tcp")).toBe(<i32>Protocol.Tcp);
    expect(protocolFromName("amqp")).toBe(<i32>Protocol.Amqp);
    expect(protocolFromName("HTTP/1.1")).toBe(-1);
  });
});
