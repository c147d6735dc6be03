import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SnapshotSchema } from "../gen/pm/v1/commands_pb";
import {
  ClientMessageSchema,
  ErrorCode,
  ResyncReason,
  ServerMessageSchema,
  type ClientMessage,
} from "../gen/pm/v1/envelope_pb";
import { WorkItemSchema, WorkItemStatus, WorkItemType } from "../gen/pm/v1/entities_pb";
import { ProjectStore } from "../store/project";
import { Connection, type SocketLike } from "./connection";
import { RequestError } from "./protocol";

/** A socket the test drives: it records frames sent and delivers frames the test hands it. */
class FakeSocket implements SocketLike {
  binaryType = "";
  sent: ClientMessage[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly protocols: string[]) {}
  send(data: Uint8Array): void {
    if (this.closed) throw new Error("closed");
    this.sent.push(fromBinary(ClientMessageSchema, data));
  }
  close(): void {
    this.closed = true;
  }
  deliver(m: MessageInitShape<typeof ServerMessageSchema>["message"]): void {
    const frame = toBinary(ServerMessageSchema, create(ServerMessageSchema, { message: m }));
    this.onmessage?.({ data: frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) });
  }
  welcome(epoch = "e1"): void {
    this.deliver({ case: "welcome", value: { userId: "ann", tenantId: "acme", historyEpoch: epoch, limits: { heartbeatIntervalMs: 60_000 } } });
  }
  reply(requestId: string, result: Record<string, unknown>, events: unknown[] = []): void {
    this.deliver({ case: "reply", value: { requestId, result, events } as never });
  }
  drop(code = 1006): void {
    this.closed = true;
    this.onclose?.({ code, reason: "" });
  }
  last(): ClientMessage {
    return this.sent[this.sent.length - 1]!;
  }
}

const P = "p1";
const item = (id: string, version: bigint, title = `item ${id}`) =>
  create(WorkItemSchema, { id, projectId: P, key: `WEB-${id}`, type: WorkItemType.TASK, status: WorkItemStatus.TODO, title, version, position: "m" });

let sockets: FakeSocket[];
let conn: Connection;

function setup(): void {
  sockets = [];
  conn = new Connection({
    url: "ws://test/ws",
    token: "tok",
    socketFactory: (_url, protocols) => {
      const s = new FakeSocket(protocols);
      sockets.push(s);
      return s;
    },
    requestTimeoutMs: 5_000,
    random: () => 0.5,
  });
  conn.start();
}

const flush = () => new Promise<void>((r) => queueMicrotask(r)).then(() => Promise.resolve());
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await flush();
}

beforeEach(() => {
  vi.useFakeTimers();
  setup();
});
afterEach(() => {
  conn.close();
  vi.useRealTimers();
});

