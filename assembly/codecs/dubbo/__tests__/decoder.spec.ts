import { DecodeStatus } from "../../decoder";
import { DUBBO_STRING_STRIDE, DubboCursor, DubboDecoder, DubboDecoderOptions, DubboDecodeLevel, DubboMessage, DubboState, DubboString, dubboStateName } from "../decoder";
import { DUBBO_FIXTURES, DubboFixture, dubboFixture } from "../../__fixtures__/dubbo";
import { bytes, Bytes, ptr } from "../../__fixtures__/bytes";

function decoder(level: DubboDecodeLevel, maxBody: i32 = 8 * 1024 * 1024): DubboDecoder {
  const o = new DubboDecoderOptions();
  o.level = level;
  o.maxBody = maxBody;
  return new DubboDecoder(o);
}

/** Checks the fields a Done frame exposes at `level` against what hessian.js encoded. */
function check(d: DubboDecoder, f: DubboFixture, level: DubboDecodeLevel): void {
  const m = d.message;
  const n = f.name;
  expect(m.isRequest).toBe(f.request, n);
  expect(m.twoWay).toBe(f.twoWay, n);
  expect(m.event).toBe(f.event, n);
  expect(m.serialization).toBe(f.serialization, n);
  expect(m.requestId).toBe(f.id, n);
  expect(m.bodyLength).toBe(f.length - 16, n);
  if (!f.request) expect(m.status).toBe(f.status, n);
  expect(m.heartbeat).toBe(f.event && (f.heartbeat || level == DubboDecodeLevel.Header || f.serialization != 2), n);
  if (f.serialization != 2) {
    expect(m.hessian2).toBe(false, n);
    return;
  }
  if (level == DubboDecodeLevel.Header || f.event) return;
  if (f.request) {
    expect(d.stringOf(m.dubboVersion)).toBe(f.dubboVersion, n);
    expect(d.stringOf(m.servicePath)).toBe(f.service, n);
    expect(d.stringOf(m.serviceVersion)).toBe(f.version, n);
    expect(d.stringOf(m.method)).toBe(f.method, n);
    expect(d.stringEquals(m.servicePath, f.service)).toBe(true, n);
    expect(d.stringEquals(m.method, f.method)).toBe(true, n);
    expect(d.stringEquals(m.method, f.method + "x")).toBe(false, n);
  } else if (f.status == 20) {
    expect(m.responseType).toBe(f.responseType, n);
    expect(m.isException).toBe(f.responseType == 0 || f.responseType == 3, n);
  } else {
    expect(d.stringOf(m.errorMessage)).toBe(f.errorMessage, n);
  }
  if (level != DubboDecodeLevel.Full) return;
  if (f.request) {
    expect(d.stringOf(m.parameterTypes)).toBe(f.descriptor, n);
    expect(m.argumentCount).toBe(f.args, n);
  }
  expect(m.attachmentCount).toBe(f.attachmentCount, n);
  for (let i = 0; i < f.attachments.length; i += 2) {
    const v = d.attachment(f.attachments[i]);
    expect(v).not.toBeNull(n + " attachment " + f.attachments[i]);
    expect(v!).toBe(f.attachments[i + 1], n + " attachment " + f.attachments[i]);
  }
  expect(d.attachmentIndex("no-such-key")).toBe(-1, n);
}

const LEVELS: DubboDecodeLevel[] = [DubboDecodeLevel.Header, DubboDecodeLevel.Route, DubboDecodeLevel.Full];

/**
 * Every split point for frames up to 4 KiB; for the ~100 KB chunked one (a debug-build decode of
 * it per split point would take minutes): every point in the first and last 256 bytes, where
 * the header, names and attachments' ends are, and every 2039th between.
 */
function splits(len: i32): i32[] {
  const out: i32[] = [];
  for (let k = 0; k < len; k++) {
    if (len <= 4096 || k < 256 || k > len - 256 || k % 2039 == 0) out.push(k);
  }
  return out;
}

