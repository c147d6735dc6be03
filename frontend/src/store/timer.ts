// The signed-in user's running timer, for the header of every screen: read once per connection
// (get_running_timer), then kept current by the time-entry events of the projects this tab watches,
// by the replies to this tab's own start/stop, and by a fresh read when the tab becomes visible (a
// timer started in a project this tab does not watch). Pure apart from the sender, tested without React.
import type { Event } from "../gen/pm/v1/envelope_pb";
import { EntityKind, type TimeEntry } from "../gen/pm/v1/entities_pb";
import type { Sender } from "./project";

/** What one event does to the running timer of `me`. */
export function applyTimerEvent(running: TimeEntry | null, e: Event, me: string): TimeEntry | null {
  const c = e.change?.change;
  if (!c) return running;
  if (c.case === "timeEntry") {
    const t = c.value;
    if (t.userId !== me) return running;
    if (t.endedAt === undefined) {
      // A newer running entry replaces ours (a start elsewhere stops the previous timer).
      if (!running) return t;
      if (t.id === running.id) return t.version >= running.version ? t : running;
      return t.startedAt >= running.startedAt ? t : running;
    }
    return running && running.id === t.id ? null : running;
  }
  if (c.case === "deleted" && c.value.entity === EntityKind.TIME_ENTRY && running?.id === c.value.id) return null;
  return running;
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const p = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${p(m)}:${p(sec)}` : `${m}:${p(sec)}`;
}

/** A duration for lists and totals: "1h 05m", "25m", "0m". */
export function formatDuration(ms: number): string {
  const m = Math.round(ms / 60000);
  const h = Math.floor(m / 60);
  return h > 0 ? `${h}h ${String(m % 60).padStart(2, "0")}m` : `${m}m`;
}

/** An entry's length: its duration, its end minus its start, or (running) until `now`. */
export function entryMs(t: TimeEntry, now = Date.now()): number {
  if (t.durationMs !== undefined) return Number(t.durationMs);
  return (t.endedAt !== undefined ? Number(t.endedAt) : now) - Number(t.startedAt);
}

export interface ItemRef {
  key: string;
  title: string;
  projectKey: string;
}

export class TimerStore {
  running: TimeEntry | null = null;
  /** Work items the timer ran on, by id: key and title for the header. */
  items = new Map<string, ItemRef>();
  private listeners = new Set<() => void>();
  me = "";

  constructor(private readonly sender: Sender) {}

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  private changed(): void {
    for (const l of this.listeners) l();
  }

  set(running: TimeEntry | null): void {
    if (running === this.running) return;
    this.running = running;
    if (running) void this.describe(running.workItemId);
    this.changed();
  }

  onEvent = (e: Event): void => {
    this.set(applyTimerEvent(this.running, e, this.me));
  };

  async refresh(): Promise<void> {
    const res = await this.sender.send({ case: "getRunningTimer", value: {} }, "runningTimer");
    this.set(res.entry ?? null);
  }

  /** Starts a timer on an item; returns the timer it stopped, if one ran. */
  async start(workItemId: string, description = ""): Promise<TimeEntry | undefined> {
    const res = await this.sender.send({ case: "startTimer", value: { workItemId, description } }, "timer");
    if (res.entry) this.set(res.entry);
    if (res.stopped) void this.describe(res.stopped.workItemId);
    return res.stopped;
  }

  async stop(): Promise<TimeEntry | undefined> {
    const res = await this.sender.send({ case: "stopTimer", value: {} }, "timer");
    this.set(null);
    return res.entry;
  }

  async describe(workItemId: string): Promise<ItemRef | undefined> {
    const held = this.items.get(workItemId);
    if (held) return held;
    try {
      const res = await this.sender.send({ case: "getWorkItem", value: { workItem: workItemId } }, "workItemDetail");
      const w = res.workItem;
      if (!w) return undefined;
      const ref = { key: w.key, title: w.title, projectKey: w.key.replace(/-\d+$/, "") };
      this.items.set(workItemId, ref);
      this.changed();
      return ref;
    } catch {
      return undefined;
    }
  }
}
