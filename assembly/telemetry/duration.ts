// The request's duration, read once at the end of the stream: Envoy serves `request.duration`
// from StreamInfo::requestComplete() (envoy source/extensions/filters/common/expr/context.cc,
// RequestWrapper Duration), set by the connection manager before the access logs run, and so
// before on_log (source/common/http/conn_manager_impl.cc doDeferredStreamDestroy:
// completeRequest, then filter_manager_.log). A CEL duration reaches wasm as int64 nanoseconds
// (source/extensions/common/wasm/context.cc serializeValue, kDuration). One host call instead of
// a clock read at each end of the stream.
import { getPropertyBytes } from "../runtime/hostcalls";
import { joinPath } from "../runtime/path";

const P_REQUEST_DURATION: ArrayBuffer = joinPath(["request", "duration"]);

/** Milliseconds from the request headers to the end of the stream; 0 when Envoy has none. */
export function readRequestDurationMs(): u64 {
  const r = getPropertyBytes(P_REQUEST_DURATION);
  if (!r.ok || r.value.byteLength != 8) return 0;
  return durationNsToMs(load<i64>(changetype<usize>(r.value)));
}

/** Whole milliseconds of a `request.duration` in nanoseconds (however it was read); 0 when not positive. */
export function durationNsToMs(ns: i64): u64 {
  return ns > 0 ? <u64>ns / 1000000 : 0;
}
