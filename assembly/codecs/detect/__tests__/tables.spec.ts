// The static tables and packed constants the hot paths use instead of string compares: each is
// checked against the plain definition it replaces, so a typo in a hex constant or a table rule
// fails here rather than as a silent mis-classification.
import { DETECT_ORDER, firstByteCandidates } from "../index";
import { Decision, Protocol, protocolName } from "../result";
import { packLE, prefixWord } from "../bytes";
import { detectTls, TlsInfo } from "../../tls/index";
import { detectH2, H2_PREFACE, H2_PREFACE_W0, H2_PREFACE_W1, H2_PREFACE_W2 } from "../../h2/index";
import {
  detectHttp1, Http1Scan, HTTP_METHODS, HTTP_METHOD_MAX, methodsWithByteAt, VERSION_PREFIX, VERSION_PREFIX_WORD,
} from "../../http1/index";
import { detectAmqp, AMQP091_HEADER, AMQP091_HEADER_WORD } from "../../amqp/index";
import { detectDubbo, DubboInfo } from "../../dubbo/index";
import { detectMqtt, MqttInfo, MQTT_NAME_WORD, MQISDP_NAME_WORD } from "../../mqtt/index";
import { detectThrift, ThriftInfo } from "../../thrift/index";
import { detectPostgres, PostgresInfo } from "../../postgres/index";
import { detectKafka, KafkaInfo } from "../../kafka/index";
import { detectRedis, RedisInfo, INLINE, INLINE_WORDS } from "../../redis/index";
import { detectMysql, MysqlInfo } from "../../mysql/index";
import { text } from "../../__fixtures__/bytes";

/** One detector on a fresh info, as classify would first run it. */
function runFresh(proto: Protocol, p: usize, len: i32): Decision {
  switch (proto) {
    case Protocol.Tls: return detectTls(p, len, new TlsInfo());
    case Protocol.H2: return detectH2(p, len);
    case Protocol.Http1: return detectHttp1(p, len, new Http1Scan());
    case Protocol.Amqp: return detectAmqp(p, len);
    case Protocol.Dubbo: return detectDubbo(p, len, new DubboInfo());
    case Protocol.Mqtt: return detectMqtt(p, len, new MqttInfo());
    case Protocol.Thrift: return detectThrift(p, len, new ThriftInfo());
    case Protocol.Postgres: return detectPostgres(p, len, new PostgresInfo());
    case Protocol.Kafka: return detectKafka(p, len, new KafkaInfo());
    case Protocol.Redis: return detectRedis(p, len, new RedisInfo());
    case Protocol.Mysql: return detectMysql(p, len, new MysqlInfo());
    default: return Decision.NoMatch;
  }
}

/** Little-endian packing of `s` from `from`, at most 8 chars (the layout packLE reads). */
function packText(s: string, from: i32, n: i32): u64 {
  let v: u64 = 0;
  for (let i = 0; i < n; i++) v |= <u64>s.charCodeAt(from + i) << (<u64>i << 3);
  return v;
}

describe("first-byte candidates", () => {
  it("agrees with running every detector on that single byte, for all 256 bytes", () => {
    const one = new StaticArray<u8>(1);
    const p = changetype<usize>(one);
    for (let b = 0; b < 256; b++) {
      one[0] = <u8>b;
      const mask = firstByteCandidates(<u32>b);
      for (let k = 0; k < DETECT_ORDER.length; k++) {
        const proto = DETECT_ORDER[k];
        const alive = runFresh(proto, p, 1) != Decision.NoMatch;
        const inMask = (mask & (<u32>1 << <u32>proto)) != 0;
        expect(inMask).toBe(alive, protocolName(proto) + " byte " + b.toString());
      }
    }
  });

  it("names only detectors in DETECT_ORDER", () => {
    let all: u32 = 0;
    for (let k = 0; k < DETECT_ORDER.length; k++) all |= <u32>1 << <u32>DETECT_ORDER[k];
    for (let b: u32 = 0; b < 256; b++) expect(firstByteCandidates(b) & ~all).toBe(0, b.toString());
  });
});

describe("HTTP/1 method tables", () => {
  it("methodsWithByteAt is the set of methods longer than i with that byte at i", () => {
    for (let i = 0; i <= HTTP_METHOD_MAX; i++) {
      for (let b: u32 = 0; b < 256; b++) {
        let want: u64 = 0;
        for (let m = 0; m < HTTP_METHODS.length; m++) {
          const name = HTTP_METHODS[m];
          if (name.length > i && <u32>name.charCodeAt(i) == b) want |= <u64>1 << <u64>m;
        }
        expect(methodsWithByteAt(i, b)).toBe(want, i.toString() + "/" + b.toString());
      }
    }
  });

  it("HTTP_METHOD_MAX is the longest method name", () => {
    let longest = 0;
    for (let m = 0; m < HTTP_METHODS.length; m++) if (HTTP_METHODS[m].length > longest) longest = HTTP_METHODS[m].length;
    expect(HTTP_METHOD_MAX).toBe(longest);
    expect(HTTP_METHODS.length).toBeLessThanOrEqual(64);
  });

  it("VERSION_PREFIX_WORD spells VERSION_PREFIX", () => {
    expect(VERSION_PREFIX_WORD).toBe(packText(VERSION_PREFIX, 0, VERSION_PREFIX.length));
  });
});

describe("packed literals", () => {
  it("h2 preface words spell H2_PREFACE", () => {
    expect(H2_PREFACE.length).toBe(24);
    expect(H2_PREFACE_W0).toBe(packText(H2_PREFACE, 0, 8));
    expect(H2_PREFACE_W1).toBe(packText(H2_PREFACE, 8, 8));
    expect(H2_PREFACE_W2).toBe(packText(H2_PREFACE, 16, 8));
  });

  it("AMQP and MQTT words spell their literals", () => {
    expect(AMQP091_HEADER_WORD).toBe(packText(AMQP091_HEADER, 0, 8));
    expect(MQTT_NAME_WORD).toBe(packText("MQTT", 0, 4));
    expect(MQISDP_NAME_WORD).toBe(packText("MQIsdp", 0, 6));
  });

  it("Redis inline words spell INLINE, in order", () => {
    expect(INLINE_WORDS.length).toBe(INLINE.length);
    for (let k = 0; k < INLINE.length; k++) {
      expect(INLINE_WORDS[k]).toBe(packText(INLINE[k], 0, INLINE[k].length), INLINE[k]);
    }
  });

  it("packLE and prefixWord read only the available bytes", () => {
    const t = text("HTTP/1.1");
    const p = changetype<usize>(t);
    expect(packLE(p, 0, 8)).toBe(packText("HTTP/1.1", 0, 8));
    expect(packLE(p, 2, 3)).toBe(packText("TP/", 0, 3));
    expect(packLE(p, 0, 0)).toBe(0);
    expect(prefixWord(p, 3, 0, VERSION_PREFIX_WORD, 7)).toBe(3);
    expect(prefixWord(p, 8, 0, VERSION_PREFIX_WORD, 7)).toBe(7);
    expect(prefixWord(p, 8, 1, VERSION_PREFIX_WORD, 7)).toBe(-1);
    expect(prefixWord(p, 0, 0, VERSION_PREFIX_WORD, 7)).toBe(0);
    expect(prefixWord(p, 2, 4, VERSION_PREFIX_WORD, 7)).toBe(0);
  });
});
