// The one module that owns the socket: connect with `pm.v1` + `bearer.<token>`, correlate requests
// with replies by request id, time out requests that get no answer, reconnect with exponential
// backoff and jitter, resume every watched project from its last applied sequence number, and keep
// mutations made while disconnected until they can be sent with their original request ids.
// Components never see a WebSocket, and `bigint` sequence numbers never leave net/ and store/.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ClientMessageSchema,
  ResyncReason,
  ServerMessageSchema,
  type Event,
  type Presence,
  type Reply,
  type ResyncRequired,
  type Welcome,
} from "../gen/pm/v1/envelope_pb";
import type { Snapshot } from "../gen/pm/v1/commands_pb";
import { ErrorCode } from "../gen/pm/v1/envelope_pb";
import { RequestError, isMutation, newRequestId, type Command, type ReplyResult, type ResultOf } from "./protocol";

/** The part of a browser `WebSocket` the connection uses, so tests can hand in a fake. */
export interface SocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

/** What the connection needs from a project's store to keep it in sync. */
export interface SyncTarget {
  readonly projectId: string;
  /** Where to resume from, or null when the target holds no snapshot (or one from another epoch). */
  resumePoint(): { since: bigint; epoch: string } | null;
  applySnapshot(snapshot: Snapshot): void;
  applyEvent(event: Event): void;
  /** The held copy can no longer be caught up (a resync is under way). */
  markStale(): void;
  /** Who is viewing the project (from Subscribed). */
  setViewers?(viewers: string[]): void;
  /** A change of who is viewing (from Presence), applied to the set `setViewers` started. */
  applyPresence?(arrived: string[], departed: string[]): void;
}

export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline" | "closed";

export interface ConnectionStatus {
  state: ConnectionState;
  /** Failed attempts since the connection was last live. */
  attempt: number;
  /** Mutations waiting to be sent (made while disconnected) or answered. */
  queued: number;
  /** Why the connection was closed for good (token expired or refused), when it was. */
  closedReason?: string;
}

export interface ConnectionOptions {
  url: string;
  token: string;
  socketFactory?: SocketFactory;
  /** A request without a reply for this long fails (time spent disconnected is not counted for mutations). */
  requestTimeoutMs?: number;
  /** Backoff: first delay and cap. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  /** Asked when the socket closes before any Welcome: is the token itself refused? */
  checkToken?: (token: string) => Promise<"ok" | "refused" | "unknown">;
}

interface Pending {
  requestId: string;
  frame: Uint8Array;
  mutation: boolean;
  /** Sent on the current socket (reset on every disconnect). */
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (reply: Reply) => void;
  reject: (err: RequestError) => void;
  /** Times it was sent again after a retryable error. */
  retries: number;
}

/** UNAVAILABLE answers (a busy database, a server starting or stopping) retried before giving up. */
const MAX_UNAVAILABLE_RETRIES = 5;

/** Failed attempts after which the indicator says "offline" rather than "reconnecting". */
const OFFLINE_AFTER_ATTEMPTS = 5;

export class Connection {
  private readonly opts: Required<Omit<ConnectionOptions, "checkToken">> & Pick<ConnectionOptions, "checkToken">;
  private socket: SocketLike | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly targets = new Map<string, SyncTarget>();
  private status: ConnectionStatus = { state: "connecting", attempt: 0, queued: 0 };
  private readonly statusListeners = new Set<(s: ConnectionStatus) => void>();
  private readonly welcomeListeners = new Set<(w: Welcome) => void>();
  private readonly presenceListeners = new Set<(p: Presence) => void>();
  private readonly eventListeners = new Set<(e: Event) => void>();
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** Set once Welcome arrived and every watched project was resumed: mutations may flow. */
  private ready = false;
  private generation = 0;
  private goingAwayDelayMs: number | undefined;
  welcome: Welcome | null = null;