/** Growth steps of the byte-at-a-time test: 1 byte, except 97 inside the chunked fixture's middle. */
function step(at: i32, small: i32, total: i32): i32 {
  return at < small + 512 || at > total - 512 ? 1 : 97;
}

describe("dubbo decoder: hessian.js fixtures, whole", () => {
  it("decodes every fixture at every level", () => {
    for (let l = 0; l < LEVELS.length; l++) {
      for (let i = 0; i < DUBBO_FIXTURES.length; i++) {
        const f = DUBBO_FIXTURES[i];
        const d = decoder(LEVELS[l]);
        const s = d.decode(f.ptr, f.length);
        if (s != DecodeStatus.Done) throw new Error(f.name + " level " + l.toString() + ": " + d.error);
        check(d, f, LEVELS[l]);
        // Anything the level did not read is skipped by length; nothing is left but the next header.
        expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.NeedMoreData, f.name);
        expect(d.offset).toBe(f.length, f.name);
        expect<i32>(d.state).toBe(DubboState.Header, f.name);
      }
    }
  });

  it("counts non-Hessian2 frames and handles them by header only", () => {
    const f = dubboFixture("fastjson-request");
    const d = decoder(DubboDecodeLevel.Full);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    expect(d.message.hessian2).toBe(false);
    expect<i32>(d.message.decoded).toBe(DubboDecodeLevel.Header);
    expect(d.nonHessian2Frames).toBe(1);
  });

  it("reads CJK and surrogate pairs in names and attachments", () => {
    const f = dubboFixture("cjk");
    const d = decoder(DubboDecodeLevel.Full);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    expect(d.stringOf(d.message.method)).toBe("说你好");
    expect(d.attachment("租户")!).toBe("组A");
    expect(d.attachment("x-emoji")!).toBe("🚀✓");
  });

  it("reads chunked strings (> 32768 UTF-16 units) in arguments and attachments", () => {
    const f = dubboFixture("chunked");
    const d = decoder(DubboDecodeLevel.Full);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    const note = d.attachment("note")!;
    expect(note.length).toBe(32769);
    expect(note.charCodeAt(32768)).toBe(0x6e);
  });

  it("exposes attachment values that are not strings without decoding them", () => {
    const f = dubboFixture("group-version-custom");
    const d = decoder(DubboDecodeLevel.Full);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    const i = d.attachmentIndex("x-retries");
    expect(i).toBeGreaterThanOrEqual(0);
    expect(d.attachmentIsString(i)).toBe(false);
    expect(d.attachmentValue(i)).toBeNull();
    expect(load<u8>(f.ptr + <usize>d.attachmentValueOffset(i))).toBe(0x93); // int 3
    expect(d.attachment("group")!).toBe("blue");
  });
});

describe("dubbo decoder: split at every byte", () => {
  it("answers NeedMoreData on a prefix, then the same frame on the whole", () => {
    for (let l = 0; l < LEVELS.length; l++) {
      for (let i = 0; i < DUBBO_FIXTURES.length; i++) {
        const f = DUBBO_FIXTURES[i];
        const ks = splits(f.length);
        for (let j = 0; j < ks.length; j++) {
          const k = ks[j];
          const d = decoder(LEVELS[l]);
          const first = d.decode(f.ptr, k);
          let s = first;
          if (first == DecodeStatus.Done) {
            // Header / Route levels finish before the body is complete; fields are already readable.
            check(d, f, LEVELS[l]);
          } else {
            expect<i32>(first).toBe(DecodeStatus.NeedMoreData, f.name + " at " + k.toString());
            s = d.decode(f.ptr, f.length);
            if (s != DecodeStatus.Done) throw new Error(f.name + " split " + k.toString() + ": " + d.error);
            check(d, f, LEVELS[l]);
          }
          expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.NeedMoreData, f.name);
          expect(d.offset).toBe(f.length, f.name);
        }
      }
    }
  });
});

/** Offset of the chunked fixture in pack(). */
function chunkedStart(): i32 {
  let at = 0;
  for (let i = 0; i < DUBBO_FIXTURES.length; i++) {
    if (DUBBO_FIXTURES[i].name == "chunked") return at;
    at += DUBBO_FIXTURES[i].length;
  }
  return at;
}

