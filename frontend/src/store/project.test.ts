import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { SnapshotSchema, type Snapshot } from "../gen/pm/v1/commands_pb";
import { ErrorCode, ErrorSchema, EventSchema, type Event } from "../gen/pm/v1/envelope_pb";
import {
  EntityKind,
  WorkItemSchema,
  WorkItemStatus,
  WorkItemType,
  type WorkItem,
} from "../gen/pm/v1/entities_pb";
import { RequestError, type Command } from "../net/protocol";
import { ProjectStore, changedFields, type Sender } from "./project";
import { between } from "./position";

const P = "p1";

function item(id: string, version: bigint, extra: MessageInitShape<typeof WorkItemSchema> = {}): WorkItem {
  return create(WorkItemSchema, {
    id,
    projectId: P,
    key: `WEB-${id}`,
    number: BigInt(id.replace(/\D/g, "") || 1),
    type: WorkItemType.TASK,
    title: `item ${id}`,
    status: WorkItemStatus.TODO,
    position: "m",
    version,
    ...extra,
  });
}

function snapshot(seq: bigint, items: WorkItem[], epoch = "e1"): Snapshot {
  return create(SnapshotSchema, { seq, workItems: items, historyEpoch: epoch });
}

function upsert(seq: bigint, w: WorkItem, actor = "bob"): Event {
  return create(EventSchema, { seq, projectId: P, actor, change: { change: { case: "workItem", value: w } } });
}

function deletion(seq: bigint, id: string): Event {
  return create(EventSchema, {
    seq,
    projectId: P,
    change: { change: { case: "deleted", value: { entity: EntityKind.WORK_ITEM, id } } },
  });
}

/** A sender whose replies the test decides, one request at a time. */
class FakeSender implements Sender {
  sent: { command: Command; requestId?: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  send = ((command: Command, _expect: string, requestId?: string) =>
    new Promise((resolve, reject) => {
      this.sent.push({ command, requestId, resolve: resolve as (v: unknown) => void, reject });
    })) as Sender["send"];
}

describe("applying events", () => {
  it("buffers events until the snapshot and applies only those after it", () => {
    const s = new ProjectStore(P);
    s.applyEvent(upsert(5n, item("1", 2n, { title: "old" })));
    s.applyEvent(upsert(7n, item("1", 3n, { title: "new" })));
    s.applySnapshot(snapshot(6n, [item("1", 2n, { title: "snap" })]));
    expect(s.item("1")?.title).toBe("new");
    expect(s.lastSeq).toBe(7n);
  });

  it("applies each seq once", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, []));
    s.applyEvent(upsert(2n, item("1", 1n)));
    s.applyEvent(deletion(3n, "1"));
    // The same create arriving again (a replay overlapping a reply) must not resurrect it.
    s.applyEvent(upsert(2n, item("1", 1n)));
    expect(s.item("1")).toBeUndefined();
  });

  it("applies upserts whose version is at least the held one, in or out of order", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    s.applyEvent(upsert(3n, item("1", 3n, { title: "v3" })));
    s.applyEvent(upsert(2n, item("1", 2n, { title: "v2" }))); // late and older: ignored
    expect(s.item("1")?.title).toBe("v3");
    // Same version (a derived field such as logged_ms changed): applied.
    s.applyEvent(upsert(4n, item("1", 3n, { title: "v3", loggedMs: 60_000n })));
    expect(s.item("1")?.loggedMs).toBe(60_000n);
    expect(s.lastSeq).toBe(4n);
  });

  it("keeps deletions: an old upsert after a delete does not bring the item back", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    s.applyEvent(deletion(3n, "1"));
    s.upsertItem(item("1", 2n));
    expect(s.item("1")).toBeUndefined();
  });

  it("applies blocked_changed", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    s.applyEvent(
      create(EventSchema, {
        seq: 2n,
        projectId: P,
        change: { change: { case: "blockedChanged", value: { workItemId: "1", blocked: true } } },
      }),
    );
    expect(s.item("1")?.blocked).toBe(true);
  });

  it("re-keys items when the project key changes", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(create(SnapshotSchema, { seq: 1n, project: { id: P, key: "WEB", version: 1n }, workItems: [item("1", 1n)], historyEpoch: "e" }));
    s.applyEvent(create(EventSchema, { seq: 2n, projectId: P, change: { change: { case: "project", value: { id: P, key: "SHOP", version: 2n } } } }));
    expect(s.item("1")?.key).toBe("SHOP-1");
  });

  it("orders a column by position as byte strings", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, [item("1", 1n, { position: "b" }), item("2", 1n, { position: "a" }), item("3", 1n, { position: "aZ" })]));
    expect(s.column(WorkItemStatus.TODO).map((w) => w.id)).toEqual(["2", "3", "1"]);
  });

  it("keeps an unchanged item's object identity, so its card does not re-render", () => {
    const s = new ProjectStore(P);
    s.applySnapshot(snapshot(1n, [item("1", 1n), item("2", 1n)]));
    const before = s.item("1");
    s.applyEvent(upsert(2n, item("2", 2n, { title: "changed" })));
    expect(s.item("1")).toBe(before);
  });
});

