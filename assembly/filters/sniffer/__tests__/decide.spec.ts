import { Protocol } from "../../../codecs/detect/result";
import { SniffState, classify } from "../../../codecs/detect/index";
import { parseSnifferConfig } from "../config";
import {
  Reason, Verdict, classifyReason, clusterFor, debugLine, keepLimit, metricName, tickPeriodMs, ticksToExpire, verdictFor,
} from "../decide";

class Row {
  constructor(public protocol: Protocol, public verdict: Verdict, public cluster: string) {}
}

function bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

describe("sniffer decide", () => {
  it("maps each protocol to its route-mode verdict and cluster", () => {
    const cfg = parseSnifferConfig('{"mode": "route", "routes": {"redis": "r", "tls": "passthrough", "kafka": "deny"}, ' +
      '"default_route": "d", "passthrough_cluster": "P"}').config!;
    const rows: Row[] = [
      new Row(Protocol.Redis, Verdict.Cluster, "r"),
      new Row(Protocol.Tls, Verdict.Passthrough, "P"),
      new Row(Protocol.Kafka, Verdict.Deny, ""),
      new Row(Protocol.Tcp, Verdict.Cluster, "d"),
      new Row(Protocol.Http1, Verdict.Cluster, "d"),
    ];
    for (let i = 0; i < rows.length; i++) {
      expect(verdictFor(cfg, rows[i].protocol)).toBe(rows[i].verdict);
      expect(clusterFor(cfg, rows[i].protocol)).toBe(rows[i].cluster);
    }
  });

  it("observes only, outside route mode", () => {
    const modes = ['{"mode": "observe", "routes": {"redis": "r"}}', '{"mode": "bypass", "routes": {"redis": "deny"}}'];
    for (let i = 0; i < modes.length; i++) {
      const cfg = parseSnifferConfig(modes[i]).config!;
      expect(verdictFor(cfg, Protocol.Redis)).toBe(Verdict.Observe);
      expect(clusterFor(cfg, Protocol.Redis)).toBe("");
    }
  });

  it("tells a match from a cap decision", () => {
    const st = new SniffState();
    const redis = bytes("*1\r\n$4\r\nPING\r\n");
    classify(st, redis, redis.length);
    expect(classifyReason(st)).toBe(Reason.Match);
    st.reset();
    const ssh = bytes("SSH-2.0-OpenSSH_9.6\r\n");
    classify(st, ssh, ssh.length);
    expect(st.protocol).toBe(Protocol.Tcp);
    expect(classifyReason(st)).toBe(Reason.Match);
    st.reset();
    // Kafka-shaped length prefix, cut at a cap of 8: undecided detectors → cap.
    const k = new Uint8Array(12);
    k[3] = 20; k[5] = 3; k[7] = 1;
    classify(st, k, 12, 8);
    expect(st.decided).toBe(true);
    expect(classifyReason(st)).toBe(Reason.Cap);
  });

  it("computes the tick period and expiry ticks", () => {
    expect(tickPeriodMs(0)).toBe(0);
    expect(tickPeriodMs(50)).toBe(50);
    expect(tickPeriodMs(1000)).toBe(100);
    expect(ticksToExpire(0, 100)).toBe(0);
    expect(ticksToExpire(1000, 100)).toBe(11);
    expect(ticksToExpire(300, 100)).toBe(4);
    expect(ticksToExpire(250, 100)).toBe(4);
    expect(ticksToExpire(50, 50)).toBe(2);
  });

  it("keeps TLS bytes only while TLS is alive", () => {
    const cfg = parseSnifferConfig('{"max_detect_bytes": 64, "max_tls_bytes": 2048}').config!;
    // The ClientHello body plus its handshake header and up to 64 record headers.
    expect(keepLimit(cfg, true)).toBe(2048 + 4 + 5 * 64);
    expect(keepLimit(cfg, false)).toBe(64);
    const small = parseSnifferConfig('{"max_detect_bytes": 128, "max_tls_bytes": 100}').config!;
    expect(keepLimit(small, true)).toBe(100 + 4 + 5 * 64);
    const tiny = parseSnifferConfig('{"max_detect_bytes": 1024, "max_tls_bytes": 100}').config!;
    expect(keepLimit(tiny, true)).toBe(1024);
  });

  it("names metrics Istio style and writes the contract's debug line", () => {
    expect(metricName("sniffer", "connections_total", ["protocol", "mode", "action"], ["redis", "route", "cluster"]))
      .toBe("protocol=.=redis;.;mode=.=route;.;action=.=cluster;.;protomesh_sniffer_connections_total");
    expect(metricName("s", "timeouts_total", [], [])).toBe("protomesh_s_timeouts_total");
    expect(debugLine(Protocol.Http1, 78, Reason.Match, Verdict.Cluster))
      .toBe("sniffer: protocol=http/1.1 bytes=78 decision=match action=cluster");
    expect(debugLine(Protocol.Tcp, 0, Reason.Timeout, Verdict.Observe))
      .toBe("sniffer: protocol=tcp bytes=0 decision=timeout action=observe");
  });
});
