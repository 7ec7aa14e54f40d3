import { DecodeStatus } from "../../decoder";
import { DubboDecoder, DubboDecoderOptions, DubboDecodeLevel, DUBBO_STATUS_SERVICE_ERROR, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED } from "../decoder";
import { DUBBO_HEARTBEAT_FRAME_LENGTH, encodeDubboErrorResponse, encodeHeartbeatRequest, hessianStringSize, rewriteAsHeartbeat } from "../encode";
import { dubboFixture } from "../../__fixtures__/dubbo";

function routeDecoder(): DubboDecoder {
  const o = new DubboDecoderOptions();
  o.level = DubboDecodeLevel.Route;
  return new DubboDecoder(o);
}

function sameBytes(a: ArrayBuffer, p: usize, len: i32): bool {
  if (a.byteLength != len) return false;
  return memory.compare(changetype<usize>(a), p, <usize>len) == 0;
}

function repeat(unit: string, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) s += unit;
  return s;
}

/** Messages at every Hessian2 string form's edges: compact (< 32), two-byte (< 1024), 'S', 'R' chunks. */
function messages(): string[] {
  const out: string[] = ["", "x", repeat("a", 31), repeat("a", 32), repeat("b", 1023), repeat("b", 1024), "拒绝 denied 🚀", repeat("c", 65535)];
  // A surrogate pair straddling the first chunk's end: the chunk ends one unit early.
  out.push(repeat("d", 32767) + "🚀" + repeat("e", 10));
  out.push(repeat("f", 70000));
  return out;
}

describe("dubbo encode: error response", () => {
  it("writes what hessian.js writes for a SERVICE_ERROR response", () => {
    const f = dubboFixture("response-service-error");
    const out = encodeDubboErrorResponse(f.id, f.status, f.errorMessage);
    expect(sameBytes(out, f.ptr, f.length)).toBe(true);
  });

  it("decodes back to the same id, status and message for every string form", () => {
    const ms = messages();
    for (let i = 0; i < ms.length; i++) {
      const id: i64 = 0x0102030405060708 + <i64>i;
      const status = i % 2 == 0 ? DUBBO_STATUS_SERVICE_ERROR : DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;
      const out = encodeDubboErrorResponse(id, status, ms[i]);
      expect(out.byteLength).toBe(16 + hessianStringSize(ms[i]), ms[i].length.toString());
      const d = routeDecoder();
      const s = d.decode(changetype<usize>(out), out.byteLength);
      if (s != DecodeStatus.Done) throw new Error("message of " + ms[i].length.toString() + " units: " + d.error);
      const m = d.message;
      expect(m.isRequest).toBe(false);
      expect(m.event).toBe(false);
      expect(m.requestId).toBe(id);
      expect(m.status).toBe(status);
      expect(d.stringOf(m.errorMessage) == ms[i]).toBe(true, "message of " + ms[i].length.toString() + " units");
    }
  });

  it("decodes split at every byte and packed three to a buffer", () => {
    const msg = "拒绝 rate limited by protomesh rule orders";
    const one = encodeDubboErrorResponse(77, DUBBO_STATUS_SERVICE_ERROR, msg);
    const n = one.byteLength;
    const three = new ArrayBuffer(n * 3);
    for (let k = 0; k < 3; k++) memory.copy(changetype<usize>(three) + <usize>(k * n), changetype<usize>(one), <usize>n);
    const p = changetype<usize>(three);
    for (let cut = 0; cut < n * 3; cut++) {
      const d = routeDecoder();
      let frames = 0;
      let s = d.decode(p, cut);
      while (s == DecodeStatus.Done) {
        frames++;
        expect(d.stringOf(d.message.errorMessage)).toBe(msg);
        s = d.decode(p, cut);
      }
      expect<i32>(s).toBe(DecodeStatus.NeedMoreData, "cut " + cut.toString());
      s = d.decode(p, n * 3);
      while (s == DecodeStatus.Done) {
        frames++;
        expect(d.message.requestId).toBe(77);
        expect(d.stringOf(d.message.errorMessage)).toBe(msg);
        s = d.decode(p, n * 3);
      }
      expect(frames).toBe(3, "cut " + cut.toString());
    }
  });
});

describe("dubbo encode: heartbeat rewrite", () => {
  it("encodes the heartbeat request hessian.js encodes", () => {
    const f = dubboFixture("heartbeat-request");
    expect(sameBytes(encodeHeartbeatRequest(f.id), f.ptr, f.length)).toBe(true);
  });

  it("rewrites a request in place into a two-way heartbeat with the same id", () => {
    const names = ["say-hi", "group-version-custom", "no-args-oneway", "cjk"];
    for (let i = 0; i < names.length; i++) {
      const f = dubboFixture(names[i]);
      const copy = new ArrayBuffer(f.length);
      memory.copy(changetype<usize>(copy), f.ptr, <usize>f.length);
      rewriteAsHeartbeat(changetype<usize>(copy));
      const d = routeDecoder();
      expect<i32>(d.decode(changetype<usize>(copy), DUBBO_HEARTBEAT_FRAME_LENGTH)).toBe(DecodeStatus.Done, f.name);
      const m = d.message;
      expect(m.isRequest).toBe(true, f.name);
      expect(m.twoWay).toBe(true, f.name);
      expect(m.event).toBe(true, f.name);
      expect(m.heartbeat).toBe(true, f.name);
      expect(m.requestId).toBe(f.id, f.name);
      expect(d.offset).toBe(DUBBO_HEARTBEAT_FRAME_LENGTH, f.name);
      expect(sameBytes(encodeHeartbeatRequest(f.id), changetype<usize>(copy), DUBBO_HEARTBEAT_FRAME_LENGTH)).toBe(true, f.name);
    }
  });
});
