// The protocol names, in `Protocol` order (./result.ts): one list read by the filters
// (AssemblyScript) and the controller (TypeScript, controller/sniffer/config.ts). This file is
// written in the subset both languages compile: plain constants, no AssemblyScript types.

/** Stable names for logs, metrics, filter state and the keys of the sniffer's `routes`. Index = Protocol. */
export const PROTOCOL_NAMES: string[] = [
  "tcp", "http/1.1", "h2c", "tls", "dubbo", "thrift", "redis", "postgres", "mysql", "kafka", "mqtt", "amqp",
];
