/**
 * protomesh controller CLI.
 *
 *   node --import tsx controller/cli.ts render envoy --filter tcp-stats [options]   > envoy.yaml
 *   node --import tsx controller/cli.ts render istio --filter tcp-stats --port 9080 > wasmplugin.yaml
 *   node --import tsx controller/cli.ts render istio --filter tcp-stats --port 9080 --kind envoyfilter > envoyfilter.yaml
 *   node --import tsx controller/cli.ts render envoy --filter sniffer --mode route|bypass|observe [options]
 *   node --import tsx controller/cli.ts render istio --filter sniffer --mode route --port 6379 [options]
 *   node --import tsx controller/cli.ts render rules --proxy dubbo|thrift --rules rules.yaml [--cluster name=host:port]
 *   node --import tsx controller/cli.ts render http-telemetry envoy|istio [--configuration json]
 *   node --import tsx controller/cli.ts validate envoy/*.yaml
 *
 * Rendered YAML goes to stdout; problems go to stderr with exit code 1 (2 for usage errors).
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { parseAllDocuments } from "yaml";
import { assertConfiguration } from "./config/index.js";
import { checkPluginConfigurations, definedClusters } from "./config/plugins.js";
import { bootstrapYaml } from "./envoy/bootstrap.js";
import { committedEnvoyCommand, standaloneBootstrapProps, type StandaloneOptions } from "./envoy/standalone.js";
import { MAX_EARLY_DATA_BYTES, type UpstreamConnectMode } from "./envoy/tcp-proxy.js";
import { formatIssue, validateEnvoyFile, type ExtraCheck } from "./envoy/validate.js";
import { FILTERS } from "./filters.js";
import { WASM_FAILURE_POLICIES, type WasmFailurePolicy } from "./envoy/wasm-network-filter.js";
import { wasmEnvoyFilterYaml } from "./istio/envoy-filter.js";
import { loadAuthorizationPolicies, policyId, selectPolicies } from "./istio/authorization-policy.js";
import { WASM_PLUGIN_PHASES, wasmPluginYaml, type WasmPluginPhase } from "./istio/wasm-plugin.js";
import { SNIFFER_MODES, type SnifferMode } from "./sniffer/config.js";
import { SNIFFER_NAME } from "./sniffer/filter.js";
import { snifferEnvoyFilterYaml, type PeerAuthenticationMode } from "./sniffer/istio.js";
import { ROUTE_MAX_EARLY_DATA_BYTES } from "./sniffer/pairing.js";
import { committedSnifferCommand, snifferBootstrapProps } from "./sniffer/standalone.js";
import { addRenderRulesCommand } from "./rules/command.js";
import { addRenderHttpTelemetryCommand } from "./telemetry/command.js";

function integer(what: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

/** --max-early-data-bytes, bounded by Envoy's own rule so a value Envoy rejects never renders. */
function earlyDataBytes(value: string): number {
  try {
    return integer("--max-early-data-bytes", 0, MAX_EARLY_DATA_BYTES)(value);
  } catch (err) {
    throw new InvalidArgumentError(
      `${(err as Error).message}: Envoy's tcp_proxy.proto declares max_early_data_bytes (validate.rules).uint32 lte ${MAX_EARLY_DATA_BYTES}`,
    );
  }
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

/** --failure-policy, or its shorthand --fail-open; undefined = the filter's (or mode's) default. */
function failurePolicy(o: { failurePolicy?: WasmFailurePolicy; failOpen?: boolean }): WasmFailurePolicy | undefined {
  if (o.failOpen === true) {
    if (o.failurePolicy !== undefined && o.failurePolicy !== "FAIL_OPEN") {
      throw new Error(`--fail-open means --failure-policy FAIL_OPEN; it contradicts --failure-policy ${o.failurePolicy}`);
    }
    return "FAIL_OPEN";
  }
  return o.failurePolicy;
}

/** The Istio resource kinds `render istio` writes. */
const ISTIO_KINDS = ["wasmplugin", "envoyfilter"] as const;
type IstioKind = (typeof ISTIO_KINDS)[number];

/** WasmPlugin where a filter only needs placing (tcp-stats, sniffer observe); EnvoyFilter where it patches tcp_proxy or adds a chain. */
function defaultIstioKind(filter: string, mode: SnifferMode | undefined): IstioKind {
  return filter === SNIFFER_NAME && mode !== "observe" ? "envoyfilter" : "wasmplugin";
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** How the CLI is run from the repository root (README); rendered headers start with it. */
const CLI_COMMAND = "node --import tsx controller/cli.ts";

/** `arg` as a POSIX shell word: bare when safe, else single-quoted. */
function shellWord(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command the user ran, for the "regenerate with" header. When it is exactly the command that
 * writes a committed file, that command's redirection (`> envoy/<file>.yaml`) is kept.
 */
export function ranCommand(argv: readonly string[], committed?: string): string {
  const ran = [CLI_COMMAND, ...argv.map(shellWord)].join(" ");
  return committed !== undefined && committed.startsWith(`${ran} > `) ? committed : ran;
}

/** Builds the program; `io` lets tests capture output; `argv` (as given to main) goes into rendered headers. */
export function program(io: CliIo, argv: readonly string[] = []): Command {
  const filterOption = (): Option =>
    new Option("--filter <name>", "protomesh filter to deploy").choices(filterChoices()).makeOptionMandatory();
  const modeOption = (): Option => new Option("--mode <mode>", `sniffer mode (--filter ${SNIFFER_NAME} only)`).choices([...SNIFFER_MODES]);
  const failurePolicyOption = (): Option =>
    new Option("--failure-policy <policy>", "what a failed VM does to traffic (default: FAIL_OPEN for tcp-stats and sniffer observe/bypass, FAIL_RELOAD for route)")
      .choices([...WASM_FAILURE_POLICIES]);
  const serverFirstOption = (): Option =>
    new Option("--server-first", "the port's protocol is server-first (MySQL/MariaDB, SMTP): sniffer modes pair with tcp_proxy IMMEDIATE");
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
    .option("--max-early-data-bytes <n>", `tcp_proxy max_early_data_bytes (sniffer route default ${ROUTE_MAX_EARLY_DATA_BYTES}; Envoy: lte ${MAX_EARLY_DATA_BYTES})`, earlyDataBytes)
    .option("--configuration <json>", "plugin configuration (JSON object)", jsonObject)
    .addOption(failurePolicyOption())
    .option("--fail-open", "shorthand for --failure-policy FAIL_OPEN")
    .addOption(modeOption())
    .addOption(serverFirstOption())
    .option("--cluster <name=host:port>", "extra static cluster a sniffer route may name (repeatable)", namedHostPort)
    .action((o: {
      filter: string; listenPort: number; listenAddress: string; upstream: { address: string; port: number };
      wasmDir: string; adminAddress: string; adminPort: number; upstreamConnectMode?: UpstreamConnectMode;
      maxEarlyDataBytes?: number; configuration?: Record<string, unknown>; failOpen?: boolean; failurePolicy?: WasmFailurePolicy;
      mode?: string; serverFirst?: boolean; cluster?: { name: string; address: string; port: number }[];
    }) => {
      const mode = snifferMode(o.filter, o.mode);
      const policy = failurePolicy(o);
      if (mode !== undefined) {
        const props = snifferBootstrapProps({
          ...o, failurePolicy: policy, clusters: o.cluster?.map((c) => ({ name: c.name, endpoints: [{ address: c.address, port: c.port }] })), mode,
        });
        io.stdout(checked(bootstrapYaml(props, `Generated by protomesh for the ${SNIFFER_NAME} filter in mode ${mode}. Do not edit; regenerate with:\n  ${ranCommand(argv, committedSnifferCommand(mode))}`)));
        return;
      }
      if (o.serverFirst === true || o.cluster !== undefined) throw new Error(`--server-first and --cluster apply to --filter ${SNIFFER_NAME} only`);
      const options: StandaloneOptions = { ...o, failurePolicy: policy };
      io.stdout(checked(bootstrapYaml(standaloneBootstrapProps(options), header(`${o.filter} filter`, ranCommand(argv, committedEnvoyCommand(o.filter))))));
    });

  render
    .command("istio")
    .description("an Istio WasmPlugin (tcp-stats, sniffer observe) or EnvoyFilter (sniffer route/bypass, or --kind envoyfilter) running <filter> on a sidecar's inbound port")
    .addOption(filterOption())
    .requiredOption("--port <port>", "service port to match (listener portNumber)", integer("--port", 1, 65535))
    .option("--name <name>", "resource name (default protomesh-<filter>-<port>)")
    .option("--namespace <ns>", "resource namespace")
    .option("--selector <key=value>", "workload label (repeatable)", labels)
    .addOption(new Option("--kind <kind>", "resource kind (default: wasmplugin for tcp-stats and sniffer observe, envoyfilter for sniffer route/bypass)")
      .choices([...ISTIO_KINDS]))
    .option("--wasm-path <path>", "envoyfilter: path of the .wasm inside istio-proxy")
    .option("--url <url>", "wasmplugin: module URL, oci://…, https://… (with --sha256) or file:///… (default file:///var/local/lib/wasm/<filter>.wasm)")
    .option("--sha256 <hex>", "wasmplugin: SHA-256 of the module")
    .addOption(new Option("--phase <phase>", "wasmplugin: filter chain phase (default STATS)").choices([...WASM_PLUGIN_PHASES]))
    .option("--priority <n>", "wasmplugin: order within the phase, higher first", (v) => {
      if (!/^-?\d+$/.test(v) || Number(v) < -(2 ** 31) || Number(v) >= 2 ** 31) throw new InvalidArgumentError("--priority must be an int32");
      return Number(v);
    })
    .option("--configuration <json>", "plugin configuration (JSON object)", jsonObject)
    .addOption(failurePolicyOption())
    .option("--fail-open", "shorthand for --failure-policy FAIL_OPEN")
    .addOption(modeOption())
    .addOption(serverFirstOption())
    .addOption(new Option("--upstream-connect-mode <mode>", "sniffer: tcp_proxy upstream_connect_mode")
      .choices(["IMMEDIATE", "ON_DOWNSTREAM_DATA", "ON_DOWNSTREAM_TLS_HANDSHAKE"]))
    .option("--max-early-data-bytes <n>", `sniffer route: tcp_proxy max_early_data_bytes (default ${ROUTE_MAX_EARLY_DATA_BYTES}; Envoy: lte ${MAX_EARLY_DATA_BYTES})`, earlyDataBytes)
    .addOption(new Option("--peer-authentication <mode>", "sniffer bypass: the port's PeerAuthentication mTLS mode")
      .choices(["PERMISSIVE", "DISABLE", "STRICT"]))
    .option("--listener-filters-timeout <duration>", "sniffer bypass: virtualInbound listener_filters_timeout, e.g. 1s (server-first clients wait for it; binary clients too from Envoy 1.39 / Istio 1.31)")
    .option("--authorization-policy <file...>", "sniffer bypass: YAML files of the AuthorizationPolicies of the workload's and the root namespace")
    .option("--no-authorization-policies", "sniffer bypass: the workload has no AuthorizationPolicy (required when no --authorization-policy is given)")
    .option("--root-namespace <ns>", "sniffer bypass: meshConfig.rootNamespace (default istio-system)")
    .option("--port-name <name>", "sniffer bypass: the Service port's name (Istio reads the protocol from it, e.g. http-web)")
    .option("--app-protocol <protocol>", "sniffer bypass: the Service port's appProtocol (wins over --port-name, e.g. http)")
    .action((o: {
      filter: string; port: number; name?: string; namespace?: string; selector?: Record<string, string>;
      wasmPath?: string; configuration?: Record<string, unknown>; failOpen?: boolean; failurePolicy?: WasmFailurePolicy;
      mode?: string; serverFirst?: boolean; upstreamConnectMode?: UpstreamConnectMode; maxEarlyDataBytes?: number;
      peerAuthentication?: PeerAuthenticationMode; listenerFiltersTimeout?: string;
      authorizationPolicy?: string[]; authorizationPolicies: boolean; rootNamespace?: string; portName?: string; appProtocol?: string;
      kind?: IstioKind; url?: string; sha256?: string; phase?: WasmPluginPhase; priority?: number;
    }) => {
      const bypassOnly = [
        o.authorizationPolicy !== undefined && "--authorization-policy", !o.authorizationPolicies && "--no-authorization-policies",
        o.rootNamespace !== undefined && "--root-namespace", o.portName !== undefined && "--port-name", o.appProtocol !== undefined && "--app-protocol",
      ].filter((x): x is string => typeof x === "string");
      const mode = snifferMode(o.filter, o.mode);
      if (mode !== "bypass" && bypassOnly.length > 0) {
        throw new Error(`${bypassOnly.join(", ")} apply to --filter ${SNIFFER_NAME} --mode bypass only`);
      }
      const policy = failurePolicy(o);
      const kind = o.kind ?? defaultIstioKind(o.filter, mode);
      if (kind === "wasmplugin") {
        if (o.wasmPath !== undefined) throw new Error("--wasm-path applies to --kind envoyfilter; a WasmPlugin takes --url file:///<path>");
        if (o.upstreamConnectMode !== undefined || o.maxEarlyDataBytes !== undefined ||
          o.peerAuthentication !== undefined || o.listenerFiltersTimeout !== undefined) {
          throw new Error(
            "--upstream-connect-mode, --max-early-data-bytes, --peer-authentication and --listener-filters-timeout " +
              "patch tcp_proxy or the listener: they need --kind envoyfilter (sniffer route/bypass)",
          );
        }
        // observe leaves tcp_proxy at Istio's IMMEDIATE, which is what a server-first port needs.
        if (o.serverFirst === true && mode === undefined) throw new Error(`--server-first applies to --filter ${SNIFFER_NAME} only`);
        assertConfiguration(o.filter, o.configuration ?? {});
        const what = mode === undefined ? o.filter : `${o.filter} --mode ${mode}`;
        io.stdout(wasmPluginYaml({ ...o, failurePolicy: policy, mode, workloadLabels: o.selector }, header(`${what} filter`, ranCommand(argv))));
        return;
      }
      if (o.url !== undefined || o.sha256 !== undefined || o.phase !== undefined || o.priority !== undefined) {
        throw new Error("--url, --sha256, --phase and --priority apply to --kind wasmplugin");
      }
      if (mode !== undefined) {
        const policies = o.authorizationPolicy === undefined ? undefined : loadAuthorizationPolicies(o.authorizationPolicy);
        io.stdout(checked(snifferEnvoyFilterYaml(
          { ...o, authorizationPolicies: policies, failurePolicy: policy, mode, noAuthorizationPolicies: !o.authorizationPolicies, workloadLabels: o.selector },
          header(`${SNIFFER_NAME} filter in mode ${mode}`, ranCommand(argv)),
        )));
        if (policies !== undefined) {
          const selection = { labels: o.selector, namespace: o.namespace, rootNamespace: o.rootNamespace };
          for (const { policy, reason } of selectPolicies(policies, selection).skipped) {
            io.stderr(`protomesh: note: ${policy.origin}: AuthorizationPolicy ${policyId(policy)} does not apply to the workload: ${reason}\n`);
          }
        }
        return;
      }
      if (o.serverFirst === true || o.upstreamConnectMode !== undefined || o.maxEarlyDataBytes !== undefined ||
        o.peerAuthentication !== undefined || o.listenerFiltersTimeout !== undefined) {
        throw new Error(
          `--server-first, --upstream-connect-mode, --max-early-data-bytes, --peer-authentication and --listener-filters-timeout ` +
            `apply to --filter ${SNIFFER_NAME} only`,
        );
      }
      io.stdout(checked(wasmEnvoyFilterYaml({ ...o, failurePolicy: policy, workloadLabels: o.selector }, header(`${o.filter} filter`, ranCommand(argv)))));
    });

  addRenderRulesCommand(render, { ...io, header: (what) => header(what, ranCommand(argv)) });
  addRenderHttpTelemetryCommand(render, { ...io, header: (what) => header(what, ranCommand(argv)) });

  cli
    .command("validate")
    .description("validate Envoy bootstrap YAML files against Envoy's protos (+ overlay), their validate rules, and each Wasm plugin configuration against its filter's rules")
    .argument("<files...>", "Envoy bootstrap YAML files")
    .action((files: string[]) => {
      for (const file of files) {
        const issues = validateEnvoyFile(file, { extraChecks: [pluginConfigurationCheck] }).map((i) => ({ ...i, file }));
        if (issues.length > 0) {
          io.stderr(issues.map(formatIssue).join("\n") + "\n");
          process.exitCode = 1;
          continue;
        }
        const clusters = definedClusters(parseAllDocuments(readFileSync(file, "utf8"))[0]?.toJS());
        io.stdout(`${file}: valid Envoy bootstrap${clusters.why === undefined ? "" : ` (note: ${clusters.why})`}\n`);
      }
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

/** The filters' own checks on each Wasm plugin configuration (what on_configure would refuse), as a validator extra check. */
const pluginConfigurationCheck: ExtraCheck = (config) => checkPluginConfigurations(config).map((message) => ({ message, path: "" }));

function header(what: string, command: string): string {
  return `Generated by protomesh for the ${what}. Do not edit; regenerate with:\n  ${command}`;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Actions report failure through process.exitCode; start from a clean one so a code set
  // earlier in the same process (a test runner's, an earlier run's) is not taken for ours.
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program(io, argv).parseAsync([...argv], { from: "user" });
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
