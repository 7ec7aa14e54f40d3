import { classifyPtr, finishPtr, SniffState, ClassifyFlags, DEFAULT_CAP } from "../index";
import { Decision, Protocol, protocolName } from "../result";
import { CAPTURES, capture, Capture } from "../../__fixtures__/captures";
import { bytes, ptr, pseudoRandom, text } from "../../__fixtures__/bytes";

class Expect {
  constructor(public name: string, public protocol: Protocol, public flags: u32 = 0) {}
}

// Every committed capture and what it must classify as. A capture missing from this table
// fails the "every capture is listed" test, so new captures cannot go untested.
const EXPECTED: Expect[] = [
  new Expect("amqp091-header", Protocol.Amqp),
  new Expect("dubbo-hessian2-request", Protocol.Dubbo),
  new Expect("grpc-unary", Protocol.H2),
  new Expect("h2c-prior-knowledge", Protocol.H2),
  new Expect("http1-connect", Protocol.Http1),
  new Expect("http1-delete", Protocol.Http1),
  new Expect("http1-get", Protocol.Http1),
  new Expect("http1-head", Protocol.Http1),
  new Expect("http1-mkcalendar", Protocol.Http1),
  new Expect("http1-options", Protocol.Http1),
  new Expect("http1-patch", Protocol.Http1),
  new Expect("http1-post", Protocol.Http1),
  new Expect("http1-propfind", Protocol.Http1),
  new Expect("http1-put", Protocol.Http1),
  new Expect("http1-query", Protocol.Http1),
  new Expect("http1-trace", Protocol.Http1),
  new Expect("http10-get", Protocol.Http1),
  new Expect("kafka-apiversions", Protocol.Kafka),
  new Expect("mqtt-v31-connect", Protocol.Mqtt),
  new Expect("mqtt-v311-connect", Protocol.Mqtt),
  new Expect("mqtt-v5-connect", Protocol.Mqtt),
  new Expect("mysql-handshake-response41", Protocol.Mysql, ClassifyFlags.AfterServerGreeting),
  new Expect("mysql-sslrequest", Protocol.Mysql, ClassifyFlags.AfterServerGreeting),
  new Expect("postgres-sslrequest", Protocol.Postgres),
  new Expect("postgres-startup", Protocol.Postgres),
  new Expect("redis-resp-ioredis", Protocol.Redis),
  new Expect("ssh-banner", Protocol.Tcp),
  new Expect("thrift-buffered-binary", Protocol.Thrift),
  new Expect("thrift-buffered-compact", Protocol.Thrift),
  new Expect("thrift-framed-binary", Protocol.Thrift),
  new Expect("thrift-framed-compact", Protocol.Thrift),
  new Expect("thrift-header-binary", Protocol.Thrift),
  new Expect("tls-no-sni", Protocol.Tls),
  new Expect("tls-sni-alpn-h2", Protocol.Tls),
  new Expect("tls12-sni", Protocol.Tls),
];

function expected(name: string): Expect | null {
  for (let i = 0; i < EXPECTED.length; i++) if (EXPECTED[i].name == name) return EXPECTED[i];
  return null;
}

function run(p: usize, len: i32, cap: i32 = DEFAULT_CAP, flags: u32 = 0): SniffState {
  const st = new SniffState();
  classifyPtr(st, p, len, cap, flags);
  return st;
}

/** The answer once every byte of the capture is in (cap/timeout forced if still undecided). */
function whole(c: Capture, flags: u32): SniffState {
  const st = run(c.ptr, c.length, DEFAULT_CAP, flags);
  finishPtr(st, c.ptr, c.length);
  return st;
}

