// One store per open project: entities by id, filled from a snapshot and kept current by events,
// with the user's own pending changes laid over the confirmed state (optimistic updates that roll
// back on error). The apply functions know nothing about React or sockets; components read the
// store through selectors (see ./hooks.ts), so one card's change re-renders one card.
import { create } from "@bufbuild/protobuf";
import type { Snapshot } from "../gen/pm/v1/commands_pb";
import { UpdateWorkItemSchema } from "../gen/pm/v1/commands_pb";
import type { Event } from "../gen/pm/v1/envelope_pb";
import {
  EntityKind,
  ProjectRole,
  SprintStatus,
  type Comment,
  type Dependency,
  type Member,
  type Project,
  type Sprint,
  type SwimLane,
  type WorkItem,
  type WorkItemStatus,
} from "../gen/pm/v1/entities_pb";
import type { Connection, SyncTarget } from "../net/connection";
import { RequestError, newRequestId } from "../net/protocol";
import { between, comparePositions } from "./position";

/** What the store needs to send commands: the connection, or a fake in tests. */
export type Sender = Pick<Connection, "send">;

/** The fields of a work item a user edits. */
export interface ItemEdit {
  title?: string;
  description?: string;
  type?: WorkItem["type"];
  status?: WorkItem["status"];
  priority?: WorkItem["priority"];
  storyPoints?: number | null;
  assignee?: string | null;
  sprintId?: string | null;
  parentId?: string | null;
}

export interface Conflict {
  id: string;
  itemId: string;
  /** The item as the server holds it now. */
  current: WorkItem;
  /** The item as the user saw it when editing. */
  base: WorkItem | undefined;
  /** What the user wanted to change. */
  mine: ItemEdit;
  message: string;
}

interface Overlay {
  requestId: string;
  itemId: string;
  apply: (w: WorkItem) => WorkItem;
}

/** How many applied sequence numbers to remember for de-duplication. */
const APPLIED_MEMORY = 4096;

export class ProjectStore implements SyncTarget {
  readonly projectId: string;
  project: Project | undefined;
  myRole: ProjectRole = ProjectRole.UNSPECIFIED;
  members = new Map<string, Member>();
  lanes = new Map<string, SwimLane>();
  sprints = new Map<string, Sprint>();
  dependencies = new Map<string, Dependency>();
  comments = new Map<string, Comment>();
  /** Confirmed state: what the server committed, as far as we know. */
  private confirmed = new Map<string, WorkItem>();
  /** Confirmed state with the user's pending changes on top: what the UI shows. */
  private view = new Map<string, WorkItem>();
  private overlays: Overlay[] = [];
  /** The version each item reached through the user's own last change. */
  private ownVersions = new Map<string, bigint>();
  /** The last change of each item being sent, so the next one waits for it. */
  private inFlight = new Map<string, Promise<unknown>>();
  private tombstones = new Set<string>();

  // Sync bookkeeping.
  hasSnapshot = false;
  /** The snapshot's seq: events at or below it are already in the snapshot. */
  private baseSeq = 0n;
  /** The highest seq applied: what a resume starts from. */
  lastSeq = 0n;
  epoch = "";
  private applied = new Set<bigint>();
  private buffered: Event[] = [];

  conflicts: Conflict[] = [];
  viewers: string[] = [];
  /** Items recently changed by someone else, for a brief highlight: id → time. */
  remoteTouched = new Map<string, number>();

  private listeners = new Set<() => void>();
  private revision = 0;
  private sender: Sender | undefined;
  /** The signed-in user: their own changes are not highlighted as remote. */
  me = "";

  constructor(projectId: string, sender?: Sender, me = "") {
    this.projectId = projectId;
    this.sender = sender;
    this.me = me;
  }

  // ---- subscription ------------------------------------------------------------------------

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  getRevision = (): number => this.revision;

  private changed(): void {
    this.revision++;
    for (const l of this.listeners) l();
  }

  // ---- SyncTarget --------------------------------------------------------------------------

  resumePoint(): { since: bigint; epoch: string } | null {
    return this.hasSnapshot ? { since: this.lastSeq, epoch: this.epoch } : null;
  }

  setViewers(viewers: string[]): void {
    this.viewers = viewers;
    this.changed();
  }

  /** Applying the same change twice changes nothing, as the protocol requires. */
  applyPresence(arrived: string[], departed: string[]): void {
    const viewers = new Set(this.viewers);
    for (const user of departed) viewers.delete(user);
    for (const user of arrived) viewers.add(user);
    this.setViewers([...viewers].sort());
  }

