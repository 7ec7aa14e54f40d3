/**
 * A real PostgreSQL (Debian, 15 on bookworm) cluster in a temp dir: initdb with trust auth, listening on
 * 127.0.0.1 and a unix socket inside the temp dir. As root, initdb and postgres run as the
 * `postgres` user because both refuse to run as root.
 */
import { join } from "node:path";
import { installCommand, postgresBinDir } from "../../scripts/provision.mjs";
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

export const PG_USER = "postgres";

export interface PostgresServer {
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A protocol 3.0 StartupMessage for `user` on database `postgres`. */
function startupMessage(user: string): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + params.length, 0);
  head.writeUInt32BE(196608, 4);
  return Buffer.concat([head, params]);
}

/**
 * Ready = a startup message is answered with an Authentication message ('R'; trust auth says
 * AuthenticationOk). The postmaster accepts connections (and answers an SSLRequest) while the
 * startup process still runs; a session then gets ErrorResponse 57P03 "starting up" ('E').
 */
const acceptsSessions = (port: number) => firstReply(port, startupMessage(PG_USER), (c) => c[0] === 0x52);

export async function startPostgres(): Promise<PostgresServer> {
  // PROTOMESH_PG_BIN, else the newest Debian /usr/lib/postgresql/<major>/bin (15 on bookworm).
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(`postgres: no initdb; ${installCommand(["postgresql"])} (or set PROTOMESH_PG_BIN)`);
  const initdb = join(bin, "initdb");
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
      await waitReady(`postgres on port ${port}`, daemon, acceptsSessions(port));
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
