// What a rule sees of a call, whatever the protocol: service, method, version, group and
// headers (THeader info headers, Dubbo attachments). The filter fills one per call. Pure code.
import { asciiLower } from "./header-match";

export class Call {
  /** "" when the call names no service (a Thrift call that is not multiplexed). */
  service: string = "";
  hasService: bool = false;
  /** The method within the service. */
  method: string = "";
  /**
   * What the method of a rule that names no service is matched against. Thrift: the message name
   * as sent ("Service:method" when multiplexed), as Envoy's thrift_proxy MethodNameRouteEntryImpl
   * compares it (source/extensions/filters/network/thrift_proxy/router/router_impl.cc). Dubbo:
   * the method.
   */
  unscoped: string = "";
  /** Dubbo service version and group ("" when absent). */
  version: string = "";
  group: string = "";
  /** Header names lower-cased, values as sent (parallel arrays). */
  headerKeys: string[] = [];
  headerValues: string[] = [];

  /** A call to `method` of `service` ("" and hasService false: no service). */
  static named(service: string, hasService: bool, method: string, unscoped: string): Call {
    const c = new Call();
    c.service = service;
    c.hasService = hasService;
    c.method = method;
    c.unscoped = unscoped;
    return c;
  }

  addHeader(name: string, value: string): void {
    this.headerKeys.push(asciiLower(name));
    this.headerValues.push(value);
  }
}
