/**
 * tcp_proxy behind the dubbo filter per connection. The filter holds the connection from
 * on_new_connection until the first request decides `envoy.tcp_proxy.cluster`, exactly as the
 * thrift filter does, so the pairing is the same (controller/thrift/pairing.ts has the reasons and
 * Envoy sources): IMMEDIATE with `max_early_data_bytes`, one named cluster.
 */
export { pairThriftTcpProxy as pairDubboTcpProxy, type ThriftTcpProxyPairing as DubboTcpProxyPairing } from "../thrift/pairing.js";
