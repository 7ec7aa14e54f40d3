/**
 * Listener filters: they run on an accepted socket before a filter chain is chosen, and what they
 * learn (original destination, transport protocol, ALPN / detected HTTP version) is what
 * `filter_chain_match` selects on. A wasm filter never runs here: there is no wasm listener
 * filter, so choosing a chain by protocol is Envoy's inspectors' job.
 */

/** One entry of a listener's `listener_filters`, in Envoy's YAML shape. */
export interface ListenerFilter {
  readonly name: string;
  readonly typed_config: { readonly "@type": string; readonly [field: string]: unknown };
  /** Envoy's `filter_disabled` predicate (ListenerFilterChainMatchPredicate). */
  readonly filter_disabled?: Readonly<Record<string, unknown>>;
}

export const HTTP_INSPECTOR_NAME = "envoy.filters.listener.http_inspector";
export const TLS_INSPECTOR_NAME = "envoy.filters.listener.tls_inspector";
export const ORIGINAL_DST_NAME = "envoy.filters.listener.original_dst";

/**
 * The application protocols http_inspector reports for plaintext HTTP (Envoy
 * source/extensions/filters/listener/http_inspector/http_inspector.cc: AlpnNames Http10, Http11,
 * Http2c). Istio's inbound HTTP chains match the same list (`plaintextHTTPALPNs`).
 */
export const PLAINTEXT_HTTP_ALPNS: readonly string[] = ["http/1.0", "http/1.1", "h2c"];

/**
 * Peeks at the first bytes and, for HTTP/1.x or the HTTP/2 prior-knowledge preface, sets the
 * connection's application protocols to `http/1.0`, `http/1.1` or `h2c`. It does nothing when a
 * transport protocol other than raw_buffer was already detected, so it goes after tls_inspector.
 */
export function httpInspector(props: { readonly onlyOnPort?: number } = {}): ListenerFilter {
  return {
    filter_disabled: props.onlyOnPort === undefined ? undefined : onlyOnPort(props.onlyOnPort),
    name: HTTP_INSPECTOR_NAME,
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector" },
  };
}

/** Detects a TLS ClientHello: transport protocol `tls`, SNI and ALPN for filter_chain_match. */
export function tlsInspector(): ListenerFilter {
  return {
    name: TLS_INSPECTOR_NAME,
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" },
  };
}

/**
 * Restores the pre-REDIRECT destination (SO_ORIGINAL_DST) as the connection's local address, which
 * an ORIGINAL_DST cluster connects to. Without an iptables redirect in front, the "original"
 * destination is Envoy's own listener.
 */
export function originalDst(): ListenerFilter {
  return {
    name: ORIGINAL_DST_NAME,
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst" },
  };
}

/**
 * A `filter_disabled` predicate that disables the filter everywhere except destination port
 * `port` (Int32Range is [start, end)); Istio builds its per-port inspector predicates the same
 * way (pilot/pkg/networking/core/listener_inbound.go, listenerPredicateIncludePorts).
 */
export function onlyOnPort(port: number): Record<string, unknown> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`onlyOnPort: port ${port} must be an integer in [1, 65535]`);
  }
  return { not_match: { destination_port_range: { end: port + 1, start: port } } };
}
