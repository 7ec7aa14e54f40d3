import { PROTOCOL_COUNT, Protocol } from "../../../codecs/detect/result";
import { Verdict } from "../decide";
import {
  ProtocolRecords, RECORD_ARGS_LEN, RECORD_ARGS_PTR, RECORD_METRIC, RECORD_PROTOCOL_LEN, RECORD_PROTOCOL_PTR,
  RECORD_SHIFT, RECORD_USED, RECORD_VERDICT, recordArgsLen, recordArgsPtr, recordAt, recordMetric,
  recordProtocolLen, recordProtocolPtr, recordVerdict,
} from "../records";

function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

describe("sniffer protocol records", () => {
  it("lays the fields out in order, aligned, without overlap, inside one stride", () => {
    const w = sizeof<usize>();
    expect(RECORD_PROTOCOL_PTR).toBe(0);
    expect(RECORD_PROTOCOL_LEN).toBe(w);
    expect(RECORD_ARGS_PTR).toBe(2 * w);
    expect(RECORD_ARGS_LEN).toBe(3 * w);
    expect(RECORD_METRIC).toBeGreaterThanOrEqual(4 * w);
    expect(RECORD_METRIC % 8).toBe(0);
    expect(RECORD_VERDICT).toBeGreaterThanOrEqual(RECORD_METRIC + 8);
    expect(RECORD_USED).toBeGreaterThanOrEqual(RECORD_VERDICT + 4);
    expect(RECORD_USED).toBeLessThanOrEqual(<usize>1 << RECORD_SHIFT);
  });

  it("reads back what the writer stored, for every protocol, without touching its neighbours", () => {
    const t = new ProtocolRecords();
    const names = new Array<ArrayBuffer>(PROTOCOL_COUNT);
    const args = new Array<ArrayBuffer>(PROTOCOL_COUNT);
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      names[i] = bytes("p" + i.toString());
      // Every third protocol writes no filter state (empty arguments).
      args[i] = i % 3 == 0 ? new ArrayBuffer(0) : bytes("args-" + i.toString());
      t.write(<Protocol>i, names[i], args[i], <i64>(i * 1000 + 7) - 3000, <Verdict>(i % 4));
    }
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const e = recordAt(t.base, <Protocol>i);
      expect(e).toBe(t.base + (<usize>i << RECORD_SHIFT));
      expect(recordProtocolPtr(e)).toBe(changetype<usize>(names[i]));
      expect(recordProtocolLen(e)).toBe(<usize>names[i].byteLength);
      expect(recordArgsPtr(e)).toBe(changetype<usize>(args[i]));
      expect(recordArgsLen(e)).toBe(<usize>args[i].byteLength);
      expect(recordMetric(e)).toBe(<i64>(i * 1000 + 7) - 3000);
      expect(<i32>recordVerdict(e)).toBe(i % 4);
    }
  });

  it("rewrites a record in place for a new configuration", () => {
    const t = new ProtocolRecords();
    const base = t.base;
    t.write(Protocol.Redis, bytes("redis"), bytes("a"), 1, Verdict.Cluster);
    t.write(Protocol.Redis, bytes("redis"), new ArrayBuffer(0), -1, Verdict.Deny);
    expect(t.base).toBe(base);
    const e = recordAt(t.base, Protocol.Redis);
    expect(recordArgsLen(e)).toBe(0);
    expect(recordMetric(e)).toBe(-1);
    expect(recordVerdict(e)).toBe(Verdict.Deny);
  });
});