describe("classify: real captures", () => {
  it("every capture is listed with an expected protocol", () => {
    for (let i = 0; i < CAPTURES.length; i++) {
      expect(expected(CAPTURES[i].name)).not.toBeNull(CAPTURES[i].name);
    }
    expect(CAPTURES.length).toBe(EXPECTED.length);
  });

  it("classifies each capture as its protocol", () => {
    for (let i = 0; i < EXPECTED.length; i++) {
      const e = EXPECTED[i];
      const c = capture(e.name);
      expect(c.length).toBeGreaterThan(0, e.name);
      const st = whole(c, e.flags);
      expect(protocolName(st.protocol)).toBe(protocolName(e.protocol), e.name);
      expect<i32>(st.decision).toBe(e.protocol == Protocol.Tcp ? Decision.NoMatch : Decision.Match, e.name);
      if (e.protocol != Protocol.Tcp) expect(st.complete).toBe(true, e.name);
    }
  });

  it("answers NeedMoreData then the final answer on every prefix (fresh state per prefix)", () => {
    for (let i = 0; i < EXPECTED.length; i++) {
      const e = EXPECTED[i];
      const c = capture(e.name);
      const final = whole(c, e.flags);
      let decidedAt = -1;
      for (let n = 1; n <= c.length; n++) {
        const st = run(c.ptr, n, DEFAULT_CAP, e.flags);
        if (st.decision == Decision.NeedMoreData) {
          expect(decidedAt).toBe(-1, e.name + ": undecided again at " + n.toString());
          continue;
        }
        if (decidedAt < 0) decidedAt = n;
        expect<i32>(st.decision).toBe(final.decision, e.name + " prefix " + n.toString());
        expect(protocolName(st.protocol)).toBe(protocolName(final.protocol), e.name + " prefix " + n.toString());
      }
    }
  });

  it("gives the same answer and details when fed one byte at a time (one state)", () => {
    for (let i = 0; i < EXPECTED.length; i++) {
      const e = EXPECTED[i];
      const c = capture(e.name);
      const final = whole(c, e.flags);
      const st = new SniffState();
      let d = Decision.NeedMoreData;
      for (let n = 1; n <= c.length && d == Decision.NeedMoreData; n++) {
        d = classifyPtr(st, c.ptr, n, DEFAULT_CAP, e.flags);
      }
      if (d == Decision.NeedMoreData) d = finishPtr(st, c.ptr, c.length);
      expect<i32>(d).toBe(final.decision, e.name);
      expect(protocolName(st.protocol)).toBe(protocolName(final.protocol), e.name);
      expect(st.tls.sniOffset).toBe(final.tls.sniOffset, e.name);
      expect(st.tls.alpnLength).toBe(final.tls.alpnLength, e.name);
      expect<i32>(st.thrift.transport).toBe(final.thrift.transport, e.name);
      expect<i32>(st.thrift.protocol).toBe(final.thrift.protocol, e.name);
    }
  });

  it("classifies several captures packed in one buffer by the first", () => {
    for (let i = 0; i < EXPECTED.length; i++) {
      const e = EXPECTED[i];
      if (e.protocol == Protocol.Tcp) continue;
      const next = EXPECTED[(i + 7) % EXPECTED.length];
      const packed = bytes().raw(capture(e.name).bytes).raw(capture(next.name).bytes).raw(capture("http1-get").bytes).build();
      const st = run(ptr(packed), packed.length, DEFAULT_CAP, e.flags);
      finishPtr(st, ptr(packed), packed.length);
      expect(protocolName(st.protocol)).toBe(protocolName(e.protocol), e.name + " + " + next.name);
    }
  });

  it("does not run MySQL without the server-greeting flag", () => {
    const c = capture("mysql-handshake-response41");
    const st = whole(c, 0);
    expect(protocolName(st.protocol)).toBe("tcp");
    expect(st.mysql.needsServerFirstContext).toBe(true);
  });

  it("keeps the decision once made (calls after a decision change nothing)", () => {
    const c = capture("postgres-startup");
    const st = new SniffState();
    expect<i32>(classifyPtr(st, c.ptr, c.length)).toBe(Decision.Match);
    const other = capture("amqp091-header");
    expect<i32>(classifyPtr(st, other.ptr, other.length)).toBe(Decision.Match);
    expect(protocolName(st.protocol)).toBe("postgres");
    st.reset();
    expect<i32>(classifyPtr(st, other.ptr, other.length)).toBe(Decision.Match);
    expect(protocolName(st.protocol)).toBe("amqp");
  });
});

