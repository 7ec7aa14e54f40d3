// Envoy's response flags as Istio prints them in the `response_flags` label: Envoy's short codes
// (UH, UF, NR, URX, …) comma-joined, `-` when none (istio/proxy
// source/extensions/filters/http/istio_stats/istio_stats.cc, populateFlagsAndConnectionSecurity:
// StreamInfo::ResponseFlagUtils::toShortString).
//
// A wasm filter reads them as the `response.flags` property: Envoy's ResponseWrapper answers
// `CelValue::CreateInt64(info_.legacyResponseFlags())` (envoy
// source/extensions/filters/common/expr/context.cc), serialised as 8 little-endian bytes
// (source/extensions/common/wasm/context.cc serializeValue). legacyResponseFlags
// (source/common/stream_info/stream_info_impl.h) sets bit `1 << flag` for every core flag
// (CoreResponseFlag, envoy/stream_info/stream_info.h) and leaves out flags that extensions
// register at run time (REGISTER_CUSTOM_RESPONSE_FLAG, values above LastFlag).
//
// Order: since the extendable flags (Envoy 1.30) toShortString lists the flags in the order they
// were set (source/common/stream_info/utility.cc, ResponseFlagUtils::toString iterates
// stream_info.responseFlags()); a bit set does not carry that order, so several flags are listed
// in bit order (the CoreResponseFlag order, which is also how Envoy printed them before 1.30).
// One flag, by far the common case, prints exactly as Envoy prints it.
import { getPropertyBytes } from "../runtime/hostcalls";
import { joinPath } from "../runtime/path";

/**
 * Short codes by CoreResponseFlag value (envoy/stream_info/stream_info.h; short strings from
 * source/common/stream_info/utility.h CORE_RESPONSE_FLAGS). The same 30 flags in Envoy 1.37,
 * 1.38 and 1.39 (Istio 1.29–1.31); LastFlag = UnconditionalDropOverload (29).
 */
export const RESPONSE_FLAG_CODES: string[] = [
  "LH", // FailedLocalHealthCheck
  "UH", // NoHealthyUpstream
  "UT", // UpstreamRequestTimeout
  "LR", // LocalReset
  "UR", // UpstreamRemoteReset
  "UF", // UpstreamConnectionFailure
  "UC", // UpstreamConnectionTermination
  "UO", // UpstreamOverflow
  "NR", // NoRouteFound
  "DI", // DelayInjected
  "FI", // FaultInjected
  "RL", // RateLimited
  "UAEX", // UnauthorizedExternalService
  "RLSE", // RateLimitServiceError
  "DC", // DownstreamConnectionTermination
  "URX", // UpstreamRetryLimitExceeded
  "SI", // StreamIdleTimeout
  "IH", // InvalidEnvoyRequestHeaders
  "DPE", // DownstreamProtocolError
  "UMSDR", // UpstreamMaxStreamDurationReached
  "RFCF", // ResponseFromCacheFilter
  "NFCF", // NoFilterConfigFound
  "DT", // DurationTimeout
  "UPE", // UpstreamProtocolError
  "NC", // NoClusterFound
  "OM", // OverloadManager
  "DF", // DnsResolutionFailed
  "DO", // DropOverLoad
  "DR", // DownstreamRemoteReset
  "UDO", // UnconditionalDropOverload
];

/** ResponseFlagUtils::NONE. */
export const NO_FLAGS = "-";

/**
 * The `response_flags` text for a `response.flags` bit set: the short codes of the set bits in bit
 * order, comma-joined; `-` when none is set. Bits past the last flag this table knows (a later
 * Envoy's new core flag) are skipped: their code is not known here.
 */
export function responseFlagsText(flags: u64): string {
  if (flags == 0) return NO_FLAGS;
  let out = "";
  const n = RESPONSE_FLAG_CODES.length;
  for (let i = 0; i < n; i++) {
    if ((flags & ((<u64>1) << <u64>i)) == 0) continue;
    if (out.length > 0) out += ",";
    out += RESPONSE_FLAG_CODES[i];
  }
  return out.length > 0 ? out : NO_FLAGS;
}

const P_RESPONSE_FLAGS: ArrayBuffer = joinPath(["response", "flags"]);

/** `response.flags` as the request record keeps it (RequestAttributes.flags): "" when none. */
export function readResponseFlagsText(): string {
  return responseFlagsRecordText(readResponseFlags());
}

/** `response.flags` bits (however they were read) as the request record keeps them: "" when none. */
export function responseFlagsRecordText(f: u64): string {
  return f == 0 ? "" : responseFlagsText(f);
}

/**
 * `response.flags` of the current stream (one host call); 0 when unreadable. Read in on_log: the
 * router and the connection manager set flags up to the end of the stream (a reset after the
 * response headers, a downstream disconnect), and the access logs run after every one of them.
 */
export function readResponseFlags(): u64 {
  const r = getPropertyBytes(P_RESPONSE_FLAGS);
  if (!r.ok || r.value.byteLength != 8) return 0;
  return load<u64>(changetype<usize>(r.value));
}
