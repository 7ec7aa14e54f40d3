// A Thrift call as the shared rules see it (../rpc/call.ts). Pure code: as-pect tests it directly.
//
// Names as Envoy's thrift_proxy compares them (source/extensions/filters/network/thrift_proxy/
// router/router_impl.cc MethodNameRouteEntryImpl, ServiceNameRouteEntryImpl) and the rule model
// says (controller/rules/schema.ts): `service` is the multiplexed prefix before the first ':' (a
// call that is not multiplexed has no service and never matches a service rule); `method` is the
// part after `Service:` when the rule names a service, else the whole message name as sent.
import { Call as RpcCall } from "../rpc/call";

export { firstMatch, ruleMatches } from "../rpc/match";
export { Rng, pickCluster } from "../rpc/rng";

export class Call extends RpcCall {
  /** The call named `name` (as sent) with THeader headers `keys` / `values`. */
  static of(name: string, keys: string[], values: string[]): Call {
    const c = new Call();
    const colon = name.indexOf(":");
    c.hasService = colon >= 0;
    c.service = colon >= 0 ? name.substring(0, colon) : "";
    c.method = colon >= 0 ? name.substring(colon + 1) : name;
    c.unscoped = name;
    for (let i = 0; i < keys.length; i++) c.addHeader(keys[i], values[i]);
    return c;
  }
}
