/**
 * Envoy's response flags on a stream, as the emulator keeps them.
 *
 * Envoy (envoy/stream_info/stream_info.h `CoreResponseFlag`; source/common/stream_info/
 * stream_info_impl.h): `setResponseFlag` appends a flag once to a vector, in the order set;
 * `legacyResponseFlags()` is the bit set `1 << flag` of the core flags, which is what
 * `response.flags` answers a wasm filter (source/extensions/filters/common/expr/context.cc,
 * ResponseWrapper `Flags`: CreateInt64). `ResponseFlagUtils::toShortString`
 * (source/common/stream_info/utility.cc) joins the short codes in the order set, `-` when none.
 * Envoy 1.37, 1.38 and 1.39 have the same 30 core flags, so nothing here depends on the version.
 */

/** CoreResponseFlag names, by value. */
export const CORE_RESPONSE_FLAGS = [
  "FailedLocalHealthCheck",
  "NoHealthyUpstream",
  "UpstreamRequestTimeout",
  "LocalReset",
  "UpstreamRemoteReset",
  "UpstreamConnectionFailure",
  "UpstreamConnectionTermination",
  "UpstreamOverflow",
  "NoRouteFound",
  "DelayInjected",
  "FaultInjected",
  "RateLimited",
  "UnauthorizedExternalService",
  "RateLimitServiceError",
  "DownstreamConnectionTermination",
  "UpstreamRetryLimitExceeded",
  "StreamIdleTimeout",
  "InvalidEnvoyRequestHeaders",
  "DownstreamProtocolError",
  "UpstreamMaxStreamDurationReached",
  "ResponseFromCacheFilter",
  "NoFilterConfigFound",
  "DurationTimeout",
  "UpstreamProtocolError",
  "NoClusterFound",
  "OverloadManager",
  "DnsResolutionFailed",
  "DropOverLoad",
  "DownstreamRemoteReset",
  "UnconditionalDropOverload",
] as const;
export type CoreResponseFlag = (typeof CORE_RESPONSE_FLAGS)[number];

/** Short codes by value (source/common/stream_info/utility.h CORE_RESPONSE_FLAGS). */
export const RESPONSE_FLAG_SHORT: Readonly<Record<CoreResponseFlag, string>> = {
  FailedLocalHealthCheck: "LH",
  NoHealthyUpstream: "UH",
  UpstreamRequestTimeout: "UT",
  LocalReset: "LR",
  UpstreamRemoteReset: "UR",
  UpstreamConnectionFailure: "UF",
  UpstreamConnectionTermination: "UC",
  UpstreamOverflow: "UO",
  NoRouteFound: "NR",
  DelayInjected: "DI",
  FaultInjected: "FI",
  RateLimited: "RL",
  UnauthorizedExternalService: "UAEX",
  RateLimitServiceError: "RLSE",
  DownstreamConnectionTermination: "DC",
  UpstreamRetryLimitExceeded: "URX",
  StreamIdleTimeout: "SI",
  InvalidEnvoyRequestHeaders: "IH",
  DownstreamProtocolError: "DPE",
  UpstreamMaxStreamDurationReached: "UMSDR",
  ResponseFromCacheFilter: "RFCF",
  NoFilterConfigFound: "NFCF",
  DurationTimeout: "DT",
  UpstreamProtocolError: "UPE",
  NoClusterFound: "NC",
  OverloadManager: "OM",
  DnsResolutionFailed: "DF",
  DropOverLoad: "DO",
  DownstreamRemoteReset: "DR",
  UnconditionalDropOverload: "UDO",
};

/** StreamInfoImpl::setResponseFlag: appended once, in the order set. */
export function setResponseFlag(flags: CoreResponseFlag[], flag: CoreResponseFlag): void {
  if (!flags.includes(flag)) flags.push(flag);
}

/** StreamInfoImpl::legacyResponseFlags: bit `1 << value` per core flag. */
export function legacyResponseFlags(flags: readonly CoreResponseFlag[]): bigint {
  let bits = 0n;
  for (const f of flags) bits |= 1n << BigInt(CORE_RESPONSE_FLAGS.indexOf(f));
  return bits;
}

/** ResponseFlagUtils::toShortString: the short codes in the order set, `-` when none. */
export function toShortString(flags: readonly CoreResponseFlag[]): string {
  return flags.length === 0 ? "-" : flags.map((f) => RESPONSE_FLAG_SHORT[f]).join(",");
}