function pack(): StaticArray<u8> {
  const b = new Bytes();
  for (let i = 0; i < DUBBO_FIXTURES.length; i++) b.raw(DUBBO_FIXTURES[i].bytes);
  return b.build();
}

describe("dubbo decoder: several frames per buffer", () => {
  it("decodes all fixtures packed in one buffer, one Done each", () => {
    const all = pack();
    for (let l = 0; l < LEVELS.length; l++) {
      const d = decoder(LEVELS[l]);
      for (let i = 0; i < DUBBO_FIXTURES.length; i++) {
        const s = d.decode(ptr(all), all.length);
        if (s != DecodeStatus.Done) throw new Error(DUBBO_FIXTURES[i].name + ": " + d.error);
        check(d, DUBBO_FIXTURES[i], LEVELS[l]);
      }
      expect<i32>(d.decode(ptr(all), all.length)).toBe(DecodeStatus.NeedMoreData);
      expect(d.offset).toBe(all.length);
    }
  });

  it("decodes the packed buffer growing one byte at a time", () => {
    const all = pack();
    for (let l = 0; l < LEVELS.length; l++) {
      const d = decoder(LEVELS[l]);
      let next = 0;
      const smallEnd = chunkedStart();
      for (let len = 0; len <= all.length; len += step(len, smallEnd, all.length)) {
        while (true) {
          const s = d.decode(ptr(all), len);
          if (s == DecodeStatus.NeedMoreData) break;
          if (s == DecodeStatus.Error) throw new Error(d.error);
          check(d, DUBBO_FIXTURES[next], LEVELS[l]);
          next++;
        }
      }
      expect(next).toBe(DUBBO_FIXTURES.length);
    }
  });

  it("keeps decoding when the caller drops consumed bytes (discard)", () => {
    const all = pack();
    const d = decoder(DubboDecodeLevel.Full);
    let base = 0;
    let seen = 0;
    while (base < all.length) {
      const s = d.decode(ptr(all) + <usize>base, all.length - base);
      if (s == DecodeStatus.NeedMoreData) break;
      if (s == DecodeStatus.Error) throw new Error(d.error);
      check(d, DUBBO_FIXTURES[seen++], DubboDecodeLevel.Full);
      const consumed = d.offset;
      expect(d.discard(consumed)).toBe(true);
      expect(d.offset).toBe(0);
      base += consumed;
    }
    expect(seen).toBe(DUBBO_FIXTURES.length);
    expect(d.discard(d.offset)).toBe(true);
    expect(d.discard(1)).toBe(false);
  });

  it("skips a large body by length without buffering it (Header level)", () => {
    // 1 MiB body announced, 64 bytes present: Done at the header, then the body is consumed as it streams.
    const head = bytes().u8(0xda).u8(0xbb).u8(0xc2).u8(0).be32(0).be32(5).be32(1 << 20).zeros(64).build();
    const d = decoder(DubboDecodeLevel.Header);
    expect<i32>(d.decode(ptr(head), head.length)).toBe(DecodeStatus.Done);
    expect<i32>(d.decode(ptr(head), head.length)).toBe(DecodeStatus.NeedMoreData);
    expect(d.offset).toBe(head.length);
    expect<i32>(d.state).toBe(DubboState.SkipBody);
    expect(d.discard(head.length)).toBe(true);
  });
});

function header(flags: u32, status: u32, body: i32): Bytes {
  return bytes().u8(0xda).u8(0xbb).u8(flags).u8(status).be32(0).be32(1).be32(<u32>body);
}

function req(b: Bytes): StaticArray<u8> {
  const body = b.build();
  return header(0xc2, 0, body.length).raw(body).build();
}

function s(b: Bytes, text: string): Bytes {
  return b.u8(text.length).text(text);
}

