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