  markStale(): void {
    // Keep showing what we hold; events arriving before the next snapshot are buffered.
    this.hasSnapshot = false;
  }

  applySnapshot(s: Snapshot): void {
    if (s.project) this.project = s.project;
    this.members = new Map(s.members.map((m) => [m.userId, m]));
    this.lanes = new Map(s.swimLanes.map((l) => [l.id, l]));
    this.sprints = new Map(s.sprints.map((sp) => [sp.id, sp]));
    this.dependencies = new Map(s.dependencies.map((d) => [d.id, d]));
    this.confirmed = new Map(s.workItems.map((w) => [w.id, w]));
    this.tombstones.clear();
    this.baseSeq = s.seq;
    this.lastSeq = s.seq;
    this.epoch = s.historyEpoch;
    this.applied.clear();
    this.hasSnapshot = true;
    this.rebuildView();
    const buffered = this.buffered;
    this.buffered = [];
    for (const e of buffered) this.applyEvent(e, true);
    this.changed();
  }

  /** Applies one event once: skips seqs already in the snapshot or already applied. */
  applyEvent(e: Event, quiet = false): void {
    if (!this.hasSnapshot) {
      this.buffered.push(e);
      return;
    }
    if (e.seq <= this.baseSeq || this.applied.has(e.seq)) return;
    this.applied.add(e.seq);
    if (this.applied.size > 2 * APPLIED_MEMORY) {
      // Forget the oldest half; anything at or below the new floor counts as applied.
      const min = [...this.applied].sort((a, b) => (a < b ? -1 : 1))[this.applied.size - APPLIED_MEMORY]!;
      for (const s of this.applied) if (s < min) this.applied.delete(s);
      if (min > this.baseSeq) this.baseSeq = min - 1n;
    }
    if (e.seq > this.lastSeq) this.lastSeq = e.seq;
    this.applyChange(e);
    if (!quiet) this.changed();
  }

  private applyChange(e: Event): void {
    const c = e.change?.change;
    if (!c) return;
    switch (c.case) {
      case "project":
        if (!this.project || c.value.version >= this.project.version) {
          const rekeyed = this.project && this.project.key !== c.value.key;
          this.project = c.value;
          if (rekeyed) this.rekey(c.value.key);
        }
        return;
      case "member": {
        const held = this.members.get(c.value.userId);
        if (!held || c.value.version >= held.version) this.members.set(c.value.userId, c.value);
        return;
      }
      case "memberRemoved":
        this.members.delete(c.value.userId);
        return;
      case "workItem":
        if (this.upsertItem(c.value) && e.actor !== this.me && e.actor) this.remoteTouched.set(c.value.id, Date.now());
        return;
      case "sprint": {
        const held = this.sprints.get(c.value.id);
        if (!held || c.value.version >= held.version) this.sprints.set(c.value.id, c.value);
        return;
      }
      case "comment": {
        const held = this.comments.get(c.value.id);
        if (!held || c.value.version >= held.version) this.comments.set(c.value.id, c.value);
        return;
      }
      case "dependency":
        this.dependencies.set(c.value.id, c.value);
        return;
      case "swimLane":
        this.lanes.set(c.value.id, c.value);
        return;
      case "deleted":
        this.applyDeletion(c.value.entity, c.value.id);
        return;
      case "blockedChanged": {
        const held = this.confirmed.get(c.value.workItemId);
        if (held) {
          this.confirmed.set(held.id, { ...held, blocked: c.value.blocked });
          this.refreshView(held.id);
        }
        return;
      }
      default:
        return; // time entries and unknown cases do not concern these screens
    }
  }

  private applyDeletion(kind: EntityKind, id: string): void {
    switch (kind) {
      case EntityKind.WORK_ITEM:
        this.confirmed.delete(id);
        this.tombstones.add(id);
        this.refreshView(id);
        return;
      case EntityKind.SPRINT:
        this.sprints.delete(id);
        return;
      case EntityKind.COMMENT:
        this.comments.delete(id);
        return;
      case EntityKind.DEPENDENCY:
        this.dependencies.delete(id);
        return;
      case EntityKind.SWIM_LANE:
        this.lanes.delete(id);
        return;
      case EntityKind.PROJECT:
        if (this.project?.id === id) this.project = undefined;
        return;
      default:
        return;
    }
  }