/**
 * A caller as the filter is (assembly/filters/dubbo/index.ts Side): copies at most `window` stream
 * bytes per decode into its own buffer, drops what the decoder consumed, and drops the body bytes
 * `skipUnread` hands over without copying them. Checks every Done frame against `expected`.
 */
class Consumer {
  buf: StaticArray<u8>;
  len: i32 = 0;
  skip: i32 = 0;
  copied: i32 = 0;
  skipped: i32 = 0;
  next: i32 = 0;

  constructor(public d: DubboDecoder, public level: DubboDecodeLevel, public expected: DubboFixture[], public window: i32, capacity: i32) {
    this.buf = new StaticArray<u8>(capacity + window);
  }

  /** One read of `n` stream bytes at `src`. */
  feed(src: usize, n: i32): void {
    const d = this.d;
    let at = 0;
    while (at < n) {
      if (this.skip > 0) {
        const k = min(this.skip, n - at);
        this.skip -= k;
        this.skipped += k;
        at += k;
        continue;
      }
      const k = min(this.window, n - at);
      memory.copy(ptr(this.buf) + <usize>this.len, src + <usize>at, <usize>k);
      this.len += k;
      this.copied += k;
      at += k;
      while (true) {
        const s = d.decode(ptr(this.buf), this.len);
        if (s == DecodeStatus.Error) throw new Error(d.error);
        if (s == DecodeStatus.NeedMoreData) {
          this.skip = d.skipUnread();
          break;
        }
        if (this.next >= this.expected.length) throw new Error("more frames than sent");
        check(d, this.expected[this.next], this.level);
        this.next++;
      }
      const st = d.state;
      const keep = st != DubboState.Header && st != DubboState.SkipBody ? d.message.frameStart : d.offset;
      if (keep == 0) continue;
      memory.copy(ptr(this.buf), ptr(this.buf) + <usize>keep, <usize>(this.len - keep));
      this.len -= keep;
      expect(d.discard(keep)).toBe(true);
    }
  }
}

/** Stream bytes a Route-level caller must copy of `f` at most: through the method, plus one window. */
function fixtureBytes(fs: DubboFixture[]): i32 {
  let n = 0;
  for (let i = 0; i < fs.length; i++) n += fs[i].length;
  return n;
}

/** Body bytes of the frames whose serialization is not Hessian2 (no level reads them). */
function otherBodies(fs: DubboFixture[]): i32 {
  let n = 0;
  for (let i = 0; i < fs.length; i++) if (fs[i].serialization != 2) n += fs[i].length - 16;
  return n;
}

/** A short Hessian2 string (< 32 chars). */
function hs(b: Bytes, text: string): Bytes {
  return b.u8(text.length).text(text);
}

/**
 * A two-way request for com.acme.Greeter.sayHi(byte[]) whose argument is `argBytes` of binary in
 * 64 KiB chunks ('A' … 'B'), then the attachments {path: com.acme.Greeter, x-canary: 1}: a real
 * large body, valid to the end, built straight into one array.
 */
function bigRequest(id: u32, argBytes: i32): StaticArray<u8> {
  const head = hs(hs(hs(hs(hs(bytes(), "2.0.2"), "com.acme.Greeter"), "0.0.0"), "sayHi"), "[B").build();
  const tail = hs(hs(hs(hs(bytes().u8(0x48), "path"), "com.acme.Greeter"), "x-canary"), "1").u8(0x5a).build();
  const chunks = (argBytes + 0xfffe) / 0xffff;
  const body = head.length + argBytes + 3 * (chunks < 1 ? 1 : chunks) + tail.length;
  const out = new StaticArray<u8>(16 + body);
  const h = header(0xc2, 0, body).build();
  memory.copy(ptr(out), ptr(h), 16);
  store<u32>(ptr(out) + 8, bswap<u32>(id));
  let at = 16;
  memory.copy(ptr(out) + <usize>at, ptr(head), <usize>head.length);
  at += head.length;
  let left = argBytes;
  do {
    const n = left > 0xffff ? 0xffff : left;
    left -= n;
    out[at] = left > 0 ? 0x41 : 0x42;
    out[at + 1] = <u8>(n >> 8);
    out[at + 2] = <u8>n;
    at += 3 + n; // the data stays zero
  } while (left > 0);
  memory.copy(ptr(out) + <usize>at, ptr(tail), <usize>tail.length);
  return out;
}