/** Everything a classification leaves in the state, as text, so two states compare in one expect. */
function details(st: SniffState): string {
  const t = st.tls;
  const h = st.http1;
  return protocolName(st.protocol) + " d=" + (<i32>st.decision).toString() + " c=" + (st.complete ? "1" : "0") +
    " at=" + st.decidedAt.toString() + " alive=" + st.alive.toString() +
    " tls=" + t.sniOffset.toString() + "," + t.sniLength.toString() + "," + t.alpnOffset.toString() + "," +
    t.alpnLength.toString() + "," + (t.complete ? "1" : "0") + "," + t.needUntil.toString() + "," +
    t.recordVersion.toString() + "," + t.legacyVersion.toString() + "," + (t.spansRecords ? "1" : "0") +
    " http1=" + h.pos.toString() + "," + h.method.toString() + "," + h.targetOffset.toString() + "," +
    h.targetLength.toString() + "," + h.minor.toString() + "," + (<i32>h.result).toString() + "," +
    h.phase.toString() + "," + h.candidates.toString() +
    " thrift=" + (<i32>st.thrift.transport).toString() + "," + (<i32>st.thrift.protocol).toString() + "," +
    st.thrift.nameOffset.toString() + "," + st.thrift.nameLength.toString() +
    " dubbo=" + st.dubbo.serialization.toString() + "," + st.dubbo.bodyLength.toString() + "," +
    (st.dubbo.twoWay ? "1" : "0") + (st.dubbo.event ? "1" : "0") +
    " redis=" + (<i32>st.redis.kind).toString() + "," + st.redis.count.toString() +
    " pg=" + (<i32>st.postgres.kind).toString() + "," + st.postgres.minor.toString() +
    " mysql=" + (<i32>st.mysql.kind).toString() + "," + st.mysql.capabilities.toString() +
    " kafka=" + st.kafka.apiKey.toString() + "," + st.kafka.apiVersion.toString() +
    " mqtt=" + st.mqtt.level.toString();
}

describe("classify: a reused state (reset between connections)", () => {
  // reset() only restores the infos of detectors that ran; a missed one would leak the previous
  // connection's progress into the next. Every capture after every other, fed whole and byte by
  // byte, must leave exactly what a fresh state leaves.
  it("answers and reports details like a fresh state, whatever ran before", () => {
    const st = new SniffState();
    for (let i = 0; i < EXPECTED.length; i++) {
      for (let j = 0; j < EXPECTED.length; j++) {
        const e = EXPECTED[j];
        const c = capture(e.name);
        const fresh = whole(c, e.flags);
        const before = capture(EXPECTED[i].name);
        st.reset();
        classifyPtr(st, before.ptr, before.length, DEFAULT_CAP, EXPECTED[i].flags);
        finishPtr(st, before.ptr, before.length);
        st.reset();
        let d = Decision.NeedMoreData;
        // Whole after an even-numbered capture, byte by byte after an odd one.
        for (let n = (i & 1) == 0 ? c.length : 1; n <= c.length && d == Decision.NeedMoreData; n++) {
          d = classifyPtr(st, c.ptr, n, DEFAULT_CAP, e.flags);
        }
        if (d == Decision.NeedMoreData) finishPtr(st, c.ptr, c.length);
        const f = new SniffState();
        let g = Decision.NeedMoreData;
        // Whole after an even-numbered capture, byte by byte after an odd one.
        for (let n = (i & 1) == 0 ? c.length : 1; n <= c.length && g == Decision.NeedMoreData; n++) {
          g = classifyPtr(f, c.ptr, n, DEFAULT_CAP, e.flags);
        }
        if (g == Decision.NeedMoreData) finishPtr(f, c.ptr, c.length);
        expect(details(st)).toBe(details(f), EXPECTED[i].name + " then " + e.name);
        expect(protocolName(st.protocol)).toBe(protocolName(fresh.protocol), EXPECTED[i].name + " then " + e.name);
      }
    }
  });

  it("is back to the initial values after reset", () => {
    const st = new SniffState();
    const initial = details(st);
    for (let i = 0; i < EXPECTED.length; i++) {
      const c = capture(EXPECTED[i].name);
      for (let n = 1; n <= c.length; n += 3) classifyPtr(st, c.ptr, n, DEFAULT_CAP, EXPECTED[i].flags);
      finishPtr(st, c.ptr, c.length);
      st.reset();
      expect(details(st)).toBe(initial, EXPECTED[i].name);
    }
  });
});

