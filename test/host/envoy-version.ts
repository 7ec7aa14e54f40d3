/**
 * The Envoy releases the emulator can act as, and what differs between them for the data planes.
 * Istio 1.29, 1.30 and 1.31 ship Envoy 1.37, 1.38 and 1.39 (istio/proxy `ENVOY_VERSION.txt`).
 *
 * Every difference is one table row, read by tcp.ts and listener-filters.ts; nothing else in the
 * emulator branches on the version.
 */

export const ENVOY_VERSIONS = ["1.37", "1.38", "1.39"] as const;
export type EnvoyVersion = (typeof ENVOY_VERSIONS)[number];
/** The release a Host acts as unless told otherwise: Istio 1.29's. */
export const DEFAULT_ENVOY_VERSION: EnvoyVersion = "1.37";

/** Which http-parser Envoy's http_inspector drives. */
export type HttpInspectorParser = "legacy" | "balsa";

/** tcp_proxy connect modes (`TcpProxy.upstream_connect_mode`, Envoy >= 1.37). */
export type UpstreamConnectMode = "IMMEDIATE" | "ON_DOWNSTREAM_DATA" | "ON_DOWNSTREAM_TLS_HANDSHAKE";

export interface EnvoyBehaviour {
  readonly version: EnvoyVersion;
  /**
   * Connect modes tcp_proxy's Config constructor refuses without `max_early_data_bytes`
   * (source/common/tcp_proxy/tcp_proxy.cc, `Config::Config`): 1.37 checks ON_DOWNSTREAM_DATA
   * only; 1.38 (changelog "breaking change") every mode that is not IMMEDIATE, with the error
   * "max_early_data_bytes must be set when upstream_connect_mode is not IMMEDIATE".
   */
  readonly earlyDataRequiredFor: ReadonlyArray<UpstreamConnectMode>;
  /**
   * http_inspector's parser (source/extensions/filters/listener/http_inspector/http_inspector.cc,
   * `Filter::Filter`: BalsaParser when the runtime guard
   * `envoy.reloadable_features.http_inspector_use_balsa_parser` is on, else
   * LegacyHttpParserImpl). The guard is a FALSE_RUNTIME_GUARD in 1.37 and 1.38
   * (source/common/runtime/runtime_features.cc) and true from 1.39 (envoy#44679, changelog
   * 1.39.0 "Enabled Balsa parser for HTTP inspector by default").
   */
  readonly httpInspectorParser: HttpInspectorParser;
  /**
   * Whether the runtime guard `envoy.reloadable_features.tcp_proxy_delay_route_selection`
   * (envoy PR #44109, changelog 1.39.0; false by default) exists: it moves tcp_proxy's route pick
   * from `onNewConnection` to just before connecting.
   */
  readonly hasDelayRouteSelectionGuard: boolean;
}

const BEHAVIOURS: Readonly<Record<EnvoyVersion, EnvoyBehaviour>> = {
  "1.37": {
    version: "1.37",
    earlyDataRequiredFor: ["ON_DOWNSTREAM_DATA"],
    httpInspectorParser: "legacy",
    hasDelayRouteSelectionGuard: false,
  },
  "1.38": {
    version: "1.38",
    earlyDataRequiredFor: ["ON_DOWNSTREAM_DATA", "ON_DOWNSTREAM_TLS_HANDSHAKE"],
    httpInspectorParser: "legacy",
    hasDelayRouteSelectionGuard: false,
  },
  "1.39": {
    version: "1.39",
    earlyDataRequiredFor: ["ON_DOWNSTREAM_DATA", "ON_DOWNSTREAM_TLS_HANDSHAKE"],
    httpInspectorParser: "balsa",
    hasDelayRouteSelectionGuard: true,
  },
};

/** The behaviour table row of `version`; throws naming the valid versions for anything else. */
export function envoyBehaviour(version: string | undefined): EnvoyBehaviour {
  const v = version ?? DEFAULT_ENVOY_VERSION;
  if (!(ENVOY_VERSIONS as ReadonlyArray<string>).includes(v)) {
    throw new Error(`envoyVersion ${JSON.stringify(v)} is not emulated: valid are ${ENVOY_VERSIONS.join(", ")}`);
  }
  return BEHAVIOURS[v as EnvoyVersion];
}