/** What bigRequest(id, n) decodes to at every level. */
function bigFixture(id: u32, argBytes: i32): DubboFixture {
  const f = new DubboFixture();
  f.name = "big " + argBytes.toString();
  f.bytes = bigRequest(id, argBytes);
  f.request = true;
  f.twoWay = true;
  f.serialization = 2;
  f.id = id;
  f.dubboVersion = "2.0.2";
  f.service = "com.acme.Greeter";
  f.version = "0.0.0";
  f.method = "sayHi";
  f.descriptor = "[B";
  f.args = 1;
  f.attachments = ["path", "com.acme.Greeter", "x-canary", "1"];
  f.attachmentCount = 2;
  return f;
}

/** The bytes of `fs` back to back. */
function concat(fs: DubboFixture[]): StaticArray<u8> {
  const out = new StaticArray<u8>(fixtureBytes(fs));
  let at = 0;
  for (let i = 0; i < fs.length; i++) {
    memory.copy(ptr(out) + <usize>at, fs[i].ptr, <usize>fs[i].length);
    at += fs[i].length;
  }
  return out;
}

/** Copy windows: small in the packed test (names split across windows), a read's size in the split test. */
const WINDOW = 64;
const SPLIT_WINDOW = 512;

describe("dubbo decoder: bodies skipped uncopied (skipUnread)", () => {
  it("hands over the rest of a body only in SkipBody, once, and never at Full level", () => {
    const f = bigFixture(3, 100000);
    const route = decoder(DubboDecodeLevel.Route);
    expect(route.skipUnread()).toBe(0, "before any frame");
    expect<i32>(route.decode(f.ptr, 200)).toBe(DecodeStatus.Done, route.error);
    check(route, f, DubboDecodeLevel.Route);
    expect<i32>(route.state).toBe(DubboState.SkipBody, "after the names");
    expect<i32>(route.decode(f.ptr, 200)).toBe(DecodeStatus.NeedMoreData, "the body goes on");
    expect(route.skipUnread()).toBe(f.length - 200);
    expect(route.offset).toBe(200);
    expect(route.skipUnread()).toBe(0, "twice");
    // The caller appends the next frame's bytes right after the 200 it holds.
    const next = dubboFixture("heartbeat-request");
    const both = new StaticArray<u8>(200 + next.length);
    memory.copy(ptr(both), f.ptr, 200);
    memory.copy(ptr(both) + 200, next.ptr, <usize>next.length);
    expect<i32>(route.decode(ptr(both), both.length)).toBe(DecodeStatus.Done, "the next frame");
    check(route, next, DubboDecodeLevel.Route);
    expect(route.offset).toBe(both.length, "all consumed");

    const full = decoder(DubboDecodeLevel.Full);
    expect<i32>(full.decode(f.ptr, 200)).toBe(DecodeStatus.NeedMoreData, "Full waits for the body");
    expect<i32>(full.state).toBe(DubboState.Arguments, "Full waits in Arguments");
    expect(full.skipUnread()).toBe(0, "Full reads the body whole");
    expect<i32>(full.decode(f.ptr, f.length)).toBe(DecodeStatus.Done, full.error);
    check(full, f, DubboDecodeLevel.Full);
  });

  it("decodes every fixture split at every byte, copying no body byte past what the level reads", () => {
    const levels: DubboDecodeLevel[] = [DubboDecodeLevel.Header, DubboDecodeLevel.Route];
    for (let l = 0; l < levels.length; l++) {
      for (let i = 0; i < DUBBO_FIXTURES.length; i++) {
        const f = DUBBO_FIXTURES[i];
        const ks = splits(f.length);
        for (let j = 0; j < ks.length; j++) {
          const k = ks[j];
          const c = new Consumer(decoder(levels[l]), levels[l], [f], SPLIT_WINDOW, f.length);
          c.feed(f.ptr, k);
          c.feed(f.ptr + <usize>k, f.length - k);
          const why = f.name + " split at " + k.toString();
          expect(c.next).toBe(1, why);
          expect(c.copied + c.skipped).toBe(f.length, why);
          expect(c.len).toBe(0, why);
          expect(c.skip).toBe(0, why);
          // A first read ending inside a body: the rest of that body is skipped, never copied.
          if (levels[l] == DubboDecodeLevel.Header && k > 16 && k <= SPLIT_WINDOW && k < f.length) expect(c.skipped).toBe(f.length - k, why);
        }
      }
    }
  });

  it("decodes every fixture packed several per read, at every level, in reads of 1 to 4096 bytes", () => {
    // Reads of a few bytes leave out the ~100 KB chunked fixture (a debug build's minutes).
    const small: DubboFixture[] = [];
    for (let i = 0; i < DUBBO_FIXTURES.length; i++) if (DUBBO_FIXTURES[i].name != "chunked") small.push(DUBBO_FIXTURES[i]);
    const reads: i32[] = [1, 7, 64, 1000, 4096, 1 << 20];
    for (let l = 0; l < LEVELS.length; l++) {
      for (let r = 0; r < reads.length; r++) {
        const fs = reads[r] < 64 ? small : DUBBO_FIXTURES;
        const all = concat(fs);
        const c = new Consumer(decoder(LEVELS[l]), LEVELS[l], fs, WINDOW, all.length);
        for (let at = 0; at < all.length; at += reads[r]) c.feed(ptr(all) + <usize>at, min(reads[r], all.length - at));
        const why = "level " + LEVELS[l].toString() + ", reads of " + reads[r].toString();
        expect(c.next).toBe(fs.length, why);
        expect(c.copied + c.skipped).toBe(all.length, why);
        // Full reads every Hessian2 body whole; another serialization's body is skipped at every level.
        if (LEVELS[l] == DubboDecodeLevel.Full) expect(c.skipped).toBeLessThanOrEqual(otherBodies(fs), why);
        else expect(c.skipped).toBeGreaterThan(otherBodies(fs), why);
      }
    }
  });

  it("skips a 1 MiB body spanning many reads, then decodes the frames behind it in the same read", () => {
    const big = bigFixture(7, 1024 * 1024);
    const small = dubboFixture("group-version-custom");
    const hb = dubboFixture("heartbeat-request");
    const fs: DubboFixture[] = [small, big, hb, big, small];
    const stream = concat(fs);
    const reads: i32[] = [4096, 65536, 100003];
    for (let r = 0; r < reads.length; r++) {
      for (let l = 0; l < LEVELS.length; l++) {
        const level = LEVELS[l];
        const c = new Consumer(decoder(level), level, fs, 16384, level == DubboDecodeLevel.Full ? stream.length : 64 * 1024);
        let n = 0;
        for (let at = 0; at < stream.length; at += reads[r]) {
          c.feed(ptr(stream) + <usize>at, min(reads[r], stream.length - at));
          n++;
        }
        const why = "level " + level.toString() + ", reads of " + reads[r].toString();
        expect(n).toBeGreaterThan(10, why);
        expect(c.next).toBe(fs.length, why);
        expect(c.copied + c.skipped).toBe(stream.length, why);
        if (level == DubboDecodeLevel.Full) {
          expect(c.skipped).toBe(0, why);
        } else {
          // Each big body: at most one window copied; the small frames whole at worst.
          expect(c.copied).toBeLessThanOrEqual(2 * 16384 + small.length * 2 + hb.length + 2 * 16384, why);
          expect(c.skipped).toBeGreaterThan(2 * (big.length - 2 * 16384), why);
        }
      }
    }
  });
});

