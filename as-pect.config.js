// as-pect 8.1.0 configuration. Spec files: assembly/**/__tests__/*.spec.ts and the pure modules
// of the test fixtures (test/fixtures/**/__tests__/*.spec.ts).
//
// as-pect compiles each spec with ./as-pect.asconfig.json (which extends ./asconfig.json's
// top-level options only; `use abort=...` and `runtime` stay in asconfig targets so as-pect keeps
// its own abort handling). Every `env` import the compiled spec may reference needs a function
// here or instantiation fails (as-pect then exits 7), so all proxy-wasm host functions get
// stubs that answer Unimplemented (12); spec files only test pure code.

const PROXY_IMPORTS = [
  "proxy_log", "proxy_get_log_level", "proxy_get_current_time_nanoseconds",
  "proxy_set_tick_period_milliseconds", "proxy_set_effective_context", "proxy_done", "proxy_get_status",
  "proxy_get_property", "proxy_set_property", "proxy_get_buffer_bytes", "proxy_get_buffer_status",
  "proxy_set_buffer_bytes", "proxy_get_header_map_pairs", "proxy_set_header_map_pairs",
  "proxy_get_header_map_value", "proxy_add_header_map_value", "proxy_replace_header_map_value",
  "proxy_remove_header_map_value", "proxy_get_header_map_size", "proxy_continue_stream",
  "proxy_close_stream", "proxy_send_local_response", "proxy_http_call", "proxy_grpc_call",
  "proxy_grpc_stream", "proxy_grpc_send", "proxy_grpc_cancel", "proxy_grpc_close",
  "proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric",
  "proxy_get_shared_data", "proxy_set_shared_data", "proxy_register_shared_queue",
  "proxy_resolve_shared_queue", "proxy_dequeue_shared_queue", "proxy_enqueue_shared_queue",
  "proxy_call_foreign_function",
];

const UNIMPLEMENTED = 12;
const WASI_ENOSYS = 52;

export default {
  entries: ["assembly/**/__tests__/**/*.spec.ts", "test/fixtures/**/__tests__/**/*.spec.ts"],
  include: [],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const env = { memory };
    for (const name of PROXY_IMPORTS) env[name] = () => UNIMPLEMENTED;
    const wasi = {
      proc_exit(code) {
        throw new Error(`proc_exit(${code}) called from a spec`);
      },
    };
    for (const name of ["fd_write", "clock_time_get", "random_get", "environ_sizes_get", "environ_get",
      "args_sizes_get", "args_get"]) {
      wasi[name] = () => WASI_ENOSYS;
    }
    return instantiate(binary, createImports({ env, wasi_snapshot_preview1: wasi }));
  },
  outputBinary: false,
};
