/** A real Debian `redis-server` on a free port, persistence off, in a temp dir. */
import { removeDir, startDaemon, tempDir, waitReady, portOpen, withFreePortRetry, type Daemon } from "./process.js";

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export function startRedis(): Promise<RedisServer> {
  // redis-server rejects `--port 0`, so the port is chosen beforehand.
  return withFreePortRetry(async (port) => {
    const dir = tempDir("redis");
    const logFile = `${dir}/redis.log`;
    const daemon: Daemon = startDaemon("redis-server", "redis-server", [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--save", "",
      "--appendonly", "no",
      "--daemonize", "no",
      "--logfile", logFile,
    ], logFile);
    try {
      await waitReady(`redis-server on port ${port}`, daemon, portOpen(port));
    } catch (err) {
      removeDir(dir);
      throw err;
    }
    return {
      port,
      dir,
      async stop() {
        await daemon.stop();
        removeDir(dir);
      },
    };
  });
}
