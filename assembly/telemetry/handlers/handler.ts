// The backend adapter interface. A handler consumes the attributes of requests that the rules
// send it; the filter decides sampling and applies the failure policy around `report`.
//
// A new backend (an OTLP exporter, a denier) extends Handler: `report` takes one request and
// answers whether it was consumed; a batching backend queues in `report` and sends from `onTick`
// (the filter sets the VM's tick period to the smallest `tickPeriodMs` of its handlers).
import { AttributeBag } from "../attributes";
import { RequestAttributes } from "../request";

/** The connection a request (or RPC call) belongs to, read once and shared by its requests. */
export class ConnectionAttributes {
  bag: AttributeBag = new AttributeBag();
  /** Encoded connection-constant Istio labels (prometheus handler); "" until first needed. */
  istioTags: string = "";
  /**
   * Set by an RPC adapter: calls may carry their own destination service (from the cluster each
   * call is routed to), so `destination_service_namespace` is encoded per call, not in istioTags.
   */
  perCallService: bool = false;
  /** The connection's `destination_service_namespace` when perCallService (set with istioTags). */
  serviceNamespace: string = "";
  /** The prometheus handler's last series for this connection, by its per-request part (PrometheusHandler.series). */
  lastSeries: Object | null = null;
  lastHandler: Object | null = null;
  lastPart: string = "";
  peerKnown: bool = false;
  peerTries: i32 = 0;
}

export class Handler {
  /** Requests kept, in thousandths of a percent (100000 = every request). */
  samplingMilli: u32 = 100000;
  failOpen: bool = true;
  /** The last report failed (a fail-closed handler then refuses requests it could be fed). */
  failing: bool = false;
  // Host metric ids, set by the filter.
  reportsId: u32 = 0;
  failuresId: u32 = 0;
  sampledOutId: u32 = 0;

  constructor(public name: string, public kind: string) {}

  /** Consumes one request; false when the backend could not (counted, failure policy applied). */
  report(conn: ConnectionAttributes, r: RequestAttributes): bool {
    return true;
  }

  /** Milliseconds between onTick calls this handler needs; 0 = none. */
  tickPeriodMs(): u32 {
    return 0;
  }

  onTick(nowNs: u64): void {}
}
