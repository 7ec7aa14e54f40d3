// Host functions of proxy-wasm ABI 0.2.1 as Envoy registers them. Parameter lists follow
// proxy-wasm-cpp-host src/exports.cc (every `Word` is an i32 on wasm32; increment_metric takes
// an i64 offset and record_metric a u64 value).

// @ts-ignore: decorator
@external("env", "proxy_log")
export declare function proxy_log(level: u32, message: usize, size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(return_level: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(return_time: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(period: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(context_id: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_done")
export declare function proxy_done(): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_status")
export declare function proxy_get_status(return_code: usize, return_message: usize, return_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_property")
export declare function proxy_get_property(path: usize, path_size: usize, return_value: usize, return_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_property")
export declare function proxy_set_property(path: usize, path_size: usize, value: usize, value_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(buffer_type: u32, start: u32, max_size: u32, return_data: usize, return_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_buffer_status")
export declare function proxy_get_buffer_status(buffer_type: u32, return_size: usize, return_flags: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(buffer_type: u32, start: u32, size: u32, data: usize, data_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(map_type: u32, return_data: usize, return_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_header_map_pairs")
export declare function proxy_set_header_map_pairs(map_type: u32, data: usize, size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(map_type: u32, key: usize, key_size: usize, return_value: usize, return_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(map_type: u32, key: usize, key_size: usize, value: usize, value_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(map_type: u32, key: usize, key_size: usize, value: usize, value_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(map_type: u32, key: usize, key_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_size")
export declare function proxy_get_header_map_size(map_type: u32, return_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(stream_type: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_close_stream")
export declare function proxy_close_stream(stream_type: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  status_code: u32, details: usize, details_size: usize, body: usize, body_size: usize,
  headers: usize, headers_size: usize, grpc_status: i32): u32;

// @ts-ignore: decorator
@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstream: usize, upstream_size: usize, headers: usize, headers_size: usize, body: usize, body_size: usize,
  trailers: usize, trailers_size: usize, timeout_ms: u32, return_token: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_call")
export declare function proxy_grpc_call(
  service: usize, service_size: usize, service_name: usize, service_name_size: usize,
  method: usize, method_size: usize, metadata: usize, metadata_size: usize,
  message: usize, message_size: usize, timeout_ms: u32, return_token: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_stream")
export declare function proxy_grpc_stream(
  service: usize, service_size: usize, service_name: usize, service_name_size: usize,
  method: usize, method_size: usize, metadata: usize, metadata_size: usize, return_token: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_send")
export declare function proxy_grpc_send(token: u32, message: usize, message_size: usize, end_stream: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_cancel")
export declare function proxy_grpc_cancel(token: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_close")
export declare function proxy_grpc_close(token: u32): u32;

// @ts-ignore: decorator
@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metric_type: u32, name: usize, name_size: usize, return_id: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metric_id: u32, offset: i64): u32;
// @ts-ignore: decorator
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metric_id: u32, value: u64): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_metric")
export declare function proxy_get_metric(metric_id: u32, return_value: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(key: usize, key_size: usize, return_value: usize, return_size: usize, return_cas: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(key: usize, key_size: usize, value: usize, value_size: usize, cas: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_register_shared_queue")
export declare function proxy_register_shared_queue(name: usize, name_size: usize, return_token: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_resolve_shared_queue")
export declare function proxy_resolve_shared_queue(vm_id: usize, vm_id_size: usize, name: usize, name_size: usize, return_token: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_dequeue_shared_queue")
export declare function proxy_dequeue_shared_queue(token: u32, return_data: usize, return_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_enqueue_shared_queue")
export declare function proxy_enqueue_shared_queue(token: u32, data: usize, data_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_call_foreign_function")
export declare function proxy_call_foreign_function(
  name: usize, name_size: usize, args: usize, args_size: usize, return_results: usize, return_size: usize): u32;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
export declare function wasi_proc_exit(code: u32): void;
