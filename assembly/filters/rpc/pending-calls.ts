// Calls waiting for their answer on one connection, keyed by the protocol's id (Thrift seq id,
// Dubbo request id): when the call started, where it went, and what to do with the answer.
// Pure code.
import { RequestAttributes } from "../../telemetry/request";

/** What the filter does with the answer to a call. */
export const enum Answer {
  /** Let it through and measure it. */
  Pass = 0,
  /** Replace it with our error answer (the call was refused). */
  Replace = 1,
  /** Drop it (a refused call that expects no answer). */
  Drop = 2,
}

export class PendingCall {
  id: i64 = 0;
  startNs: u64 = 0;
  /** Destination label index. */
  dest: i32 = 0;
  answer: Answer = Answer.Pass;
  /** The protocol's outcome (its refusal, a delay). */
  outcome: i32 = 0;
  /** The call's attributes for the telemetry engine, reported when its answer comes. */
  req: RequestAttributes | null = null;
  /** Our error answer's message (Answer.Replace). */
  message: string = "";
  /** Protocol bytes the error answer needs (Thrift: the message name as sent). */
  data: ArrayBuffer = new ArrayBuffer(0);
}

export class PendingCalls {
  calls: PendingCall[] = [];

  /** At most `max` calls: a peer sending calls and never reading answers cannot grow it. */
  constructor(public max: i32) {}

  get size(): i32 {
    return this.calls.length;
  }

  /** A new entry for `id`, or null when the table is full (the call goes unmeasured). */
  add(id: i64, startNs: u64, dest: i32): PendingCall | null {
    if (this.calls.length >= this.max) return null;
    const c = new PendingCall();
    c.id = id;
    c.startNs = startNs;
    c.dest = dest;
    this.calls.push(c);
    return c;
  }

  /** The oldest entry for `id`, left in the table; null when none. */
  find(id: i64): PendingCall | null {
    const i = this.indexOf(id);
    return i < 0 ? null : this.calls[i];
  }

  /** Removes and returns the oldest entry for `id`; null when none. */
  take(id: i64): PendingCall | null {
    const i = this.indexOf(id);
    if (i < 0) return null;
    const c = this.calls[i];
    this.calls.splice(i, 1);
    return c;
  }

  private indexOf(id: i64): i32 {
    for (let i = 0; i < this.calls.length; i++) if (this.calls[i].id == id) return i;
    return -1;
  }
}