describe("connection", () => {
  it("offers pm.v1 and the bearer token as subprotocols", () => {
    expect(sockets[0]!.protocols).toEqual(["pm.v1", "bearer.tok"]);
  });

  it("correlates replies by request id, whatever the order", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    const a = conn.send({ case: "listProjects", value: {} }, "projectList");
    const b = conn.send({ case: "ping", value: {} }, "pong");
    const [ma, mb] = s.sent.slice(-2);
    s.reply(mb!.requestId, { case: "pong", value: { serverTime: 7n } });
    s.reply(ma!.requestId, { case: "projectList", value: { projects: [] } });
    expect((await b).serverTime).toBe(7n);
    expect((await a).projects).toEqual([]);
  });

  it("fails a request that gets no reply in time, instead of hanging", async () => {
    sockets[0]!.welcome();
    await settle();
    const p = conn.send({ case: "listProjects", value: {} }, "projectList");
    vi.advanceTimersByTime(5_001);
    await expect(p).rejects.toMatchObject({ code: "timeout" });
  });

  it("surfaces a server error with its code and field", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    const p = conn.send({ case: "createProject", value: { key: "x", title: "X" } }, "project");
    await settle();
    s.reply(s.last().requestId, { case: "error", value: { code: ErrorCode.VALIDATION, field: "key", message: "bad key" } });
    await expect(p).rejects.toMatchObject({ code: ErrorCode.VALIDATION, field: "key", message: "bad key" });
  });

  it("retries UNAVAILABLE and RATE_LIMITED with the same request id, then succeeds", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    const p = conn.send({ case: "createProject", value: { key: "AB", title: "x" } }, "project");
    await settle();
    const first = s.last();
    s.reply(first.requestId, { case: "error", value: { code: ErrorCode.UNAVAILABLE, message: "busy" } });
    vi.advanceTimersByTime(1_000);
    expect(s.last().requestId).toBe(first.requestId);
    expect(s.sent.filter((m) => m.requestId === first.requestId)).toHaveLength(2);
    s.reply(first.requestId, { case: "error", value: { code: ErrorCode.RATE_LIMITED, retryAfterMs: 300 } });
    vi.advanceTimersByTime(299);
    expect(s.sent.filter((m) => m.requestId === first.requestId)).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(s.sent.filter((m) => m.requestId === first.requestId)).toHaveLength(3);
    s.reply(first.requestId, { case: "project", value: { project: { id: "p", key: "AB" } } });
    expect((await p).project?.key).toBe("AB");
  });

  it("does not retry an error that would fail again", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    const p = conn.send({ case: "createProject", value: { key: "AB", title: "x" } }, "project");
    await settle();
    s.reply(s.last().requestId, { case: "error", value: { code: ErrorCode.CONFLICT, message: "key taken" } });
    await expect(p).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    vi.advanceTimersByTime(10_000);
    expect(s.sent.filter((m) => m.command.case === "createProject")).toHaveLength(1);
  });

  it("reconnects with growing, jittered, capped delays", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => conn.backoff(n));
    expect(delays[0]).toBe(375); // 500 ms: half fixed + half * 0.5
    expect(delays[1]).toBe(750);
    expect(delays[7]).toBe(7_500); // capped at 10 s
    const s = sockets[0]!;
    s.drop();
    expect(conn.getStatus()).toMatchObject({ state: "reconnecting", attempt: 1 });
    vi.advanceTimersByTime(374);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
  });

  it("subscribes, takes a snapshot, and resumes from the last seq with the epoch after a drop", async () => {
    const store = new ProjectStore(P);
    conn.watch(store);
    let s = sockets[0]!;
    s.welcome("e1");
    await settle();
    expect(s.last().command.case).toBe("subscribe");
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    expect(s.last().command.case).toBe("getSnapshot");
    s.reply(s.last().requestId, { case: "snapshot", value: create(SnapshotSchema, { seq: 10n, workItems: [item("1", 1n)], historyEpoch: "e1" }) });
    await settle();
    s.deliver({ case: "event", value: { seq: 11n, projectId: P, change: { change: { case: "workItem", value: item("1", 2n, "live") } } } });
    expect(store.item("1")?.title).toBe("live");

    s.drop();
    expect(conn.getStatus().state).toBe("reconnecting");
    vi.advanceTimersByTime(10_000);
    s = sockets[1]!;
    s.welcome("e1");
    await settle();
    const sub = s.last();
    expect(sub.command.case).toBe("subscribe");
    if (sub.command.case === "subscribe") {
      expect(sub.command.value.since).toBe(11n);
      expect(sub.command.value.historyEpoch).toBe("e1");
    }
    // Replayed events, then the reply.
    s.deliver({ case: "event", value: { seq: 12n, projectId: P, change: { change: { case: "workItem", value: item("1", 3n, "missed") } } } });
    s.reply(sub.requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    expect(store.item("1")?.title).toBe("missed");
    expect(conn.getStatus()).toMatchObject({ state: "live", attempt: 0 });
    expect(s.sent.some((m) => m.command.case === "getSnapshot")).toBe(false);
  });

  it("takes a fresh snapshot when the history epoch changed", async () => {
    const store = new ProjectStore(P);
    store.applySnapshot(create(SnapshotSchema, { seq: 50n, workItems: [item("1", 1n)], historyEpoch: "old" }));
    conn.watch(store);
    const s = sockets[0]!;
    s.welcome("new");
    await settle();
    const sub = s.last();
    expect(sub.command.case === "subscribe" && sub.command.value.since).toBeUndefined();
    s.reply(sub.requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "new" } });
    await settle();
    expect(s.last().command.case).toBe("getSnapshot");
    s.reply(s.last().requestId, { case: "snapshot", value: create(SnapshotSchema, { seq: 3n, workItems: [], historyEpoch: "new" }) });
    await settle();
    expect(store.resumePoint()).toEqual({ since: 3n, epoch: "new" });
    expect(store.item("1")).toBeUndefined();
  });

  it("answers ResyncRequired with a new snapshot", async () => {
    const store = new ProjectStore(P);
    store.applySnapshot(create(SnapshotSchema, { seq: 5n, historyEpoch: "e1" }));
    conn.watch(store);
    const s = sockets[0]!;
    s.welcome("e1");
    await settle();
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    s.deliver({ case: "resyncRequired", value: { projectId: P, reason: ResyncReason.SINCE_TOO_OLD } });
    await settle();
    expect(s.last().command.case).toBe("getSnapshot");
  });

  it("after a queue overflow subscribes again and takes a fresh snapshot of every watched project", async () => {
    const store = new ProjectStore(P);
    store.applySnapshot(create(SnapshotSchema, { seq: 5n, historyEpoch: "e1" }));
    conn.watch(store);
    const s = sockets[0]!;
    s.welcome("e1");
    await settle();
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    s.deliver({ case: "resyncRequired", value: { projectId: "", reason: ResyncReason.QUEUE_OVERFLOW } });
    await settle();
    const sub = s.last();
    expect(sub.command.case === "subscribe" && sub.command.value.projectId).toBe(P);
    s.reply(sub.requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    expect(s.last().command.case).toBe("getSnapshot");
    s.reply(s.last().requestId, { case: "snapshot", value: create(SnapshotSchema, { seq: 40n, historyEpoch: "e1" }) });
    await settle();
    expect(store.resumePoint()).toEqual({ since: 40n, epoch: "e1" });
  });

  it("unsubscribes a project no view shows, and resumes it from its last seq when shown again", async () => {
    const store = new ProjectStore(P);
    store.applySnapshot(create(SnapshotSchema, { seq: 7n, historyEpoch: "e1" }));
    conn.watch(store);
    const s = sockets[0]!;
    s.welcome("e1");
    await settle();
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    conn.unwatch(P);
    expect(s.last().command.case).toBe("unsubscribe");
    conn.watch(store);
    await settle();
    const sub = s.last();
    expect(sub.command.case === "subscribe" && sub.command.value.since).toBe(7n);
  });

  it("routes events to the store of their project only", async () => {
    const a = new ProjectStore("a");
    const b = new ProjectStore("b");
    a.applySnapshot(create(SnapshotSchema, { seq: 1n, historyEpoch: "e1" }));
    b.applySnapshot(create(SnapshotSchema, { seq: 1n, historyEpoch: "e1" }));
    conn.watch(a);
    conn.watch(b);
    const s = sockets[0]!;
    s.deliver({ case: "event", value: { seq: 2n, projectId: "b", change: { change: { case: "workItem", value: { ...item("9", 1n), projectId: "b" } } } } });
    expect(a.item("9")).toBeUndefined();
    expect(b.item("9")).toBeDefined();
  });

  it("closes a socket whose heartbeat ping goes unanswered, and reconnects", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    vi.advanceTimersByTime(60_000); // the heartbeat interval announced in Welcome
    expect(s.last().command.case).toBe("ping");
    vi.advanceTimersByTime(5_000); // the request timeout
    await settle();
    expect(s.closed).toBe(true);
  });

  it("queues mutations made while disconnected and sends them once, with their original ids, after resuming", async () => {
    const store = new ProjectStore(P, conn);
    store.applySnapshot(create(SnapshotSchema, { seq: 5n, workItems: [item("1", 1n)], historyEpoch: "e1" }));
    conn.watch(store);
    let s = sockets[0]!;
    s.welcome("e1");
    await settle();
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    s.drop();

    const edit = store.updateItem("1", { title: "offline edit" });
    expect(store.item("1")?.title).toBe("offline edit");
    expect(conn.getStatus().queued).toBe(1);
    // Time spent offline does not time the mutation out.
    vi.advanceTimersByTime(60_000);
    const sentWhileOffline = sockets.flatMap((x) => x.sent).filter((m) => m.command.case === "updateWorkItem");
    expect(sentWhileOffline).toHaveLength(0);

    s = sockets[sockets.length - 1]!;
    s.welcome("e1");
    await settle();
    // Nothing goes out before the project is resumed.
    expect(s.sent.map((m) => m.command.case)).toEqual(["subscribe"]);
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    const updates = s.sent.filter((m) => m.command.case === "updateWorkItem");
    expect(updates).toHaveLength(1);
    const id = updates[0]!.requestId;

    // The socket drops again before the reply: the same request id is sent again.
    s.drop();
    vi.advanceTimersByTime(10_000);
    s = sockets[sockets.length - 1]!;
    s.welcome("e1");
    await settle();
    s.reply(s.last().requestId, { case: "subscribed", value: { projectId: P, historyEpoch: "e1" } });
    await settle();
    const again = s.sent.filter((m) => m.command.case === "updateWorkItem");
    expect(again.map((m) => m.requestId)).toEqual([id]);
    s.reply(id, { case: "workItem", value: { workItem: item("1", 2n, "offline edit") } }, [
      { seq: 6n, projectId: P, change: { change: { case: "workItem", value: item("1", 2n, "offline edit") } } },
    ]);
    await edit;
    expect(store.item("1")?.version).toBe(2n);
    expect(store.lastSeq).toBe(6n);
    expect(conn.getStatus().queued).toBe(0);
  });

  it("reconnects after GoingAway's delay", async () => {
    const s = sockets[0]!;
    s.welcome();
    await settle();
    s.deliver({ case: "goingAway", value: { reason: "shutdown", reconnectAfterMs: 2_000 } });
    s.drop(1001);
    vi.advanceTimersByTime(2_000);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(sockets).toHaveLength(2);
  });

  it("refuses queued mutations visibly when closed (sign out)", async () => {
    sockets[0]!.drop();
    const p = conn.send({ case: "createProject", value: { key: "AB", title: "x" } }, "project");
    conn.close("signed out");
    await expect(p).rejects.toBeInstanceOf(RequestError);
    await expect(p).rejects.toMatchObject({ code: "closed" });
  });

  it("goes back to sign-in when the server ends the session for an expired token", () => {
    sockets[0]!.welcome();
    sockets[0]!.onclose?.({ code: 1008, reason: "token expired" });
    expect(conn.getStatus().state).toBe("closed");
    expect(conn.getStatus().closedReason).toMatch(/expired/);
  });
});
