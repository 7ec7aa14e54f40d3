/**
 * Static clusters of the emulator: endpoint choice and upstream TCP connects.
 *
 * Load balancing: Envoy's default lb_policy is ROUND_ROBIN
 * (source/extensions/load_balancing_policies/round_robin/). With equal weights Envoy walks the
 * hosts in order (from a random start per worker); with unequal weights it uses an EDF scheduler.
 * The emulator is deterministic: it starts at the first endpoint and, for unequal weights, uses
 * smooth weighted round robin, which gives each endpoint its weight's share of picks in every
 * window of sum(weights) picks but not necessarily EDF's exact order.
 *
 * Connect timeout: Envoy's cluster connect_timeout defaults to 5 s
 * (api/envoy/config/cluster/v3/cluster.proto `connect_timeout`).
 */
import * as net from "node:net";
import type { Address, ClusterConfig, DataPlaneHost } from "./types.js";

export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ResolvedCluster {
  readonly name: string;
  readonly config: ClusterConfig;
}

/** `PassthroughCluster` (Istio's ORIGINAL_DST cluster) connects to the original destination. */
export function resolveCluster(host: DataPlaneHost, name: string, originalDst: Address): ResolvedCluster | undefined {
  if (name === "") return undefined;
  const config = host.clusters.get(name);
  if (config !== undefined) return { name, config };
  if (name === PASSTHROUGH_CLUSTER) return { name, config: { endpoints: [originalDst] } };
  return undefined;
}

interface LbState {
  readonly current: number[];
}
const lbStates = new WeakMap<ClusterConfig, LbState>();

export function chooseEndpoint(config: ClusterConfig): Address | undefined {
  const eps = config.endpoints;
  if (eps.length === 0) return undefined;
  if (eps.length === 1) return eps[0];
  let st = lbStates.get(config);
  if (st === undefined) {
    st = { current: eps.map(() => 0) };
    lbStates.set(config, st);
  }
  let total = 0;
  let best = 0;
  for (let i = 0; i < eps.length; i++) {
    const w = eps[i]!.weight ?? 1;
    total += w;
    st.current[i]! += w;
    if (st.current[i]! > st.current[best]!) best = i;
  }
  st.current[best]! -= total;
  return eps[best];
}

export type ConnectFailure = "Timeout" | "RemoteConnectionFailure" | "LocalConnectionFailure";

export interface UpstreamConnectCallbacks {
  onConnected(socket: net.Socket): void;
  onFailure(reason: ConnectFailure, detail: string): void;
}

/**
 * Opens an upstream TCP connection (half-close enabled, as TcpUpstream does). Returns a cancel
 * function (Envoy cancels the pool request when the downstream closes first).
 */
export function connectUpstream(
  ep: Address,
  timeoutMs: number,
  cb: UpstreamConnectCallbacks,
  track: (s: net.Socket) => void,
): () => void {
  const socket = net.connect({ host: ep.host, port: ep.port, allowHalfOpen: true });
  track(socket);
  socket.setNoDelay(true);
  let done = false;
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    socket.destroy();
    cb.onFailure("Timeout", `connect timeout after ${timeoutMs} ms to ${ep.host}:${ep.port}`);
  }, timeoutMs);
  const onError = (err: NodeJS.ErrnoException): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    const reason: ConnectFailure = err.code === "ECONNREFUSED" || err.code === "ECONNRESET"
      ? "RemoteConnectionFailure"
      : "LocalConnectionFailure";
    cb.onFailure(reason, `${err.code ?? "error"} connecting to ${ep.host}:${ep.port}`);
  };
  socket.once("error", onError);
  socket.once("connect", () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off("error", onError);
    cb.onConnected(socket);
  });
  return () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
  };
}
