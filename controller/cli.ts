/**
 * protomesh controller CLI.
 *
 *   node --import tsx controller/cli.ts render envoy --filter tcp-stats [options]   > envoy.yaml
 *   node --import tsx controller/cli.ts render istio --filter tcp-stats --port 9080 > envoyfilter.yaml
 *   node --import tsx controller/cli.ts validate envoy.yaml
 *
 * Rendered YAML goes to stdout; problems go to stderr with exit code 1 (2 for usage errors).
 */
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { bootstrapYaml } from "./envoy/bootstrap.js";
import { committedEnvoyCommand, standaloneBootstrapProps, type StandaloneOptions } from "./envoy/standalone.js";
import type { UpstreamConnectMode } from "./envoy/tcp-proxy.js";
import { formatIssue, validateEnvoyFile } from "./envoy/validate.js";
import { FILTERS } from "./filters.js";
import { wasmEnvoyFilterYaml } from "./istio/envoy-filter.js";

function integer(what: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

function hostPort(value: string): { address: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError(`expected host:port, e.g. echo:7000`);
  return { address: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: integer("port", 1, 65535)(m[2]!) };
}

function labels(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const m = /^([^=]+)=(.*)$/.exec(value);
  if (m === null) throw new InvalidArgumentError(`expected key=value, e.g. app=ratings`);
  return { ...previous, [m[1]!]: m[2]! };
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new InvalidArgumentError("expected a JSON object");
  return parsed as Record<string, unknown>;
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Builds the program; `io` lets tests capture output. */
export function program(io: CliIo): Command {
  const filterOption = (): Option =>
    new Option("--filter <name>", "protomesh filter to deploy").choices(Object.keys(FILTERS).sort()).makeOptionMandatory();
  const cli = new Command("protomesh")
    .description("Render and validate Envoy / Istio configuration for protomesh wasm filters")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const render = cli.command("render").description("render configuration as YAML on stdout");

  render
    .command("envoy")
    .description("a standalone Envoy bootstrap: listener → <filter> → tcp_proxy → upstream")
    .addOption(filterOption())
    .option("--listen-port <port>", "listener port", integer("--listen-port", 0, 65535), 10000)
    .option("--listen-address <ip>", "listener address", "0.0.0.0")
    .option("--upstream <host:port>", "where tcp_proxy forwards", hostPort, { address: "echo", port: 7000 })
    .option("--wasm-dir <dir>", "folder holding <filter>.wasm as Envoy sees it", "/etc/envoy/wasm")
    .option("--admin-address <ip>", "admin endpoint address", "127.0.0.1")
    .option("--admin-port <port>", "admin endpoint port", integer("--admin-port", 0, 65535), 9901)
    .addOption(new Option("--upstream-connect-mode <mode>", "tcp_proxy upstream_connect_mode (Envoy >= 1.37)")
      .choices(["IMMEDIATE", "ON_DOWNSTREAM_DATA", "ON_DOWNSTREAM_TLS_HANDSHAKE"]))
    .option("--max-early-data-bytes <n>", "tcp_proxy max_early_data_bytes", integer("--max-early-data-bytes", 0, 0xffffffff))
    .option("--configuration <json>", "plugin configuration (JSON object)", jsonObject)
    .option("--fail-open", "skip the filter when its VM has failed (default: close connections)", false)
    .action((o: {
      filter: string; listenPort: number; listenAddress: string; upstream: { address: string; port: number };
      wasmDir: string; adminAddress: string; adminPort: number; upstreamConnectMode?: UpstreamConnectMode;
      maxEarlyDataBytes?: number; configuration?: Record<string, unknown>; failOpen: boolean;
    }) => {
      const options: StandaloneOptions = { ...o };
      io.stdout(bootstrapYaml(standaloneBootstrapProps(options), header(o.filter, committedEnvoyCommand(o.filter))));
    });

  render
    .command("istio")
    .description("an Istio EnvoyFilter inserting <filter> before tcp_proxy on a sidecar's inbound port")
    .addOption(filterOption())
    .requiredOption("--port <port>", "service port to match (listener portNumber)", integer("--port", 1, 65535))
    .option("--name <name>", "resource name (default protomesh-<filter>-<port>)")
    .option("--namespace <ns>", "resource namespace")
    .option("--selector <key=value>", "workload label (repeatable)", labels)
    .option("--wasm-path <path>", "path of the .wasm inside istio-proxy")
    .option("--configuration <json>", "plugin configuration (JSON object)", jsonObject)
    .option("--fail-open", "skip the filter when its VM has failed", false)
    .action((o: {
      filter: string; port: number; name?: string; namespace?: string; selector?: Record<string, string>;
      wasmPath?: string; configuration?: Record<string, unknown>; failOpen: boolean;
    }) => {
      io.stdout(wasmEnvoyFilterYaml({ ...o, workloadLabels: o.selector }, `Generated by protomesh (controller/cli.ts render istio). Do not edit.`));
    });

  cli
    .command("validate")
    .description("validate an Envoy bootstrap YAML file against Envoy's protos (+ overlay)")
    .argument("<file>", "Envoy bootstrap YAML")
    .action((file: string) => {
      const issues = validateEnvoyFile(file);
      if (issues.length > 0) {
        io.stderr(issues.map(formatIssue).join("\n") + "\n");
        process.exitCode = 1;
        return;
      }
      io.stdout(`${file}: valid Envoy bootstrap\n`);
    });

  return cli;
}

function header(filter: string, command: string): string {
  return `Generated by protomesh for the ${filter} filter. Do not edit; regenerate with:\n  ${command}`;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await program(io).parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      return code === "commander.helpDisplayed" || code === "commander.version" ? 0 : 2;
    }
    io.stderr(`protomesh: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
  process.exitCode = code;
}