  /** The version rule: keep the copy with the highest version. True when applied. */
  upsertItem(w: WorkItem): boolean {
    if (this.tombstones.has(w.id)) return false;
    const held = this.confirmed.get(w.id);
    if (held && w.version < held.version) return false;
    this.confirmed.set(w.id, w);
    this.refreshView(w.id);
    return true;
  }

  private rekey(key: string): void {
    for (const w of this.confirmed.values()) {
      this.confirmed.set(w.id, { ...w, key: `${key}-${w.number}` });
    }
    this.rebuildView();
  }

  // ---- overlays (optimistic changes) -------------------------------------------------------

  private rebuildView(): void {
    this.view = new Map();
    for (const id of this.confirmed.keys()) this.refreshView(id);
  }

  private refreshView(id: string): void {
    const base = this.confirmed.get(id);
    if (!base) {
      this.view.delete(id);
      return;
    }
    let w = base;
    for (const o of this.overlays) if (o.itemId === id) w = o.apply(w);
    // Keep the same object when nothing changed, so selectors see no change.
    const prev = this.view.get(id);
    if (prev !== w) this.view.set(id, w);
  }

  private addOverlay(o: Overlay): void {
    this.overlays.push(o);
    this.refreshView(o.itemId);
    this.changed();
  }

  private dropOverlay(requestId: string): void {
    const o = this.overlays.find((x) => x.requestId === requestId);
    if (!o) return;
    this.overlays = this.overlays.filter((x) => x !== o);
    this.refreshView(o.itemId);
  }

  get pendingCount(): number {
    return this.overlays.length;
  }

  // ---- reads -------------------------------------------------------------------------------

  item(id: string): WorkItem | undefined {
    return this.view.get(id);
  }

  confirmedItem(id: string): WorkItem | undefined {
    return this.confirmed.get(id);
  }

  itemByKey(key: string): WorkItem | undefined {
    const k = key.toUpperCase();
    for (const w of this.view.values()) if (w.key.toUpperCase() === k) return w;
    return undefined;
  }

  items(): WorkItem[] {
    return [...this.view.values()];
  }

  /** The cards of one board column, in position order. */
  column(status: WorkItemStatus, filter?: (w: WorkItem) => boolean): WorkItem[] {
    const out: WorkItem[] = [];
    for (const w of this.view.values()) if (w.status === status && (!filter || filter(w))) out.push(w);
    return out.sort((a, b) => comparePositions(a.position, b.position) || (a.id < b.id ? -1 : 1));
  }

  children(parentId: string): WorkItem[] {
    return this.items()
      .filter((w) => w.parentId === parentId)
      .sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
  }

