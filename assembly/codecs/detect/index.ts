// Ordered protocol classification over the first bytes of a connection.
//
// `classify` runs every enabled detector over the same bytes and answers
//   - Match for the first detector (in DETECT_ORDER) that matches, provided no detector before
//     it is still undecided (so a prefix never matches a different protocol than the whole);
//   - NeedMoreData while some detector is undecided and its byte cap is not reached;
//   - NoMatch (protocol Tcp) when every detector ruled the bytes out, or the cap was reached
//     with nothing better than a partial answer (see `finish`).
// The state remembers which detectors already answered NoMatch and each detector's progress,
// so calling again as bytes arrive does not redo decided work. Once decided, the answer sticks.
//
// No allocation happens in classify/finish: SniffState and its per-protocol infos are
// allocated once per connection (or reused via reset()).
import { Decision, Protocol } from "./result";
import { detectHttp1, Http1Scan, methodsWithByteAt } from "../http1/index";
import { detectH2 } from "../h2/index";
import { detectTls, TlsInfo, TLS_MAX_CLIENT_HELLO, tlsWireLimit } from "../tls/index";
import { detectDubbo, DubboInfo } from "../dubbo/index";
import { detectThrift, ThriftInfo } from "../thrift/index";
import { detectRedis, RedisInfo } from "../redis/index";
import { detectPostgres, PostgresInfo } from "../postgres/index";
import { detectMysql, MysqlInfo } from "../mysql/index";
import { detectKafka, KafkaInfo } from "../kafka/index";
import { detectMqtt, MqttInfo } from "../mqtt/index";
import { detectAmqp } from "../amqp/index";

export { Decision, Protocol, protocolName, decisionName } from "./result";

/** Default byte cap for every detector except TLS (see SniffState.tlsCap). */
export const DEFAULT_CAP: i32 = 64;

export const enum ClassifyFlags {
  None = 0,
  /**
   * The server spoke first (its greeting was seen): also run detectors whose bytes only mean
   * something as a reply to a greeting (MySQL).
   */
  AfterServerGreeting = 1,
}

/**
 * Detector order. Magic-number protocols come first; weakly-identified ones (Kafka, Redis
 * inline, MySQL) last, so they never win against a stronger claim on the same prefix.
 * Postgres precedes Kafka: a Kafka Metadata header (api_key 3, version n) reads as
 * protocol "3.n", and Postgres tells them apart by its parameter name.
 */
export const DETECT_ORDER: StaticArray<Protocol> = [
  Protocol.Tls,
  Protocol.H2,
  Protocol.Http1,
  Protocol.Amqp,
  Protocol.Dubbo,
  Protocol.Mqtt,
  Protocol.Thrift,
  Protocol.Postgres,
  Protocol.Kafka,
  Protocol.Redis,
  Protocol.Mysql,
];

@inline function bit(p: Protocol): u32 {
  return <u32>1 << <u32>p;
}

export const CLIENT_FIRST_DETECTORS: u32 =
  bit(Protocol.Tls) | bit(Protocol.H2) | bit(Protocol.Http1) | bit(Protocol.Amqp) |
  bit(Protocol.Dubbo) | bit(Protocol.Mqtt) | bit(Protocol.Thrift) | bit(Protocol.Postgres) |
  bit(Protocol.Kafka) | bit(Protocol.Redis);

/**
 * Which detectors can still match given only the first byte (bit = 1 << Protocol). A detector
 * that answers NoMatch on its first byte answers NoMatch on every longer buffer starting with
 * it (fragmentation stability), so classify drops the others before running anything: most
 * detectors die on byte 0, and not calling them is cheaper than any early exit inside them.
 * The spec checks every entry against running each detector on that single byte.
 */
export function firstByteCandidates(b: u32): u32 {
  let m: u32 = bit(Protocol.Mysql); // its first check needs 4 bytes
  if (b == 0x16) m |= bit(Protocol.Tls);
  if (b == 0x50) m |= bit(Protocol.H2); // 'P'
  if (methodsWithByteAt(0, b) != 0) m |= bit(Protocol.Http1);
  if (b == 0x41) m |= bit(Protocol.Amqp); // 'A'
  if (b == 0xda) m |= bit(Protocol.Dubbo);
  if (b == 0x10) m |= bit(Protocol.Mqtt);
  if (b == 0x00 || b == 0x80 || b == 0x82) m |= bit(Protocol.Thrift);
  if (b == 0x00) m |= bit(Protocol.Postgres);
  if (b <= 0x06) m |= bit(Protocol.Kafka);
  // '*' (RESP array) or the first letter of an inline command, either case.
  const u = b & 0xdf;
  if (b == 0x2a || u == 0x50 || u == 0x49 || u == 0x41 || u == 0x48 || u == 0x51 || u == 0x45) {
    m |= bit(Protocol.Redis);
  }
  return m;
}

