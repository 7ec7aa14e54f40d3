/**
 * A real PostgreSQL (Debian, 15 on bookworm) cluster in a temp dir: initdb with trust auth, listening on
 * 127.0.0.1 and a unix socket inside the temp dir. As root, initdb and postgres run as the
 * `postgres` user because both refuse to run as root.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  asUser,
  firstReply,
  isRoot,
  lookupUser,
  removeDir,
  runChecked,
  startDaemon,
  tempDir,
  waitReady,
  withFreePortRetry,
} from "./process.js";

/** PROTOMESH_PG_BIN, else the newest Debian /usr/lib/postgresql/<major>/bin (15 on bookworm). */
function pgBin(): string {
  if (process.env.PROTOMESH_PG_BIN) return process.env.PROTOMESH_PG_BIN;
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return join(root, majors[0] ?? "15", "bin");
}
export const PG_USER = "postgres";

export interface PostgresServer {
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Ready = the server answers a protocol-3 SSLRequest with 'N' (it does so only once accepting). */
const answersSslRequest = (port: number) =>
  firstReply(port, Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), (c) => c[0] === 0x4e || c[0] === 0x53);

export async function startPostgres(): Promise<PostgresServer> {
  const bin = pgBin();
  const initdb = join(bin, "initdb");
  if (!existsSync(initdb)) throw new Error(`postgres: ${initdb} not found; install the Debian package postgresql (or set PROTOMESH_PG_BIN)`);
  if (isRoot() && lookupUser(PG_USER) === undefined) throw new Error(`postgres: system user ${PG_USER} missing`);
  const dir = tempDir("pg", PG_USER);
  const data = join(dir, "data");
  try {
    const [cmd, args] = asUser(PG_USER, initdb, ["-D", data, "-U", PG_USER, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    runChecked("postgres initdb", cmd, args);
  } catch (err) {
    removeDir(dir);
    throw err;
  }
  try {
    return await withFreePortRetry(async (port) => {
      const [cmd, args] = asUser(PG_USER, join(bin, "postgres"), [
        "-D", data,
        "-p", String(port),
        "-h", "127.0.0.1",
        "-k", dir,
        "-c", "fsync=off",
        "-c", "shared_buffers=16MB",
        "-c", "max_connections=20",
        "-c", "logging_collector=off",
      ]);
      // postgres logs to stderr, which the daemon's log tail keeps.
      const daemon = startDaemon("postgres", cmd, args);
      await waitReady(`postgres on port ${port}`, daemon, answersSslRequest(port));
      return {
        port,
        user: PG_USER,
        database: "postgres",
        dir,
        async stop() {
          // SIGTERM = smart shutdown waits for clients; SIGINT = fast shutdown.
          daemon.child.kill("SIGINT");
          await daemon.stop(5000);
          removeDir(dir);
        },
      };
    });
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}
