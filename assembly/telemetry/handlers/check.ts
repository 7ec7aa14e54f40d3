// Check handlers (denier, list, memquota) decide at request headers, with the attributes known
// then, instead of reporting at the end of the stream. A refusal is a local reply
// (proxy_send_local_response) the filter sends with the handler's status, body and headers.
//
// Their counters (reports, allowed, denied / limited, failures, sampled_out, key_overflow) are
// summed in the VM and written on tick with the prometheus handler's batch (../batch.ts), so a
// checked request makes no metric host call.
import { HeaderPair } from "../../runtime/pairs";
import { PendingCounters } from "../batch";
import { RequestAttributes } from "../request";
import { ConnectionAttributes, Handler } from "./handler";

export enum Verdict {
  Allow = 0,
  Deny = 1,
  /** The handler could not decide (memquota: shared data); its fail_open decides. */
  Failed = 2,
}

export class CheckHandler extends Handler {
  // The local reply of the last Deny (a VM runs one callback at a time).
  status: u32 = 403;
  details: string = "";
  body: string = "";
  headers: HeaderPair[] = [];
  // Host metric ids, set by the filter.
  allowedId: u32 = 0;
  deniedId: u32 = 0;
  /** The filter's batched counters, written on tick (set by the filter before the first check). */
  counters: PendingCounters = new PendingCounters();

  /** Adds 1 to counter `id`, written at the next flush. */
  count(id: u32): void {
    this.counters.add(id, 1);
  }

  /** Decides one request at request headers. */
  check(conn: ConnectionAttributes, r: RequestAttributes, nowMs: u64): Verdict {
    return Verdict.Allow;
  }

  /** Word of the refusal counter: `denied`, memquota `limited`. */
  deniedWord(): string {
    return "denied";
  }
}
