/**
 * DaemonPeer: a missing package skips only the tests of that server, a failed start fails only
 * them, and nothing is left running.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonPeer } from "./process.js";

class FakeServer {
  stops = 0;
  async stop(): Promise<void> {
    this.stops++;
  }
}

describe("DaemonPeer", () => {
  it("with its package missing it never starts, and ready() says why", async () => {
    let starts = 0;
    const reason = "needs the Debian package redis-server (the real Redis peer); install: apt-get install -y redis-server";
    const peer = new DaemonPeer("redis-server", async () => {
      starts++;
      return new FakeServer();
    }, reason);
    assert.equal(peer.skip, reason);
    peer.start();
    assert.equal(starts, 0);
    await assert.rejects(peer.ready(), /redis-server: not started \(needs the Debian package redis-server/);
    await peer.stop();
  });

  it("a failed start rejects ready() with the start error for every test that awaits it, and stop() is a no-op", async () => {
    const peer = new DaemonPeer("mariadb-server", () => Promise.reject(new Error("mariadbd exited during start (code 1)")), false);
    peer.start();
    await assert.rejects(peer.ready(), /mariadbd exited during start/);
    await assert.rejects(peer.ready(), /mariadbd exited during start/);
    await peer.stop();
  });

  it("starts once, hands every test the same server and stops it once", async () => {
    let starts = 0;
    const server = new FakeServer();
    const peer = new DaemonPeer("postgresql", async () => {
      starts++;
      return server;
    }, false);
    peer.start();
    peer.start();
    assert.equal(await peer.ready(), server);
    assert.equal(await peer.ready(), server);
    assert.equal(starts, 1);
    await peer.stop();
    assert.equal(server.stops, 1);
  });

  it("ready() before start() names the missing call", async () => {
    const peer = new DaemonPeer("postgresql", async () => new FakeServer(), false);
    await assert.rejects(peer.ready(), /postgresql: not started \(start\(\) was not called\)/);
  });
});
