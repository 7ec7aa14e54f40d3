/**
 * protomesh controller CLI.
 *
 *   node --import tsx controller/cli.ts render envoy --filter tcp-stats [options]   > envoy.yaml
 *   node --import tsx controller/cli.ts render istio --filter tcp-stats --port 9080 > envoyfilter.yaml
 *   node --import tsx controller/cli.ts render envoy --filter sniffer --mode route|bypass|observe [options]
 *   node --import tsx controller/cli.ts render istio --filter sniffer --mode route --port 6379 [options]
 *   node --import tsx controller/cli.ts validate envoy.yaml
 *
 * Rendered YAML goes to stdout; problems go to stderr with exit code 1 (2 for usage errors).
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { parseAllDocuments } from "yaml";
import { checkPluginConfigurations, definedClusters } from "./config/plugins.js";
import { bootstrapYaml } from "./envoy/bootstrap.js";
import { committedEnvoyCommand, standaloneBootstrapProps, type StandaloneOptions } from "./envoy/standalone.js";
import type { UpstreamConnectMode } from "./envoy/tcp-proxy.js";
import { formatIssue, validateEnvoyFile } from "./envoy/validate.js";
import { FILTERS } from "./filters.js";
import { wasmEnvoyFilterYaml } from "./istio/envoy-filter.js";
import { SNIFFER_MODES, type SnifferMode } from "./sniffer/config.js";
import { SNIFFER_NAME } from "./sniffer/filter.js";
import { snifferEnvoyFilterYaml, type PeerAuthenticationMode } from "./sniffer/istio.js";
import { committedSnifferCommand, snifferBootstrapProps } from "./sniffer/standalone.js";

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

function namedHostPort(value: string, previous: { name: string; address: string; port: number }[] = []): { name: string; address: string; port: number }[] {
  const m = /^([^=]+)=(.+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError(`expected name=host:port, e.g. redis=redis:6379`);
  return [...previous, { name: m[1]!, ...hostPort(m[2]!) }];
}

/** The sniffer renders through its own module (mode pairing), the others through FILTERS. */
function filterChoices(): string[] {
  return [...Object.keys(FILTERS).sort(), SNIFFER_NAME];
}