class ErrorRow {
  constructor(public name: string, public data: StaticArray<u8>, public error: string, public maxBody: i32 = 8 * 1024 * 1024) {}
}

describe("dubbo decoder: malformed frames are errors naming the bad value", () => {
  it("answers Error with the message, and stays failed", () => {
    const deep = s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "Ljava/util/List;");
    for (let i = 0; i < 200; i++) deep.u8(0x57);
    const rows: ErrorRow[] = [
      new ErrorRow("magic", bytes().u8(0xda).u8(0xbc).zeros(14).build(), "dubbo Header: invalid dubbo magic 0xdabc at offset 0"),
      new ErrorRow("body 0", header(0xc2, 0, 0).build(), "dubbo Header: invalid dubbo body length 0"),
      new ErrorRow("body -1", header(0xc2, 0, -1).build(), "dubbo Header: invalid dubbo body length -1"),
      new ErrorRow("body over max", header(0xc2, 0, 200).build(), "dubbo Header: dubbo body length 200 exceeds the limit 100", 100),
      new ErrorRow("body over 8 MiB", header(0xc2, 0, 8 * 1024 * 1024 + 1).build(), "dubbo Header: dubbo body length 8388609 exceeds the limit 8388608"),
      new ErrorRow("serialization 0", header(0xc0, 0, 1).u8(0x4e).build(), "dubbo Header: invalid dubbo serialization id 0"),
      new ErrorRow("response status", header(0x02, 7, 1).u8(0x4e).build(), "dubbo Header: invalid dubbo response status 7"),
      new ErrorRow("descriptor", req(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "Ljava/lang/String")), "dubbo ParameterTypes: invalid dubbo parameter types descriptor \"Ljava/lang/String\" at character 0"),
      new ErrorRow("descriptor char", req(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "IQ")), "dubbo ParameterTypes: invalid dubbo parameter types descriptor \"IQ\" at character 1"),
      new ErrorRow("string past body", req(bytes().u8(0x05).text("2.0")), "dubbo DubboVersion: hessian2 string at offset 16 runs past the end of the data"),
      new ErrorRow("method not a string", req(s(s(s(bytes(), "2.0.2"), "S"), "0").u8(0x90)), "dubbo Method: expected a hessian2 string at offset 26, found tag 0x90"),
      new ErrorRow("missing argument", req(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "II").u8(0x91)), "dubbo Arguments: argument 1: hessian2 value at offset 32 runs past the end of the data"),
      new ErrorRow("bad argument tag", req(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "I").u8(0x40)), "dubbo Arguments: argument 0: invalid hessian2 tag 0x40 at offset 30"),
      new ErrorRow("deep nesting", req(deep), "dubbo Arguments: argument 0: hessian2 nesting deeper than 64 at offset 109"),
      new ErrorRow("attachments not a map", req(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "").u8(0x91)), "dubbo Attachments: expected the attachments map at offset 29, found tag 0x91"),
      new ErrorRow("attachments unterminated", req(s(s(s(s(s(s(bytes(), "2.0.2"), "S"), "0"), "m"), "").u8(0x48), "k")), "dubbo Attachments: attachment value: hessian2 value at offset 32 runs past the end of the data"),
      new ErrorRow("response type", header(0x02, 20, 1).u8(0x99).build(), "dubbo ResponseType: invalid dubbo response type 9"),
    ];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const d = decoder(DubboDecodeLevel.Full, r.maxBody);
      expect<i32>(d.decode(ptr(r.data), r.data.length)).toBe(DecodeStatus.Error, r.name);
      expect(d.error).toBe(r.error, r.name);
      expect<i32>(d.state).toBe(DubboState.Failed, r.name);
      expect<i32>(d.decode(ptr(r.data), r.data.length)).toBe(DecodeStatus.Error, r.name);
    }
  });

  it("caps the attachments kept per request", () => {
    const f = dubboFixture("group-version-custom");
    const o = new DubboDecoderOptions();
    o.maxAttachments = 2;
    const d = new DubboDecoder(o);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Error);
    expect(d.error).toBe("dubbo Attachments: more than 2 attachments");
  });

  it("names every state", () => {
    expect(dubboStateName(DubboState.Header)).toBe("Header");
    expect(dubboStateName(DubboState.ParameterTypes)).toBe("ParameterTypes");
    expect(dubboStateName(DubboState.SkipBody)).toBe("SkipBody");
    expect(dubboStateName(DubboState.Failed)).toBe("Failed");
  });
});

