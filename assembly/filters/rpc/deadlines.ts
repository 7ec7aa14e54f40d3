// Streams waiting on the clock (a held call's delay, a decode timeout), checked from the root
// context's on_tick, and the way a held network stream is resumed from there.
import { StreamType, WasmResult, continueStream, getCurrentTimeNanoseconds, setEffectiveContext } from "../../runtime";
import { warnFailed } from "./warn";

/** The host clock in milliseconds. */
export function nowMs(): u64 {
  return getCurrentTimeNanoseconds() / 1000000;
}

/** What Deadlines holds: anything with a `dueMs` field (ms of nowMs(); 0 = none). */
export interface HasDeadline {
  dueMs: u64;
}

/**
 * Items waiting for their `dueMs`. Forgetting an item is `item.dueMs = 0`: the next take() drops
 * it, so a closed stream costs no search.
 */
export class Deadlines<T extends HasDeadline> {
  items: T[] = [];

  get size(): i32 {
    return this.items.length;
  }

  /** Sets `item`'s deadline, replacing an earlier one. */
  set(item: T, atMs: u64): void {
    if (item.dueMs == 0) this.items.push(item);
    item.dueMs = atMs;
  }

  /** Removes and returns the items due at `now`, in the order they were set; their dueMs is 0. */
  take(now: u64): T[] {
    const out: T[] = [];
    const items = this.items;
    let k = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const due = it.dueMs;
      if (due == 0) continue;
      if (due <= now) {
        it.dueMs = 0;
        out.push(it);
      } else {
        items[k++] = it;
      }
    }
    items.length = k;
    return out;
  }
}

/**
 * Resumes the downstream data of network stream `contextId`, which a filter stopped
 * (StopIteration from on_downstream_data or on_new_connection), from on_tick: the root context
 * makes the stream the effective context (proxy_set_effective_context; BadArgument once the
 * stream is gone, proxy-wasm-cpp-host src/exports.cc set_effective_context), then
 * proxy_continue_stream(Downstream). Envoy runs that as `continueReading()` on the stream's read
 * filter callbacks after the VM call returns (source/extensions/common/wasm/context.cc,
 * Context::continueStream), and the filter manager resumes at the NEXT filter, handing it the
 * whole connection read buffer (source/common/network/filter_manager_impl.cc,
 * FilterManagerImpl::onContinueReading): our filter's on_downstream_data is not called again for
 * those bytes. False (logged) when the stream is gone or the host refused.
 */
export function resumeDownstream(contextId: u32): bool {
  if (setEffectiveContext(contextId) != WasmResult.Ok) return false;
  const c = continueStream(StreamType.Downstream);
  if (c == WasmResult.Ok) return true;
  warnFailed("continue_stream", c);
  return false;
}
