/**
 * How tcp_proxy must be configured behind the sniffer in each mode (docs/design/sniffer-contract.md,
 * "Envoy facts"). Every rule here is one a wrong config breaks at run time, silently:
 *
 * - route: the sniffer stops in onNewConnection (tcp_proxy picks its cluster there, reading
 *   `envoy.tcp_proxy.cluster`), so tcp_proxy must be ON_DOWNSTREAM_DATA with max_early_data_bytes
 *   set, else it read-disables the connection and nobody reads (envoy#25604; Envoy 1.38 also
 *   refuses a non-IMMEDIATE mode without max_early_data_bytes). The buffer must hold everything
 *   the sniffer may wait for: a TLS ClientHello up to max_tls_bytes.
 * - observe / bypass: the sniffer never holds data, so tcp_proxy connects IMMEDIATE; waiting for
 *   client bytes would hang server-first protocols (MySQL/MariaDB, SMTP).
 */
import type { UpstreamConnectMode } from "../envoy/tcp-proxy.js";
import { effective, type SnifferConfig, type SnifferMode } from "./config.js";

export interface TcpProxyPairingProps {
  /** The port's protocol sends nothing until the server speaks (MySQL/MariaDB, SMTP, POP3, FTP). */
  readonly serverFirst?: boolean;
  /** @default ON_DOWNSTREAM_DATA for route, IMMEDIATE otherwise */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** @default the sniffer's max_tls_bytes for route; unset otherwise */
  readonly maxEarlyDataBytes?: number;
}

export interface PairedTcpProxy {
  readonly upstreamConnectMode: UpstreamConnectMode;
  readonly maxEarlyDataBytes?: number;
}

/** Throws with the fix when the pairing is wrong; returns the tcp_proxy settings to render. */
export function pairTcpProxy(mode: SnifferMode, config: SnifferConfig, props: TcpProxyPairingProps = {}): PairedTcpProxy {
  if (mode === "route") {
    if (props.serverFirst === true) {
      throw new Error(
        "sniffer: mode route cannot serve a server-first port: server-first protocols (MySQL/MariaDB, SMTP) " +
          "send nothing until the server speaks; use mode observe",
      );
    }
    const connect = props.upstreamConnectMode ?? "ON_DOWNSTREAM_DATA";
    if (connect !== "ON_DOWNSTREAM_DATA") {
      throw new Error(
        `sniffer: mode route needs tcp_proxy upstream_connect_mode ON_DOWNSTREAM_DATA, got ${connect}: the sniffer ` +
          "holds the connection until it has classified the client's first bytes, and with any other mode tcp_proxy " +
          "stops reading them (envoy#25604); set upstreamConnectMode ON_DOWNSTREAM_DATA or leave it unset",
      );
    }
    // The most the sniffer holds: max_tls_bytes, or max_detect_bytes when that is larger (the
    // filter treats a smaller max_tls_bytes as max_detect_bytes; its README, Configuration).
    const maxTls = effective(config, "max_tls_bytes");
    const held = Math.max(maxTls, effective(config, "max_detect_bytes"));
    const early = props.maxEarlyDataBytes ?? held;
    if (early < held) {
      const what = held === maxTls ? `the sniffer's max_tls_bytes (${held})` : `the sniffer's max_detect_bytes (${held}, above max_tls_bytes)`;
      throw new Error(
        `sniffer: mode route needs tcp_proxy max_early_data_bytes >= ${what}, got ${early}: ` +
          `tcp_proxy would stop buffering before the sniffer can decide (a TLS ClientHello may need all of it); ` +
          `set maxEarlyDataBytes to at least ${held} or lower ${held === maxTls ? "max_tls_bytes" : "max_detect_bytes"}`,
      );
    }
    return { maxEarlyDataBytes: early, upstreamConnectMode: "ON_DOWNSTREAM_DATA" };
  }
  const connect = props.upstreamConnectMode ?? "IMMEDIATE";
  if (connect !== "IMMEDIATE") {
    throw new Error(
      `sniffer: mode ${mode} needs tcp_proxy upstream_connect_mode IMMEDIATE, got ${connect}: the sniffer never holds ` +
        "data, and waiting for client bytes hangs server-first protocols (MySQL/MariaDB, SMTP); set upstreamConnectMode " +
        "IMMEDIATE or leave it unset",
    );
  }
  if (props.maxEarlyDataBytes !== undefined) {
    throw new Error(
      `sniffer: maxEarlyDataBytes (${props.maxEarlyDataBytes}) only applies to mode route (ON_DOWNSTREAM_DATA); remove it for mode ${mode}`,
    );
  }
  return { upstreamConnectMode: "IMMEDIATE" };
}