  constructor(options: ConnectionOptions) {
    this.opts = {
      socketFactory: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
      requestTimeoutMs: 15_000,
      backoffBaseMs: 500,
      backoffMaxMs: 10_000,
      random: Math.random,
      ...options,
    };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Opens the socket; after `close` it starts over (React's development mode mounts twice). */
  start(): void {
    if (this.status.state === "closed") this.setStatus({ state: "connecting", attempt: 0, closedReason: undefined });
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    this.open();
  }

  /** The browser is back online: try now instead of waiting out the backoff. */
  private onOnline = (): void => {
    if (this.status.state !== "reconnecting" && this.status.state !== "offline") return;
    clearTimeout(this.reconnectTimer);
    const stale = this.socket;
    this.socket = null;
    this.open();
    stale?.close(1000, "reconnecting");
  };

  /** Closes for good (sign out). Unsent mutations are refused, visibly, through their promises. */
  close(reason = "signed out"): void {
    this.setStatus({ state: "closed", closedReason: reason });
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const s = this.socket;
    this.socket = null;
    s?.close(1000, reason);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RequestError("closed", `Not sent: ${reason}`));
    }
    this.pending.clear();
    this.updateQueued();
  }

  private open(): void {
    const generation = ++this.generation;
    this.ready = false;
    this.welcome = null;
    let socket: SocketLike;
    try {
      socket = this.opts.socketFactory(this.opts.url, ["pm.v1", `bearer.${this.opts.token}`]);
    } catch {
      this.scheduleReconnect();
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let welcomed = false;
    socket.onmessage = (ev) => {
      if (generation !== this.generation) return;
      const data = ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : (ev.data as Uint8Array);
      let msg;
      try {
        msg = fromBinary(ServerMessageSchema, data);
      } catch {
        console.warn("pm: undecodable server frame ignored");
        return;
      }
      if (msg.message.case === "welcome") welcomed = true;
      this.handle(msg.message);
    };
    socket.onclose = (ev) => {
      if (generation !== this.generation) return;
      this.onDisconnect(ev.code, ev.reason, welcomed);
    };
    socket.onerror = () => {
      /* onclose follows */
    };
  }

  private onDisconnect(code: number, reason: string, welcomed: boolean): void {
    this.socket = null;
    this.ready = false;
    clearInterval(this.heartbeatTimer);
    for (const p of this.pending.values()) {
      p.sent = false;
      // A mutation's clock stops while it cannot be sent; a read keeps counting.
      if (p.mutation) {
        clearTimeout(p.timer);
        p.timer = undefined;
      }
    }
    if (this.status.state === "closed") return;
    if (code === 1008 || /token expired/i.test(reason)) {
      this.close("Your session has expired. Sign in again.");
      return;
    }
    if (!welcomed && this.opts.checkToken) {
      const token = this.opts.token;
      void this.opts.checkToken(token).then((verdict) => {
        if (verdict === "refused" && this.status.state !== "closed") {
          this.close("The server did not accept this token (expired or invalid). Sign in again.");
        }
      });
    }
    const delay = this.goingAwayDelayMs;
    this.goingAwayDelayMs = undefined;
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delayMs?: number): void {
    if (this.status.state === "closed") return;
    const attempt = this.status.attempt + 1;
    const offline = typeof navigator !== "undefined" && navigator.onLine === false;
    this.setStatus({
      state: offline || attempt > OFFLINE_AFTER_ATTEMPTS ? "offline" : "reconnecting",
      attempt,
    });
    const delay = delayMs ?? this.backoff(attempt);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, capped. */
  backoff(attempt: number): number {
    const exp = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(exp / 2 + (this.opts.random() * exp) / 2);
  }

  // ---- inbound ---------------------------------------------------------------------------------

  private handle(m: ReturnType<typeof fromBinary<typeof ServerMessageSchema>>["message"]): void {
    switch (m.case) {
      case "welcome":
        this.welcome = m.value;
        for (const l of this.welcomeListeners) l(m.value);
        void this.resume(this.generation);
        return;
      case "reply":
        this.onReply(m.value);
        return;
      case "event":
        this.routeEvent(m.value);
        return;
      case "resyncRequired":
        void this.onResync(m.value);
        return;
      case "goingAway":
        // The server closes next; come back after the announced delay (plus a little jitter so
        // that every client of a restarting server does not return in the same millisecond).
        this.goingAwayDelayMs = m.value.reconnectAfterMs + Math.round(this.opts.random() * 250);
        return;
      case "presence":
        this.targets.get(m.value.projectId)?.applyPresence?.(m.value.arrived, m.value.departed);
        for (const l of this.presenceListeners) l(m.value);
        return;
      default:
        // A message kind this client does not know: ignored, as the protocol asks.
        return;
    }
  }

  private routeEvent(e: Event): void {
    this.targets.get(e.projectId)?.applyEvent(e);
    for (const l of this.eventListeners) l(e);
  }

  private onReply(reply: Reply): void {
    // The sender gets its own events only here; apply them even if the request timed out locally.
    for (const e of reply.events) this.routeEvent(e);
    const p = this.pending.get(reply.requestId);
    if (!p) return;
    if (reply.result.case === "error" && this.retry(p, reply.result.value.code, reply.result.value.retryAfterMs)) return;
    this.pending.delete(reply.requestId);
    clearTimeout(p.timer);
    this.updateQueued();
    p.resolve(reply);
  }

  /**
   * Errors the protocol says to retry with the same request id: RATE_LIMITED after the announced
   * wait, UNAVAILABLE with backoff, INTERNAL once. True when the request was scheduled again.
   */
  private retry(p: Pending, code: ErrorCode, retryAfterMs: number): boolean {
    const limit = code === ErrorCode.RATE_LIMITED ? 10 : code === ErrorCode.UNAVAILABLE ? MAX_UNAVAILABLE_RETRIES : code === ErrorCode.INTERNAL ? 1 : 0;
    if (p.retries >= limit) return false;
    p.retries++;
    clearTimeout(p.timer);
    p.timer = undefined;
    p.sent = false;
    const delay = code === ErrorCode.RATE_LIMITED ? Math.max(retryAfterMs, 50) : this.backoff(p.retries);
    setTimeout(() => {
      // Still wanted, and the socket it would go on is ready for it (else resume sends it).
      if (this.pending.get(p.requestId) === p && !p.sent && this.socket && this.welcome && (!p.mutation || this.ready)) {
        this.transmit(p);
      }
    }, delay);
    return true;
  }

  private async onResync(r: ResyncRequired): Promise<void> {
    const targets = r.projectId ? [this.targets.get(r.projectId)].filter(Boolean) : [...this.targets.values()];
    const generation = this.generation;
    for (const t of targets as SyncTarget[]) {
      t.markStale();
      try {
        // After a queue overflow every subscription ended: subscribe again first.
        if (r.reason === ResyncReason.QUEUE_OVERFLOW || !r.projectId) {
          await this.send({ case: "subscribe", value: { projectId: t.projectId } }, "subscribed");
        }
        await this.snapshot(t);
      } catch (e) {
        if (generation === this.generation) console.warn("pm: resync failed", e);
      }
    }
  }

  /** After Welcome: re-establish every watched project, then let queued mutations go. */
  private async resume(generation: number): Promise<void> {
    this.setStatus({ state: "live", attempt: 0 });
    // Reads waiting for a socket go first; mutations wait until the stores caught up.
    for (const p of this.pending.values()) if (!p.mutation) this.transmit(p);
    try {
      await Promise.all([...this.targets.values()].map((t) => this.sync(t)));
    } catch (e) {
      if (generation !== this.generation) return;
      console.warn("pm: resume failed", e);
    }
    if (generation !== this.generation) return;
    this.ready = true;
    for (const p of this.pending.values()) if (!p.sent) this.transmit(p);
    this.startHeartbeat();
  }

  private async sync(t: SyncTarget): Promise<void> {
    const rp = t.resumePoint();
    const epoch = this.welcome?.historyEpoch ?? "";
    if (rp && (!epoch || !rp.epoch || rp.epoch === epoch)) {
      const sub = await this.send(
        { case: "subscribe", value: { projectId: t.projectId, since: rp.since, historyEpoch: rp.epoch } },
        "subscribed",
      );
      t.setViewers?.(sub.viewers);
      // A server that knows epochs answers with its own; another history means a fresh copy.
      if (sub.historyEpoch && rp.epoch && sub.historyEpoch !== rp.epoch) {
        t.markStale();
        await this.snapshot(t);
      }
      return;
    }
    t.markStale();
    const sub = await this.send({ case: "subscribe", value: { projectId: t.projectId } }, "subscribed");
    t.setViewers?.(sub.viewers);
    await this.snapshot(t);
  }

  private async snapshot(t: SyncTarget): Promise<void> {
    const snap = await this.send({ case: "getSnapshot", value: { projectId: t.projectId } }, "snapshot");
    t.applySnapshot(snap);
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    const every = this.welcome?.limits?.heartbeatIntervalMs || 15_000;
    // The browser answers the server's pings by itself; this detects a dead socket on our side
    // (a server that vanished without closing) by timing out an application-level ping.
    this.heartbeatTimer = setInterval(() => {
      const generation = this.generation;
      this.send({ case: "ping", value: {} }, "pong").catch(() => {
        if (generation === this.generation && this.socket) this.socket.close(4000, "heartbeat timeout");
      });
    }, every);
  }

  // ---- outbound --------------------------------------------------------------------------------

  /** Watches a project: subscribes (now, and after every reconnect) and keeps `target` current. */
  watch(target: SyncTarget): void {
    this.targets.set(target.projectId, target);
    if (this.welcome && this.socket) {
      this.sync(target).catch((e) => console.warn("pm: subscribe failed", e));
    }
  }

  watching(projectId: string): boolean {
    return this.targets.has(projectId);
  }

  unwatch(projectId: string): void {
    if (!this.targets.delete(projectId)) return;
    if (this.ready) this.send({ case: "unsubscribe", value: { projectId } }, "unsubscribed").catch(() => {});
  }

  /**
   * Sends one command and resolves with its reply's typed result (its events are already applied
   * to the watched stores by then). Fails with a RequestError on a server error, a timeout or a
   * close. Mutations made while disconnected wait and are sent, with `requestId`, after resuming.
   */
  async send<C extends ReplyResult["case"]>(
    command: Command,
    expect: C,
    requestId: string = newRequestId(),
  ): Promise<ResultOf<C>> {
    const reply = await this.request(command, requestId);
    const r = reply.result;
    if (r.case === "error") throw RequestError.fromServer(r.value);
    if (r.case !== expect) throw new RequestError("unexpected", `Unexpected reply ${String(r.case)} to ${command.case}`);
    return r.value as ResultOf<C>;
  }

  request(command: Command, requestId: string = newRequestId()): Promise<Reply> {
    if (this.status.state === "closed") {
      return Promise.reject(new RequestError("closed", this.status.closedReason ?? "Signed out"));
    }
    const frame = toBinary(ClientMessageSchema, create(ClientMessageSchema, { requestId, command }));
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = {
        requestId,
        frame,
        mutation: isMutation(command.case),
        sent: false,
        timer: undefined,
        resolve,
        reject,
        retries: 0,
      };
      this.pending.set(requestId, p);
      this.updateQueued();
      const canSend = this.socket && this.welcome && (p.mutation ? this.ready : true);
      if (canSend) this.transmit(p);
      else if (!p.mutation) this.armTimer(p);
    });
  }

