// A real pm-server for the browser tests: a fresh data directory, the demo tenant, the address read
// from its own output, readiness polled on /ready (no sleeps), and kill/restart on the same port and
// data directory to test resuming.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { webcrypto } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { Connection, type SocketLike } from "../../src/net/connection";

// Request ids come from crypto.randomUUID, global from Node 19 on; Debian's Node 18 needs this.
if (!globalThis.crypto) Object.assign(globalThis, { crypto: webcrypto });

const FRONTEND = resolve(__dirname, "../..");
export const SERVER_BIN = resolve(FRONTEND, process.env.PM_SERVER_BIN ?? "../target/debug/pm-server");
/** Far beyond any real delay: only turns a hang into a failure. */
export const PATIENCE = 30_000;

export class PmServer {
  readonly dataDir = mkdtempSync(join(tmpdir(), "pm-e2e-"));
  private child: ChildProcess | null = null;
  /** host:port, fixed after the first start so restarts use the same address. */
  addr = "";
  signInLink = "";
  output = "";

  get url(): string {
    return `http://${this.addr}`;
  }

  /** Starts the server (on `listen`, default: the address of the first start or a free port). */
  async start(listen = this.addr || "127.0.0.1:0"): Promise<{ addr: string }> {
    const child = spawn(SERVER_BIN, ["serve", "--demo", "--data-dir", this.dataDir, "--listen", listen], {
      env: { ...process.env, PM_WEB_DIR: join(FRONTEND, "dist"), PM_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const addr = await new Promise<string>((ok, fail) => {
      let out = "";
      const onData = (d: Buffer) => {
        out += d.toString();
        this.output += d.toString();
        const link = /(http:\/\/([\d.:]+)\/#token=\S+)/.exec(out);
        if (link) {
          child.stdout!.off("data", onData);
          if (!this.signInLink || listen === this.addr) this.signInLink = link[1]!;
          ok(link[2]!);
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (d: Buffer) => (this.output += d.toString()));
      child.once("exit", (code) => fail(new Error(`pm-server exited (${code}) before listening:\n${this.output}`)));
    });
    if (!this.addr) this.addr = addr;
    await waitReady(`http://${addr}`);
    return { addr };
  }

  /** Stops the server: SIGKILL (a crash) or SIGTERM (a graceful shutdown with GoingAway). */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  token(user: string, role: "viewer" | "editor" | "admin", tenant = "demo"): string {
    return execFileSync(SERVER_BIN, ["token", "--data-dir", this.dataDir, "--tenant", tenant, "--user", user, "--role", role], {
      encoding: "utf8",
    }).trim();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + PATIENCE;
  for (;;) {
    try {
      const res = await fetch(`${base}/ready`);
      if (res.ok) return;
    } catch {
      /* not accepting yet */
    }
    if (Date.now() > deadline) throw new Error(`${base}/ready never answered`);
    await new Promise((r) => setTimeout(r, 25)); // poll interval, not a readiness guess
  }
}

/** A protocol client for setting up data and checking results (the app's own connection module). */
export async function protocolClient(addr: string, token: string): Promise<Connection> {
  const conn = new Connection({
    url: `ws://${addr}/ws`,
    token,
    socketFactory: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
  });
  const welcomed = new Promise<void>((ok) => conn.onWelcome(() => ok()));
  conn.start();
  await welcomed;
  return conn;
}