/** --mode belongs to the sniffer and the sniffer needs it; returns the mode when the filter is the sniffer. */
function snifferMode(filter: string, mode: string | undefined): SnifferMode | undefined {
  if (filter !== SNIFFER_NAME) {
    if (mode !== undefined) throw new Error(`--mode applies to --filter ${SNIFFER_NAME} only; remove it for ${filter}`);
    return undefined;
  }
  if (mode === undefined) throw new Error(`--filter ${SNIFFER_NAME} needs --mode ${SNIFFER_MODES.join("|")}`);
  return mode as SnifferMode;
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Builds the program; `io` lets tests capture output. */
export function program(io: CliIo): Command {
  const filterOption = (): Option =>
    new Option("--filter <name>", "protomesh filter to deploy").choices(filterChoices()).makeOptionMandatory();
  const modeOption = (): Option => new Option("--mode <mode>", `sniffer mode (--filter ${SNIFFER_NAME} only)`).choices([...SNIFFER_MODES]);
  const serverFirstOption = (): Option =>
    new Option("--server-first", "the port's protocol is server-first (MySQL/MariaDB, SMTP): refuses sniffer mode route");
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
    .addOption(modeOption())
    .addOption(serverFirstOption())
    .option("--cluster <name=host:port>", "extra static cluster a sniffer route may name (repeatable)", namedHostPort)
    .action((o: {
      filter: string; listenPort: number; listenAddress: string; upstream: { address: string; port: number };
      wasmDir: string; adminAddress: string; adminPort: number; upstreamConnectMode?: UpstreamConnectMode;
      maxEarlyDataBytes?: number; configuration?: Record<string, unknown>; failOpen: boolean;
      mode?: string; serverFirst?: boolean; cluster?: { name: string; address: string; port: number }[];
    }) => {
      const mode = snifferMode(o.filter, o.mode);
      if (mode !== undefined) {
        const props = snifferBootstrapProps({
          ...o, clusters: o.cluster?.map((c) => ({ name: c.name, endpoints: [{ address: c.address, port: c.port }] })), mode,
        });
        io.stdout(checked(bootstrapYaml(props, `Generated by protomesh for the ${SNIFFER_NAME} filter in mode ${mode}. Do not edit; regenerate with:\n  ${committedSnifferCommand(mode)}`)));
        return;
      }
      if (o.serverFirst === true || o.cluster !== undefined) throw new Error(`--server-first and --cluster apply to --filter ${SNIFFER_NAME} only`);
      const options: StandaloneOptions = { ...o };
      io.stdout(checked(bootstrapYaml(standaloneBootstrapProps(options), header(o.filter, committedEnvoyCommand(o.filter)))));
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
    .addOption(modeOption())
    .addOption(serverFirstOption())
    .addOption(new Option("--upstream-connect-mode <mode>", "sniffer: tcp_proxy upstream_connect_mode")
      .choices(["IMMEDIATE", "ON_DOWNSTREAM_DATA", "ON_DOWNSTREAM_TLS_HANDSHAKE"]))
    .option("--max-early-data-bytes <n>", "sniffer route: tcp_proxy max_early_data_bytes", integer("--max-early-data-bytes", 0, 0xffffffff))
    .addOption(new Option("--peer-authentication <mode>", "sniffer bypass: the port's PeerAuthentication mTLS mode")
      .choices(["PERMISSIVE", "DISABLE", "STRICT"]))
    .option("--listener-filters-timeout <duration>", "sniffer bypass: virtualInbound listener_filters_timeout, e.g. 1s")
    .action((o: {
      filter: string; port: number; name?: string; namespace?: string; selector?: Record<string, string>;
      wasmPath?: string; configuration?: Record<string, unknown>; failOpen: boolean;
      mode?: string; serverFirst?: boolean; upstreamConnectMode?: UpstreamConnectMode; maxEarlyDataBytes?: number;
      peerAuthentication?: PeerAuthenticationMode; listenerFiltersTimeout?: string;
    }) => {
      const mode = snifferMode(o.filter, o.mode);
      if (mode !== undefined) {
        io.stdout(checked(snifferEnvoyFilterYaml(
          { ...o, mode, workloadLabels: o.selector },
          `Generated by protomesh (controller/cli.ts render istio --filter ${SNIFFER_NAME} --mode ${mode}). Do not edit.`,
        )));
        return;
      }
      if (o.serverFirst === true || o.upstreamConnectMode !== undefined || o.maxEarlyDataBytes !== undefined ||
        o.peerAuthentication !== undefined || o.listenerFiltersTimeout !== undefined) {
        throw new Error(
          `--server-first, --upstream-connect-mode, --max-early-data-bytes, --peer-authentication and --listener-filters-timeout ` +
            `apply to --filter ${SNIFFER_NAME} only`,
        );
      }
      io.stdout(checked(wasmEnvoyFilterYaml({ ...o, workloadLabels: o.selector }, `Generated by protomesh (controller/cli.ts render istio). Do not edit.`)));
    });

  cli
    .command("validate")
    .description("validate an Envoy bootstrap YAML file against Envoy's protos (+ overlay) and each Wasm plugin configuration against its filter's rules")
    .argument("<file>", "Envoy bootstrap YAML")
    .action((file: string) => {
      const issues = validateEnvoyFile(file).map(formatIssue);
      // The filters' own checks on each Wasm plugin configuration (what on_configure would refuse).
      const config = issues.length === 0 ? parseAllDocuments(readFileSync(file, "utf8"))[0]?.toJS() : undefined;
      issues.push(...checkPluginConfigurations(config).map((p) => `${file}: ${p}`));
      if (issues.length > 0) {
        io.stderr(issues.join("\n") + "\n");
        process.exitCode = 1;
        return;
      }
      const clusters = definedClusters(config);
      io.stdout(`${file}: valid Envoy bootstrap${clusters.why === undefined ? "" : ` (note: ${clusters.why})`}\n`);
    });

  return cli;
}

/**
 * `yaml` after checking every Wasm plugin configuration in it (each document) as the filter
 * would, and the sniffer's route targets against the clusters it defines; throws naming each problem.
 */
function checked(yaml: string): string {
  const problems = parseAllDocuments(yaml).flatMap((doc) => checkPluginConfigurations(doc.toJS()));
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return yaml;
}

function header(filter: string, command: string): string {
  return `Generated by protomesh for the ${filter} filter. Do not edit; regenerate with:\n  ${command}`;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Actions report failure through process.exitCode; start from a clean one so a code set
  // earlier in the same process (a test runner's, an earlier run's) is not taken for ours.
  const before = process.exitCode;
  process.exitCode = undefined;
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
  } finally {
    process.exitCode = before;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
  process.exitCode = code;
}