describe("classify: negatives", () => {
  it("answers tcp for pseudo-random bytes", () => {
    for (let seed: u32 = 1; seed <= 200; seed++) {
      const b = pseudoRandom(seed * 2654435761, 96);
      const st = run(ptr(b), b.length);
      finishPtr(st, ptr(b), b.length);
      expect(protocolName(st.protocol)).toBe("tcp", "seed " + seed.toString());
    }
  });

  it("answers tcp for an SMTP EHLO, an SSH banner and HTTP/0.9", () => {
    const inputs = ["EHLO mail.example.com\r\n", "SSH-2.0-OpenSSH_9.6\r\n", "GET /\r\n", "HELO x\r\n"];
    for (let i = 0; i < inputs.length; i++) {
      const b = text(inputs[i]);
      const st = run(ptr(b), b.length);
      finishPtr(st, ptr(b), b.length);
      expect(protocolName(st.protocol)).toBe("tcp", inputs[i]);
    }
  });

  it("answers NoMatch as soon as all detectors ruled out the bytes", () => {
    const b = text("SSH-2.0-x\r\n");
    // 'S' (SEARCH) and "SS" … no method starts with "SS".
    const st = run(ptr(b), 2);
    expect<i32>(st.decision).toBe(Decision.NoMatch);
  });

  it("does not take an oversized Postgres startup for Postgres (it reads as Kafka Metadata v0)", () => {
    const b = bytes().be32(10001).be32(196608).text("user\0a\0\0").build();
    const st = run(ptr(b), b.length);
    finishPtr(st, ptr(b), b.length);
    expect(protocolName(st.protocol)).toBe("kafka");
    expect(st.kafka.apiKey).toBe(3);
  });

  it("rejects corrupt or oversized lengths", () => {
    const cases: StaticArray<u8>[] = [
      bytes().u8(0x16).u8(3).u8(1).be16(0).zeros(20).build(), // TLS record length 0
      bytes().u8(0x16).u8(3).u8(1).be16(16385).zeros(20).build(), // TLS record too long
      bytes().u8(0x16).u8(3).u8(1).be16(60).u8(2).zeros(20).build(), // handshake type 2
      bytes().be32(8).be32(80877105).build(), // unknown Postgres request code
      bytes().be32(0xfa0001).u8(0x80).u8(1).u8(0).u8(1).zeros(8).build(), // thrift frame too big
      bytes().be32(20).u8(0x80).u8(2).u8(0).u8(1).zeros(8).build(), // thrift version 2
      bytes().be32(20).u8(0x82).u8(0x22).zeros(8).build(), // compact version 2
      bytes().u8(0xda).u8(0xbb).u8(0x02).u8(0).zeros(12).build(), // dubbo response (no request bit)
      bytes().u8(0xda).u8(0xbb).u8(0xc2).u8(0).zeros(8).be32(0x7fffffff).build(), // dubbo body too big
      bytes().be32(200000000).be16(18).be16(3).be32(1).be16(3).text("abc").build(), // kafka size too big
      bytes().be32(30).be16(18).be16(3).be32(1).be16(200).text("abc").build(), // kafka client id longer than request
      bytes().be32(30).be16(900).be16(3).be32(1).be16(3).text("abc").build(), // kafka api key out of range
      bytes().u8(0x10).u8(0xff).u8(0xff).u8(0xff).u8(0xff).u8(0x01).zeros(20).build(), // mqtt 5-byte remaining length
      bytes().u8(0x10).u8(12).be16(4).text("MQTT").u8(9).u8(0).be16(30).build(), // mqtt level 9
      bytes().u8(0x10).u8(12).be16(4).text("MQTT").u8(4).u8(1).be16(30).build(), // mqtt reserved flag
      text("*0\r\n"), // redis empty array
      text("*12345678\r\n$4\r\n"), // redis count too long
      text("AMQP\x00\x01\x00\x00"), // AMQP 1.0
      text("PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n"),
      text("GET  / HTTP/1.1\r\n"), // empty target
      text("GET / HTTP/1.2\r\n"),
      text("get / HTTP/1.1\r\n"), // methods are case-sensitive
    ];
    for (let i = 0; i < cases.length; i++) {
      const b = cases[i];
      const st = run(ptr(b), b.length);
      finishPtr(st, ptr(b), b.length);
      expect(protocolName(st.protocol)).toBe("tcp", "case " + i.toString());
    }
  });
});