  commentsOf(itemId: string): Comment[] {
    return [...this.comments.values()].filter((c) => c.workItemId === itemId).sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  orderedLanes(): SwimLane[] {
    return [...this.lanes.values()].sort((a, b) => a.position - b.position);
  }

  activeSprint(): Sprint | undefined {
    return [...this.sprints.values()].find((s) => s.status === SprintStatus.ACTIVE);
  }

  // ---- actions (optimistic) ----------------------------------------------------------------

  private requireSender(): Sender {
    if (!this.sender) throw new Error("store has no connection");
    return this.sender;
  }

  /**
   * Edits an item: shows the change at once, sends it with the version the user saw, and rolls it
   * back if the server refuses. On a version conflict the server's current copy replaces ours and
   * the conflict is recorded for the user to resolve (see `conflicts`).
   */
  async updateItem(
    id: string,
    edit: ItemEdit,
    options: {
      requestId?: string;
      /** The item as the user saw it when they began this edit (typing in a text field): the
       * edit is checked against that version, so a change that arrived meanwhile is a conflict
       * rather than silently overwritten. Default: the copy held now. */
      base?: WorkItem;
    } = {},
  ): Promise<WorkItem | undefined> {
    const requestId = options.requestId ?? newRequestId();
    const sender = this.requireSender();
    if (!this.confirmed.has(id)) throw new RequestError("unexpected", "This item is no longer here");
    this.addOverlay({ requestId, itemId: id, apply: (w) => applyEdit(w, edit) });
    let base: WorkItem | undefined;
    try {
      const res = await this.serially(id, () => {
        // The version as it is when this edit goes out, after the user's earlier edits of the item
        // (or as it was when the user began typing).
        base = options.base ?? this.confirmed.get(id);
        if (!base || !this.confirmed.has(id)) throw new RequestError("unexpected", "This item is no longer here");
        // The user's own changes made since they began typing are not a conflict.
        const own = this.ownVersions.get(id) ?? 0n;
        const version = base.version > own ? base.version : own;
        return sender.send({ case: "updateWorkItem", value: editToCommand(id, version, edit) }, "workItem", requestId);
      });
      if (res.workItem) this.confirmOwn(res.workItem);
      return res.workItem;
    } catch (e) {
      if (e instanceof RequestError && e.isConflict && e.server?.current.case === "workItem") {
        const current = e.server.current.value;
        this.upsertItem(current);
        this.conflicts = [
          ...this.conflicts,
          { id: requestId, itemId: id, current, base, mine: edit, message: e.message },
        ];
      }
      throw e;
    } finally {
      this.dropOverlay(requestId);
      this.changed();
    }
  }

  private confirmOwn(w: WorkItem): void {
    this.upsertItem(w);
    this.ownVersions.set(w.id, w.version);
  }

  /**
   * Runs the user's changes to one item one after another: each goes out with the version the
   * previous one produced, so two quick edits of the same item never conflict with each other.
   * (The change shows at once regardless; only sending waits.)
   */
  private serially<T>(itemId: string, send: () => Promise<T>): Promise<T> {
    const previous = this.inFlight.get(itemId);
    // Nothing in flight: send now (synchronously, so an offline queue keeps the user's order).
    const next = previous ? previous.catch(() => undefined).then(send) : send();
    this.inFlight.set(itemId, next);
    const forget = () => {
      if (this.inFlight.get(itemId) === next) this.inFlight.delete(itemId);
    };
    next.then(forget, forget);
    return next;
  }

  /** Resolves a conflict by sending the user's edit again on the version the server holds now. */
  async reapply(conflictId: string): Promise<void> {
    const c = this.conflicts.find((x) => x.id === conflictId);
    if (!c) return;
    this.dismissConflict(conflictId);
    await this.updateItem(c.itemId, c.mine);
  }

  dismissConflict(conflictId: string): void {
    this.conflicts = this.conflicts.filter((x) => x.id !== conflictId);
    this.changed();
  }

  /** Drag and drop: one move with the new neighbours; the card lands at once and the server confirms. */
  async moveItem(
    id: string,
    status: WorkItemStatus,
    afterId: string | undefined,
    beforeId: string | undefined,
    requestId = newRequestId(),
  ): Promise<void> {
    const sender = this.requireSender();
    if (!this.confirmed.has(id)) return;
    const after = afterId ? this.view.get(afterId) : undefined;
    const before = beforeId ? this.view.get(beforeId) : undefined;
    const position = between(after?.position ?? "", before?.position ?? null);
    this.addOverlay({ requestId, itemId: id, apply: (w) => ({ ...w, status, position }) });
    try {
      const res = await this.serially(id, () => {
        const base = this.confirmed.get(id);
        if (!base) throw new RequestError("unexpected", "This item is no longer here");
        return sender.send(
          { case: "moveWorkItem", value: { workItemId: id, version: base.version, status, afterId, beforeId } },
          "workItem",
          requestId,
        );
      });
      if (res.workItem) this.confirmOwn(res.workItem);
    } catch (e) {
      if (e instanceof RequestError && e.isConflict && e.server?.current.case === "workItem") {
        this.upsertItem(e.server.current.value);
      }
      throw e;
    } finally {
      this.dropOverlay(requestId);
      this.changed();
    }
  }

  async createItem(fields: {
    type: WorkItem["type"];
    title: string;
    parentId?: string;
    status?: WorkItemStatus;
    sprintId?: string;
    assignee?: string;
  }): Promise<WorkItem | undefined> {
    const res = await this.requireSender().send(
      { case: "createWorkItem", value: { projectId: this.projectId, description: "", ...fields } },
      "workItem",
    );
    if (res.workItem) {
      this.upsertItem(res.workItem);
      this.changed();
    }
    return res.workItem;
  }

  async deleteItem(id: string): Promise<void> {
    const base = this.confirmed.get(id);
    if (!base) return;
    await this.requireSender().send({ case: "deleteWorkItem", value: { workItemId: id, version: base.version } }, "deleted");
    this.applyDeletion(EntityKind.WORK_ITEM, id);
    this.changed();
  }

  async loadComments(itemId: string): Promise<void> {
    const res = await this.requireSender().send({ case: "listComments", value: { workItemId: itemId } }, "commentList");
    for (const c of res.comments) {
      const held = this.comments.get(c.id);
      if (!held || c.version >= held.version) this.comments.set(c.id, c);
    }
    this.changed();
  }

  async addComment(itemId: string, body: string): Promise<void> {
    const res = await this.requireSender().send({ case: "addComment", value: { workItemId: itemId, body } }, "comment");
    if (res.comment) this.comments.set(res.comment.id, res.comment);
    this.changed();
  }

  async editComment(id: string, body: string): Promise<void> {
    const held = this.comments.get(id);
    if (!held) return;
    const requestId = newRequestId();
    this.comments.set(id, { ...held, body });
    this.changed();
    try {
      const res = await this.requireSender().send(
        { case: "editComment", value: { commentId: id, version: held.version, body } },
        "comment",
        requestId,
      );
      if (res.comment) this.comments.set(id, res.comment);
    } catch (e) {
      const cur = e instanceof RequestError && e.server?.current.case === "comment" ? e.server.current.value : held;
      this.comments.set(id, cur);
      throw e;
    } finally {
      this.changed();
    }
  }

  async deleteComment(id: string): Promise<void> {
    const held = this.comments.get(id);
    if (!held) return;
    this.comments.delete(id);
    this.changed();
    try {
      await this.requireSender().send({ case: "deleteComment", value: { commentId: id, version: held.version } }, "deleted");
    } catch (e) {
      this.comments.set(id, held);
      this.changed();
      throw e;
    }
  }

  // ---- sprints ----------------------------------------------------------------------------

  private putSprint(sp: Sprint | undefined): Sprint | undefined {
    if (!sp) return undefined;
    const held = this.sprints.get(sp.id);
    if (!held || sp.version >= held.version) this.sprints.set(sp.id, sp);
    this.changed();
    return sp;
  }

  private sprintVersion(id: string): bigint {
    const sp = this.sprints.get(id);
    if (!sp) throw new RequestError("unexpected", "This sprint is no longer here");
    return sp.version;
  }

  async createSprint(fields: { name: string; goal: string; startsAt?: number; endsAt?: number }): Promise<Sprint | undefined> {
    const res = await this.requireSender().send(
      {
        case: "createSprint",
        value: {
          projectId: this.projectId,
          name: fields.name,
          goal: fields.goal,
          startsAt: fields.startsAt === undefined ? undefined : BigInt(fields.startsAt),
          endsAt: fields.endsAt === undefined ? undefined : BigInt(fields.endsAt),
        },
      },
      "sprint",
    );
    return this.putSprint(res.sprint);
  }

  /** `null` clears a date. */
  async updateSprint(
    id: string,
    fields: { name?: string; goal?: string; startsAt?: number | null; endsAt?: number | null },
  ): Promise<Sprint | undefined> {
    const t = (v: number | null | undefined) => (v === undefined ? undefined : { value: v === null ? undefined : BigInt(v) });
    const res = await this.requireSender().send(
      {
        case: "updateSprint",
        value: { sprintId: id, version: this.sprintVersion(id), name: fields.name, goal: fields.goal, startsAt: t(fields.startsAt), endsAt: t(fields.endsAt) },
      },
      "sprint",
    );
    return this.putSprint(res.sprint);
  }

  async startSprint(id: string): Promise<void> {
    const res = await this.requireSender().send({ case: "startSprint", value: { sprintId: id, version: this.sprintVersion(id) } }, "sprint");
    this.putSprint(res.sprint);
  }

  async cancelSprint(id: string): Promise<void> {
    const res = await this.requireSender().send({ case: "cancelSprint", value: { sprintId: id, version: this.sprintVersion(id) } }, "sprint");
    this.putSprint(res.sprint);
  }

  /** Completes a sprint; unfinished items go to `moveTo` (a planned sprint) or the backlog. Returns the moved items. */
  async completeSprint(id: string, moveTo: string | undefined): Promise<WorkItem[]> {
    const res = await this.requireSender().send(
      { case: "completeSprint", value: { sprintId: id, version: this.sprintVersion(id), moveOpenItemsTo: moveTo } },
      "sprintCompleted",
    );
    for (const w of res.moved) this.upsertItem(w);
    this.putSprint(res.sprint);
    return res.moved;
  }

  async deleteSprint(id: string): Promise<void> {
    await this.requireSender().send({ case: "deleteSprint", value: { sprintId: id, version: this.sprintVersion(id) } }, "deleted");
    this.sprints.delete(id);
    this.changed();
  }

  /** The burndown of a sprint with day boundaries in the viewer's time zone. */
  async burndown(sprintId: string, utcOffsetMinutes = -new Date().getTimezoneOffset()) {
    return this.requireSender().send({ case: "getSprintBurndown", value: { sprintId, utcOffsetMinutes } }, "sprintBurndown");
  }

  // ---- dependencies ------------------------------------------------------------------------

  async addDependency(blockingId: string, blockedId: string, type: Dependency["type"]): Promise<Dependency | undefined> {
    const res = await this.requireSender().send({ case: "addDependency", value: { blockingId, blockedId, type } }, "dependency");
    if (res.dependency) {
      this.dependencies.set(res.dependency.id, res.dependency);
      this.changed();
    }
    return res.dependency;
  }

  async removeDependency(id: string): Promise<void> {
    const held = this.dependencies.get(id);
    this.dependencies.delete(id);
    this.changed();
    try {
      await this.requireSender().send({ case: "removeDependency", value: { dependencyId: id } }, "deleted");
    } catch (e) {
      if (held) this.dependencies.set(id, held);
      this.changed();
      throw e;
    }
  }

  // ---- members -----------------------------------------------------------------------------

  async addMember(userId: string, role: ProjectRole): Promise<void> {
    const res = await this.requireSender().send({ case: "addMember", value: { projectId: this.projectId, userId, role } }, "member");
    if (res.member) this.members.set(res.member.userId, res.member);
    this.changed();
  }

  async changeMemberRole(userId: string, role: ProjectRole): Promise<void> {
    const held = this.members.get(userId);
    if (!held) return;
    const res = await this.requireSender().send(
      { case: "changeMemberRole", value: { projectId: this.projectId, userId, role, version: held.version } },
      "member",
    );
    if (res.member) this.members.set(userId, res.member);
    this.changed();
  }

  async removeMember(userId: string): Promise<void> {
    await this.requireSender().send({ case: "removeMember", value: { projectId: this.projectId, userId } }, "memberRemoved");
    this.members.delete(userId);
    this.changed();
  }

  /** Marks changes as seen by the UI (after a highlight has been shown). */
  clearRemoteTouched(id: string): void {
    this.remoteTouched.delete(id);
  }

  /** Lets a test or the UI poke a change notification (e.g. after setting myRole). */
  notify(): void {
    this.changed();
  }
}

export function applyEdit(w: WorkItem, e: ItemEdit): WorkItem {
  const next: WorkItem = { ...w };
  if (e.title !== undefined) next.title = e.title;
  if (e.description !== undefined) next.description = e.description;
  if (e.type !== undefined) next.type = e.type;
  if (e.status !== undefined) next.status = e.status;
  if (e.priority !== undefined) next.priority = e.priority;
  if (e.storyPoints !== undefined) next.storyPoints = e.storyPoints ?? undefined;
  if (e.assignee !== undefined) next.assignee = e.assignee ?? undefined;
  if (e.sprintId !== undefined) next.sprintId = e.sprintId ?? undefined;
  if (e.parentId !== undefined) next.parentId = e.parentId ?? undefined;
  return next;
}

export function editToCommand(id: string, version: bigint, e: ItemEdit) {
  const patch = (v: string | null | undefined) => (v === undefined ? undefined : { value: v ?? undefined });
  return create(UpdateWorkItemSchema, {
    workItemId: id,
    version,
    title: e.title,
    description: e.description,
    type: e.type,
    status: e.status,
    priority: e.priority,
    storyPoints: e.storyPoints === undefined ? undefined : { value: e.storyPoints ?? undefined },
    assignee: patch(e.assignee),
    sprintId: patch(e.sprintId),
    parentId: patch(e.parentId),
  });
}

/** Which fields differ between two copies of an item, for the conflict dialog. */
export function changedFields(a: WorkItem | undefined, b: WorkItem): string[] {
  if (!a) return [];
  const fields: (keyof WorkItem)[] = [
    "title",
    "description",
    "type",
    "status",
    "priority",
    "storyPoints",
    "assignee",
    "sprintId",
    "parentId",
  ];
  return fields.filter((f) => a[f] !== b[f]);
}
