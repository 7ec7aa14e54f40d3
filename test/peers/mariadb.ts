/**
 * A real MariaDB (Debian `mariadb-server`) in a temp dir: `mariadb-install-db` then `mariadbd`
 * on 127.0.0.1 and a free port, `--skip-grant-tables` so any user logs in without a password.
 * As root, both run with `--user=mysql` (mariadbd refuses root otherwise).
 */
import { join } from "node:path";
import { installCommand, mariadbBinaries } from "../../scripts/provision.mjs";
import { firstReply, isRoot, removeDir, runChecked, startDaemon, tempDir, waitReady, withFreePortRetry } from "./process.js";

export interface MariaDbServer {
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Ready = the server sends its handshake greeting (protocol version 10) on connect. */
const greets = (port: number) => firstReply(port, undefined, (c) => c.length > 4 && c[4] === 10);

export async function startMariaDb(): Promise<MariaDbServer> {
  const bins = mariadbBinaries();
  if (bins === undefined) throw new Error(`mariadb: mariadb-install-db / mariadbd not found; ${installCommand(["mariadb-server"])}`);
  const { installDb, server } = bins;
  // Only root may (and must) name the user to switch to.
  const userArg = isRoot() ? ["--user=mysql"] : [];
  const dir = tempDir("mariadb", isRoot() ? "mysql" : undefined);
  const data = join(dir, "data");
  try {
    runChecked("mariadb-install-db", installDb, [
      "--no-defaults",
      `--datadir=${data}`,
      ...userArg,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      "--skip-name-resolve",
    ]);
  } catch (err) {
    removeDir(dir);
    throw err;
  }
  try {
    return await withFreePortRetry(async (port) => {
      const socket = join(dir, "mysqld.sock");
      const logFile = join(dir, `error-${port}.log`);
      const daemon = startDaemon("mariadbd", server, [
        "--no-defaults",
        `--datadir=${data}`,
        ...userArg,
        `--port=${port}`,
        `--socket=${socket}`,
        `--pid-file=${join(dir, "mariadbd.pid")}`,
        `--log-error=${logFile}`,
        "--bind-address=127.0.0.1",
        "--skip-grant-tables",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=8M",
        "--max-connections=20",
      ], logFile);
      await waitReady(`mariadbd on port ${port}`, daemon, greets(port));
      return {
        port,
        socket,
        dir,
        async stop() {
          await daemon.stop(10_000);
          removeDir(dir);
        },
      };
    });
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}