describe("dubbo decoder: unmanaged records", () => {
  it("lay out every field at its own offset inside the record", () => {
    // DubboString: tag, data, bytes, chars (i32) then chunked (bool).
    expect(offsetof<DubboString>("tag")).toBe(0);
    expect(offsetof<DubboString>("data")).toBe(4);
    expect(offsetof<DubboString>("bytes")).toBe(8);
    expect(offsetof<DubboString>("chars")).toBe(12);
    expect(offsetof<DubboString>("chunked")).toBe(16);
    expect(offsetof<DubboString>()).toBeGreaterThanOrEqual(17);
    // The cursor's fields are distinct and inside the record.
    const fields: usize[] = [
      offsetof<DubboCursor>("state"), offsetof<DubboCursor>("offset"), offsetof<DubboCursor>("bodyEnd"),
      offsetof<DubboCursor>("argsLeft"), offsetof<DubboCursor>("p"), offsetof<DubboCursor>("len"),
      offsetof<DubboCursor>("level"), offsetof<DubboCursor>("maxBody"), offsetof<DubboCursor>("nonHessian2Frames"),
      offsetof<DubboCursor>("errCode"), offsetof<DubboCursor>("errValue"), offsetof<DubboCursor>("errAt"),
    ];
    for (let i = 0; i < fields.length; i++) {
      expect(fields[i] + 4).toBeLessThanOrEqual(offsetof<DubboCursor>());
      for (let j = i + 1; j < fields.length; j++) expect(fields[i]).not.toBe(fields[j]);
    }
  });

  it("place the message and its six strings apart inside the decoder's one buffer", () => {
    const d = decoder(DubboDecodeLevel.Full);
    const m = changetype<usize>(d.message);
    const at: usize[] = [
      changetype<usize>(d.message.dubboVersion), changetype<usize>(d.message.servicePath),
      changetype<usize>(d.message.serviceVersion), changetype<usize>(d.message.method),
      changetype<usize>(d.message.parameterTypes), changetype<usize>(d.message.errorMessage),
    ];
    for (let i = 0; i < at.length; i++) {
      expect(at[i]).toBeGreaterThanOrEqual(m + offsetof<DubboMessage>());
      if (i > 0) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(offsetof<DubboString>());
      expect(load<i32>(at[i])).toBe(-1); // every string starts absent
    }
    expect(d.message.responseType).toBe(-1);
  });

  it("lie one stride apart in field order, so a new frame clears all six from the first's address", () => {
    const d = decoder(DubboDecodeLevel.Full);
    const m = d.message;
    const at: usize[] = [
      changetype<usize>(m.dubboVersion), changetype<usize>(m.servicePath), changetype<usize>(m.serviceVersion),
      changetype<usize>(m.method), changetype<usize>(m.parameterTypes), changetype<usize>(m.errorMessage),
    ];
    expect(DUBBO_STRING_STRIDE).toBeGreaterThanOrEqual(offsetof<DubboString>());
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBe(DUBBO_STRING_STRIDE);
    const f = dubboFixture("group-version-custom");
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    expect(m.parameterTypes.present).toBe(true);
    d.reset();
    for (let i = 0; i < at.length; i++) expect(load<i32>(at[i])).toBe(-1);
  });

  it("reads back what the decoder wrote through the records", () => {
    const f = dubboFixture("group-version-custom");
    const d = decoder(DubboDecodeLevel.Route);
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done);
    const s = d.message.servicePath;
    expect(load<i32>(changetype<usize>(s) + offsetof<DubboString>("tag"))).toBe(s.tag);
    expect(load<i32>(changetype<usize>(s) + offsetof<DubboString>("chars"))).toBe(21); // com.acme.OrderService
    expect(d.message.requestId).toBe(0x0102030405060708);
  });
});