  private transmit(p: Pending): void {
    if (!this.socket) return;
    try {
      this.socket.send(p.frame);
    } catch {
      return; // the close handler will requeue it
    }
    p.sent = true;
    if (!p.timer) this.armTimer(p);
  }

  private armTimer(p: Pending): void {
    p.timer = setTimeout(() => {
      if (!this.pending.has(p.requestId)) return;
      this.pending.delete(p.requestId);
      this.updateQueued();
      p.reject(new RequestError("timeout", "The server did not answer in time. Check the connection and try again."));
    }, this.opts.requestTimeoutMs);
  }

  // ---- observers -------------------------------------------------------------------------------

  getStatus(): ConnectionStatus {
    return this.status;
  }

  onStatus(l: (s: ConnectionStatus) => void): () => void {
    this.statusListeners.add(l);
    return () => this.statusListeners.delete(l);
  }

  onWelcome(l: (w: Welcome) => void): () => void {
    this.welcomeListeners.add(l);
    return () => this.welcomeListeners.delete(l);
  }

  onPresence(l: (p: Presence) => void): () => void {
    this.presenceListeners.add(l);
    return () => this.presenceListeners.delete(l);
  }

  /** Every event applied (live, replayed or from a reply), after the stores saw it. */
  onEvent(l: (e: Event) => void): () => void {
    this.eventListeners.add(l);
    return () => this.eventListeners.delete(l);
  }

  private setStatus(patch: Partial<ConnectionStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const l of this.statusListeners) l(this.status);
  }

  private updateQueued(): void {
    let queued = 0;
    for (const p of this.pending.values()) if (p.mutation) queued++;
    if (queued !== this.status.queued) this.setStatus({ queued });
  }
}

export { ErrorCode };
