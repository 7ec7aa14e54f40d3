/**
 * The exports of a network filter that makes no HTTP or gRPC calls: the root and connection
 * callbacks, without the HTTP stream and call-response ones. Envoy never calls an HTTP stream
 * callback on a network filter, and proxy-wasm-cpp-host looks every callback up by name and skips
 * those a module does not export (src/context.cc, e.g. ContextBase::onHttpCallResponse returns
 * when on_http_call_response is absent). Leaving them out drops their dispatch code (~850 bytes).
 */
export {
  proxy_abi_version_0_2_1, malloc, free, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure, proxy_on_tick,
  proxy_on_queue_ready, proxy_on_foreign_function, proxy_on_new_connection, proxy_on_downstream_data, proxy_on_upstream_data,
  proxy_on_downstream_connection_close, proxy_on_upstream_connection_close, proxy_on_done, proxy_on_log, proxy_on_delete,
} from "./exports";