describe("classify: cap and timeout", () => {
  it("answers NoMatch when the cap is reached with nothing decidable", () => {
    const b = text("*1234\r\n$4\r\nPING\r\n");
    const capped = run(ptr(b), b.length, 4);
    expect<i32>(capped.decision).toBe(Decision.NoMatch);
    expect(protocolName(capped.protocol)).toBe("tcp");
    const open = run(ptr(b), b.length, DEFAULT_CAP);
    expect(protocolName(open.protocol)).toBe("redis");
  });

  it("keeps NeedMoreData below the cap and decides exactly at it", () => {
    const b = text("*1234\r\n$4\r\nPING\r\n");
    const st = new SniffState();
    expect<i32>(classifyPtr(st, ptr(b), 3, 4)).toBe(Decision.NeedMoreData);
    expect<i32>(classifyPtr(st, ptr(b), 4, 4)).toBe(Decision.NoMatch);
  });

  it("matches HTTP/1 without the version when a long target hits the cap", () => {
    const long = bytes().text("GET /").text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").text(" HTTP/1.1\r\n").build();
    const st = run(ptr(long), long.length);
    expect<i32>(st.decision).toBe(Decision.Match);
    expect(protocolName(st.protocol)).toBe("http/1.1");
    expect(st.complete).toBe(false);
    const full = run(ptr(long), long.length, 256);
    expect(full.complete).toBe(true);
    expect(full.http1.minor).toBe(1);
  });

  it("matches TLS without SNI when tlsCap cuts the ClientHello", () => {
    const c = capture("tls-sni-alpn-h2");
    const st = new SniffState();
    st.tlsCap = 100;
    classifyPtr(st, c.ptr, c.length);
    expect<i32>(st.decision).toBe(Decision.Match);
    expect(protocolName(st.protocol)).toBe("tls");
    expect(st.complete).toBe(false);
    expect(st.tls.sniOffset).toBe(-1);
  });

  it("finish (timeout) decides a plausible prefix, else tcp", () => {
    const http = text("POST /ord");
    const a = run(ptr(http), http.length);
    expect<i32>(a.decision).toBe(Decision.NeedMoreData);
    expect<i32>(finishPtr(a, ptr(http), http.length)).toBe(Decision.Match);
    expect(protocolName(a.protocol)).toBe("http/1.1");
    expect(a.complete).toBe(false);

    const h2 = text("PRI * HT");
    const b = run(ptr(h2), h2.length);
    expect<i32>(b.decision).toBe(Decision.NeedMoreData);
    expect<i32>(finishPtr(b, ptr(h2), h2.length)).toBe(Decision.NoMatch);
    expect(protocolName(b.protocol)).toBe("tcp");
  });

  it("does not match a later protocol while an earlier one is undecided", () => {
    // "HELLO" could still be redis inline; "HE" could be HEAD (http1, earlier in order).
    const b = text("HE");
    const st = run(ptr(b), b.length);
    expect<i32>(st.decision).toBe(Decision.NeedMoreData);
    const hello = text("HELLO 3\r\n");
    const st2 = run(ptr(hello), hello.length);
    expect(protocolName(st2.protocol)).toBe("redis");
  });
});
