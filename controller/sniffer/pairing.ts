/**
 * How tcp_proxy must be configured behind the sniffer in each mode (docs/design/sniffer-contract.md,
 * "Envoy facts"). Every rule here is one a wrong config breaks at run time, silently. Envoy
 * sources: envoyproxy/envoy source/common/tcp_proxy/tcp_proxy.cc (`Filter::initialize`,
 * `Filter::onNewConnection`, `Filter::onData`, `Config::getRouteFromEntries`) and
 * source/common/network/filter_manager_impl.cc (`FilterManagerImpl::onContinueReading`).
 *
 * - route: the sniffer returns StopIteration from onNewConnection, which defers tcp_proxy's own
 *   onNewConnection (filter_manager_impl.cc) until the sniffer has decided and written
 *   `envoy.tcp_proxy.cluster`; tcp_proxy then picks the route there. So tcp_proxy must be
 *   IMMEDIATE with `max_early_data_bytes` set: `Filter::initialize` leaves reads enabled in every
 *   connect mode once it is set (without it reads wait for an upstream that is never asked for:
 *   envoy#25604), and IMMEDIATE connects as soon as the sniffer continues, with or without client
 *   bytes. ON_DOWNSTREAM_DATA connects only from `onData`, which is never called on an empty
 *   buffer: on a server-first port (MariaDB, SMTP) the sniffer's timeout decides `tcp`, continues,
 *   and the connection then waits for good. While the sniffer holds the connection its bytes
 *   wait in the connection's read buffer, and tcp_proxy takes that whole buffer when it runs, so
 *   `max_early_data_bytes` does not have to cover what the sniffer holds: it only bounds what is
 *   buffered while tcp_proxy connects (beyond it, reads pause until the upstream is up).
 * - observe / bypass: the sniffer never holds data, so tcp_proxy connects IMMEDIATE and needs no
 *   early data.
 * - `weighted_clusters`: `Config::getRouteFromEntries` draws from the weights and never reads
 *   `envoy.tcp_proxy.cluster`, so route cannot pair with such a tcp_proxy. Istio renders one for
 *   an outbound TCP route with several destinations (istio/istio
 *   pilot/pkg/networking/core/networkfilter.go, `buildOutboundNetworkFiltersWithWeightedClusters`);
 *   the inbound chains these renders patch always name one cluster `inbound|<port>||`.
 */
import type { UpstreamConnectMode } from "../envoy/tcp-proxy.js";
import { MAX_EARLY_DATA_BYTES } from "../envoy/tcp-proxy.js";
import type { SnifferConfig, SnifferMode } from "./config.js";

/**
 * The route default for `max_early_data_bytes`: one TLS record's worth (2^14 bytes). It bounds
 * only what arrives while tcp_proxy connects (the client's first flight is already in the
 * connection's buffer and is taken whole), so a typical request or handshake follows without a
 * read pause, and a connection in that window costs at most this much more memory.
 */
export const ROUTE_MAX_EARLY_DATA_BYTES = 16_384;

export interface TcpProxyPairingProps {
  /**
   * The port's protocol sends nothing until the server speaks (MySQL/MariaDB, SMTP, POP3, FTP).
   * Route serves it (IMMEDIATE connects after the sniffer's timeout); recorded so a connect mode
   * that would hang it is refused with that reason.
   * @default false
   */
  readonly serverFirst?: boolean;
  /** @default IMMEDIATE */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** @default ROUTE_MAX_EARLY_DATA_BYTES (16384) for route; unset otherwise */
  readonly maxEarlyDataBytes?: number;
  /**
   * The tcp_proxy the sniffer sits in front of selects its cluster by `weighted_clusters`.
   * @default false
   */
  readonly weightedClusters?: boolean;
}

export interface PairedTcpProxy {
  readonly upstreamConnectMode: UpstreamConnectMode;
  readonly maxEarlyDataBytes?: number;
}

/** Throws with the fix when the pairing is wrong; returns the tcp_proxy settings to render. */
export function pairTcpProxy(mode: SnifferMode, _config: SnifferConfig, props: TcpProxyPairingProps = {}): PairedTcpProxy {
  const connect = props.upstreamConnectMode ?? "IMMEDIATE";
  if (mode === "route") {
    if (props.weightedClusters === true) {
      throw new Error(
        "sniffer: mode route cannot pair with a tcp_proxy that uses weighted_clusters: tcp_proxy then draws its cluster " +
          "from the weights and ignores envoy.tcp_proxy.cluster (tcp_proxy.cc, Config::getRouteFromEntries); " +
          "route on a chain whose tcp_proxy names one cluster (Istio's inbound chains do), or use mode observe",
      );
    }
    if (connect !== "IMMEDIATE") {
      const why =
        connect === "ON_DOWNSTREAM_DATA"
          ? "ON_DOWNSTREAM_DATA connects only when client bytes reach tcp_proxy, so after the sniffer's timeout on a " +
            `server-first port${props.serverFirst === true ? " (this one)" : ""} (MySQL/MariaDB, SMTP) the connection waits for good`
          : `only IMMEDIATE connects exactly when the sniffer continues, and ${connect} ties the connect to the downstream ` +
            "TLS handshake instead, which completes before the sniffer has read a byte";
      throw new Error(
        `sniffer: mode route needs tcp_proxy upstream_connect_mode IMMEDIATE (with max_early_data_bytes), got ${connect}: ${why}; ` +
          "set upstreamConnectMode IMMEDIATE or leave it unset",
      );
    }
    const early = props.maxEarlyDataBytes ?? ROUTE_MAX_EARLY_DATA_BYTES;
    checkEarlyDataBytes(early);
    return { maxEarlyDataBytes: early, upstreamConnectMode: "IMMEDIATE" };
  }
  if (connect !== "IMMEDIATE") {
    throw new Error(
      `sniffer: mode ${mode} needs tcp_proxy upstream_connect_mode IMMEDIATE, got ${connect}: the sniffer never holds ` +
        "data, and waiting for client bytes hangs server-first protocols (MySQL/MariaDB, SMTP); set upstreamConnectMode " +
        "IMMEDIATE or leave it unset",
    );
  }
  if (props.maxEarlyDataBytes !== undefined) {
    throw new Error(
      `sniffer: maxEarlyDataBytes (${props.maxEarlyDataBytes}) only applies to mode route (the sniffer holds data only there); remove it for mode ${mode}`,
    );
  }
  return { upstreamConnectMode: "IMMEDIATE" };
}

function checkEarlyDataBytes(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_EARLY_DATA_BYTES) {
    throw new Error(
      `sniffer: maxEarlyDataBytes ${n} is outside [0, ${MAX_EARLY_DATA_BYTES}]: Envoy's tcp_proxy.proto declares ` +
        `max_early_data_bytes [(validate.rules).uint32 = {lte: ${MAX_EARLY_DATA_BYTES}}] and rejects the listener ` +
        `(in Istio the whole virtualInbound listener); the default ${ROUTE_MAX_EARLY_DATA_BYTES} is enough`,
    );
  }
}