/** firstByteCandidates for every byte, computed once at start-up. */
const FIRST_BYTE_CANDIDATES = new StaticArray<u32>(256);
for (let b: u32 = 0; b < 256; b++) FIRST_BYTE_CANDIDATES[b] = firstByteCandidates(b);

export class SniffState {
  /** Detectors still in the running (bit = 1 << Protocol). 0 before the first call. */
  alive: u32 = 0;
  /** Detectors the caller enabled; CLIENT_FIRST_DETECTORS unless changed before the first call. */
  enabled: u32 = CLIENT_FIRST_DETECTORS;
  started: bool = false;
  decision: Decision = Decision.NeedMoreData;
  protocol: Protocol = Protocol.Tcp;
  /**
   * True when the match was made on the full evidence; false when the cap or a timeout forced
   * a "plausible" answer (HTTP/1 with method and target start, TLS with a valid header).
   */
  complete: bool = false;
  /** Bytes the decision was based on. */
  decidedAt: i32 = 0;
  /**
   * Largest ClientHello body TLS reads (to reach SNI/ALPN) even when cap is smaller; the wire
   * bytes it may take (record and handshake headers) are tlsWireLimit(tlsCap).
   */
  tlsCap: i32 = TLS_MAX_CLIENT_HELLO;
  /**
   * Detectors that ran since the last reset (bit = 1 << Protocol): only their infos can differ
   * from the reset values, so reset() skips the others. A classification usually stops at the
   * first detectors in DETECT_ORDER, which makes reset a few stores instead of all infos'.
   */
  touched: u32 = u32.MAX_VALUE;

  readonly http1: Http1Scan = new Http1Scan();
  readonly tls: TlsInfo = new TlsInfo();
  readonly dubbo: DubboInfo = new DubboInfo();
  readonly thrift: ThriftInfo = new ThriftInfo();
  readonly redis: RedisInfo = new RedisInfo();
  readonly postgres: PostgresInfo = new PostgresInfo();
  readonly mysql: MysqlInfo = new MysqlInfo();
  readonly kafka: KafkaInfo = new KafkaInfo();
  readonly mqtt: MqttInfo = new MqttInfo();

  /** Makes the state ready for a new connection (keeps `enabled` and `tlsCap`). */
  reset(): void {
    this.alive = 0;
    this.started = false;
    this.decision = Decision.NeedMoreData;
    this.protocol = Protocol.Tcp;
    this.complete = false;
    this.decidedAt = 0;
    const t = this.touched;
    if (t == 0) return;
    this.touched = 0;
    if ((t & bit(Protocol.Http1)) != 0) this.http1.reset();
    if ((t & bit(Protocol.Tls)) != 0) this.tls.reset();
    if ((t & bit(Protocol.Dubbo)) != 0) this.dubbo.reset();
    if ((t & bit(Protocol.Thrift)) != 0) this.thrift.reset();
    if ((t & bit(Protocol.Redis)) != 0) this.redis.reset();
    if ((t & bit(Protocol.Postgres)) != 0) this.postgres.reset();
    if ((t & bit(Protocol.Mysql)) != 0) this.mysql.reset();
    if ((t & bit(Protocol.Kafka)) != 0) this.kafka.reset();
    if ((t & bit(Protocol.Mqtt)) != 0) this.mqtt.reset();
  }

  /** Records that `proto`'s detector is about to run (and may change its info). */
  @inline touch(proto: Protocol): void {
    this.touched |= bit(proto);
  }

  get decided(): bool {
    return this.decision != Decision.NeedMoreData;
  }
}

function runDetector(st: SniffState, proto: Protocol, p: usize, len: i32): Decision {
  switch (proto) {
    case Protocol.Tls: return detectTls(p, len, st.tls, st.tlsCap);
    case Protocol.H2: return detectH2(p, len);
    case Protocol.Http1: return detectHttp1(p, len, st.http1);
    case Protocol.Amqp: return detectAmqp(p, len);
    case Protocol.Dubbo: return detectDubbo(p, len, st.dubbo);
    case Protocol.Mqtt: return detectMqtt(p, len, st.mqtt);
    case Protocol.Thrift: return detectThrift(p, len, st.thrift);
    case Protocol.Postgres: return detectPostgres(p, len, st.postgres);
    case Protocol.Kafka: return detectKafka(p, len, st.kafka);
    case Protocol.Redis: return detectRedis(p, len, st.redis);
    case Protocol.Mysql: return detectMysql(p, len, st.mysql);
    default: return Decision.NoMatch;
  }
}

@inline function decide(st: SniffState, d: Decision, proto: Protocol, complete: bool, at: i32): Decision {
  st.decision = d;
  st.protocol = d == Decision.Match ? proto : Protocol.Tcp;
  st.complete = complete;
  st.decidedAt = at;
  return d;
}