describe("resume bookkeeping", () => {
  it("has no resume point before a snapshot, then resumes from the last applied seq and epoch", () => {
    const s = new ProjectStore(P);
    expect(s.resumePoint()).toBeNull();
    s.applySnapshot(snapshot(10n, [], "epoch-a"));
    s.applyEvent(upsert(12n, item("1", 1n)));
    expect(s.resumePoint()).toEqual({ since: 12n, epoch: "epoch-a" });
    s.markStale();
    expect(s.resumePoint()).toBeNull();
    // Still shows what it held while the fresh snapshot is on its way.
    expect(s.item("1")).toBeDefined();
  });
});

describe("optimistic changes", () => {
  it("shows an edit at once and keeps the server's copy when it confirms", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const done = s.updateItem("1", { title: "mine" });
    expect(s.item("1")?.title).toBe("mine");
    expect(s.confirmedItem("1")?.title).toBe("item 1");
    const cmd = sender.sent[0]!.command;
    expect(cmd.case).toBe("updateWorkItem");
    if (cmd.case === "updateWorkItem") {
      expect(cmd.value.version).toBe(1n);
      expect(cmd.value.title).toBe("mine");
      expect(cmd.value.assignee).toBeUndefined();
    }
    sender.sent[0]!.resolve({ workItem: item("1", 2n, { title: "mine" }) });
    await done;
    expect(s.item("1")?.title).toBe("mine");
    expect(s.item("1")?.version).toBe(2n);
    expect(s.pendingCount).toBe(0);
  });

  it("sends two quick edits of one item one after the other, the second on the first's version", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const first = s.updateItem("1", { title: "first" });
    const second = s.updateItem("1", { priority: 1 });
    expect(s.item("1")).toMatchObject({ title: "first", priority: 1 });
    await Promise.resolve();
    expect(sender.sent).toHaveLength(1);
    sender.sent[0]!.resolve({ workItem: item("1", 2n, { title: "first" }) });
    await first;
    await vi.waitFor(() => expect(sender.sent).toHaveLength(2));
    const cmd = sender.sent[1]!.command;
    expect(cmd.case === "updateWorkItem" && cmd.value.version).toBe(2n);
    sender.sent[1]!.resolve({ workItem: item("1", 3n, { title: "first", priority: 1 }) });
    await second;
    expect(s.item("1")).toMatchObject({ title: "first", priority: 1, version: 3n });
  });

  it("checks a typed edit against the version the user began from, not a newer one that arrived meanwhile", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const began = s.item("1")!;
    s.applyEvent(upsert(2n, item("1", 2n, { description: "theirs" })));
    const done = s.updateItem("1", { description: "mine" }, { base: began });
    const cmd = sender.sent[0]!.command;
    expect(cmd.case === "updateWorkItem" && cmd.value.version).toBe(1n);
    sender.sent[0]!.reject(
      RequestError.fromServer(
        create(ErrorSchema, { code: ErrorCode.CONFLICT, current: { case: "workItem", value: item("1", 2n, { description: "theirs" }) } }),
      ),
    );
    await expect(done).rejects.toMatchObject({ isConflict: true });
    expect(changedFields(s.conflicts[0]!.base, s.conflicts[0]!.current)).toEqual(["description"]);
  });

  it("does not count the user's own change made while typing as a conflict", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n, { position: "a" })]));
    const began = s.item("1")!;
    const move = s.moveItem("1", WorkItemStatus.DONE, undefined, undefined);
    const typed = s.updateItem("1", { title: "typed" }, { base: began });
    sender.sent[0]!.resolve({ workItem: item("1", 2n, { status: WorkItemStatus.DONE }) });
    await move;
    await vi.waitFor(() => expect(sender.sent).toHaveLength(2));
    const cmd = sender.sent[1]!.command;
    expect(cmd.case === "updateWorkItem" && cmd.value.version).toBe(2n);
    sender.sent[1]!.resolve({ workItem: item("1", 3n, { status: WorkItemStatus.DONE, title: "typed" }) });
    await typed;
  });

  it("rolls an edit back when the server refuses it", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const done = s.updateItem("1", { title: "" });
    sender.sent[0]!.reject(
      RequestError.fromServer(create(ErrorSchema, { code: ErrorCode.VALIDATION, field: "title", message: "title is empty" })),
    );
    await expect(done).rejects.toMatchObject({ field: "title" });
    expect(s.item("1")?.title).toBe("item 1");
  });

  it("keeps a remote change that arrives while an edit is pending, under the edit", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const done = s.updateItem("1", { title: "mine" });
    s.applyEvent(upsert(2n, item("1", 2n, { title: "theirs", priority: 1 })));
    expect(s.item("1")?.title).toBe("mine");
    expect(s.item("1")?.priority).toBe(1);
    sender.sent[0]!.reject(new RequestError("timeout", "no answer"));
    await expect(done).rejects.toBeInstanceOf(RequestError);
    expect(s.item("1")?.title).toBe("theirs");
  });

  it("on CONFLICT takes the server's current copy and records the conflict; re-applying sends the edit on it", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(snapshot(1n, [item("1", 1n)]));
    const done = s.updateItem("1", { title: "mine" });
    const current = item("1", 2n, { title: "theirs" });
    sender.sent[0]!.reject(
      RequestError.fromServer(
        create(ErrorSchema, { code: ErrorCode.CONFLICT, message: "stale", currentVersion: 2n, current: { case: "workItem", value: current } }),
      ),
    );
    await expect(done).rejects.toMatchObject({ isConflict: true });
    expect(s.item("1")?.title).toBe("theirs");
    expect(s.conflicts).toHaveLength(1);
    expect(changedFields(s.conflicts[0]!.base, s.conflicts[0]!.current)).toEqual(["title"]);
    const again = s.reapply(s.conflicts[0]!.id);
    expect(s.conflicts).toHaveLength(0);
    const cmd = sender.sent[1]!.command;
    expect(cmd.case === "updateWorkItem" && cmd.value.version).toBe(2n);
    sender.sent[1]!.resolve({ workItem: item("1", 3n, { title: "mine" }) });
    await again;
    expect(s.item("1")?.title).toBe("mine");
  });

  it("moves a card between its neighbours at once and rolls back on error", async () => {
    const sender = new FakeSender();
    const s = new ProjectStore(P, sender);
    s.applySnapshot(
      snapshot(1n, [
        item("1", 1n, { position: "a" }),
        item("2", 1n, { position: "b" }),
        item("3", 1n, { status: WorkItemStatus.DONE, position: "a" }),
      ]),
    );
    const done = s.moveItem("3", WorkItemStatus.TODO, "1", "2");
    expect(s.column(WorkItemStatus.TODO).map((w) => w.id)).toEqual(["1", "3", "2"]);
    const cmd = sender.sent[0]!.command;
    expect(cmd.case === "moveWorkItem" && [cmd.value.afterId, cmd.value.beforeId]).toEqual(["1", "2"]);
    sender.sent[0]!.reject(new RequestError(ErrorCode.PERMISSION_DENIED, "viewers cannot move"));
    await expect(done).rejects.toBeInstanceOf(RequestError);
    expect(s.column(WorkItemStatus.DONE).map((w) => w.id)).toEqual(["3"]);
  });
});

describe("positions", () => {
  it("finds a string between two neighbours", () => {
    for (const [a, b] of [["a", "b"], ["", "a"], ["a", null], ["a", "a0"], ["Zz", "a"]] as const) {
      const m = between(a, b);
      expect(m > a).toBe(true);
      if (b !== null) expect(m < b).toBe(true);
    }
  });
});

describe("presence", () => {
  it("starts from the subscription's viewers and applies each change, twice being the same as once", () => {
    const s = new ProjectStore(P);
    s.setViewers(["alice", "bob"]);
    s.applyPresence(["carol"], ["bob"]);
    expect(s.viewers).toEqual(["alice", "carol"]);
    s.applyPresence(["carol"], ["bob"]);
    expect(s.viewers).toEqual(["alice", "carol"]);
    s.applyPresence([], ["alice", "carol"]);
    expect(s.viewers).toEqual([]);
  });
});