/**
 * Classifies the first `len` bytes at `p` (a stable, growing buffer: each call sees the same
 * bytes as before plus maybe more). `cap` bounds how many bytes any detector but TLS may read.
 * `flags` (ClassifyFlags) is read on the first call only.
 */
export function classifyPtr(st: SniffState, p: usize, len: i32, cap: i32 = DEFAULT_CAP, flags: u32 = 0): Decision {
  if (st.decision != Decision.NeedMoreData) return st.decision;
  if (!st.started) {
    st.started = true;
    st.alive = st.enabled | ((flags & ClassifyFlags.AfterServerGreeting) != 0 ? bit(Protocol.Mysql) : 0);
  }
  if (cap < 1) cap = 1;
  const n = len < cap ? len : cap;
  const tlsWire = tlsWireLimit(st.tlsCap);
  const tlsCap = tlsWire > cap ? tlsWire : cap;
  const nTls = len < tlsCap ? len : tlsCap;
  // State lives in locals for the loop and is stored once: each field access on a managed
  // object costs a shadow-stack store in AssemblyScript's output.
  let alive = st.alive;
  if (len >= 1) alive &= unchecked(FIRST_BYTE_CANDIDATES[load<u8>(p)]);
  let todo = alive;
  let touched: u32 = 0;
  let pendingBefore = false;
  let pendingWithinCap = false;
  for (let k = 0; k < DETECT_ORDER.length && todo != 0; k++) {
    const proto = unchecked(DETECT_ORDER[k]);
    const b = bit(proto);
    if ((todo & b) == 0) continue;
    todo &= ~b;
    const view = proto == Protocol.Tls ? nTls : n;
    touched |= b;
    const d = runDetector(st, proto, p, view);
    if (d == Decision.NoMatch) {
      alive &= ~b;
    } else if (d == Decision.Match) {
      if (!pendingBefore) {
        st.alive = alive;
        st.touched |= touched;
        // A TLS hello over the cap is TLS without SNI/ALPN (complete=false).
        return decide(st, Decision.Match, proto, proto == Protocol.Tls ? st.tls.complete : true, view);
      }
    } else {
      pendingBefore = true;
      const limit = proto == Protocol.Tls ? tlsCap : cap;
      if (len < limit) pendingWithinCap = true;
    }
  }
  st.alive = alive;
  st.touched |= touched;
  if (alive == 0) return decide(st, Decision.NoMatch, Protocol.Tcp, true, n);
  if (pendingWithinCap) return Decision.NeedMoreData;
  return finishPtr(st, p, len);
}

/**
 * Forces a decision now: the cap was reached, the sniffer's timeout fired, or the peer
 * half-closed. The first still-undecided detector (in order) that has a plausible partial
 * answer wins with complete=false — HTTP/1 after method, SP and the first target byte; TLS
 * after a valid record + handshake header — otherwise NoMatch → tcp. A detector that already
 * matched (behind an undecided one) wins too.
 */
export function finishPtr(st: SniffState, p: usize, len: i32): Decision {
  if (st.decision != Decision.NeedMoreData) return st.decision;
  if (!st.started) return decide(st, Decision.NoMatch, Protocol.Tcp, true, 0);
  for (let k = 0; k < DETECT_ORDER.length; k++) {
    const proto = unchecked(DETECT_ORDER[k]);
    if ((st.alive & bit(proto)) == 0) continue;
    if (proto == Protocol.Tls) {
      const wire = tlsWireLimit(st.tlsCap);
      const view = len < wire ? len : wire;
      st.touch(proto);
      const d = detectTls(p, view, st.tls, st.tlsCap);
      if (d == Decision.Match) return decide(st, Decision.Match, proto, st.tls.complete, view);
      if (d == Decision.NeedMoreData && st.tls.plausible) {
        return decide(st, Decision.Match, proto, false, view);
      }
      continue;
    }
    if (proto == Protocol.Http1) {
      if (st.http1.result == Decision.Match) return decide(st, Decision.Match, proto, true, st.http1.pos);
      if (st.http1.result == Decision.NeedMoreData && st.http1.plausible) {
        return decide(st, Decision.Match, proto, false, st.http1.pos);
      }
      continue;
    }
  }
  return decide(st, Decision.NoMatch, Protocol.Tcp, true, len);
}

/** classifyPtr over a Uint8Array (len is clamped to the array). */
export function classify(st: SniffState, buf: Uint8Array, len: i32, cap: i32 = DEFAULT_CAP, flags: u32 = 0): Decision {
  if (len > buf.length) len = buf.length;
  return classifyPtr(st, buf.dataStart, len, cap, flags);
}

export function finish(st: SniffState, buf: Uint8Array, len: i32): Decision {
  if (len > buf.length) len = buf.length;
  return finishPtr(st, buf.dataStart, len);
}
