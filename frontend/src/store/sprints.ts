// Sprint planning arithmetic, pure so it is tested without React: the totals of a sprint (items,
// points, done), the same totals as they would be if the item being dragged landed there, and the
// capacity a sprint is measured against (set by the team, else the recent velocity).
import { SprintStatus, WorkItemStatus, WorkItemType, type Sprint, type WorkItem } from "../gen/pm/v1/entities_pb";

export interface SprintTotals {
  items: number;
  points: number;
  doneItems: number;
  donePoints: number;
  /** Items with no estimate (counted in `items`, not in `points`). */
  unestimated: number;
}

/** Whether an item counts towards a sprint's plan (epics are containers, not work). */
export function plannable(w: WorkItem): boolean {
  return w.type !== WorkItemType.EPIC;
}

export function sprintTotals(items: Iterable<WorkItem>, sprintId: string | undefined): SprintTotals {
  const t: SprintTotals = { items: 0, points: 0, doneItems: 0, donePoints: 0, unestimated: 0 };
  for (const w of items) {
    if ((w.sprintId ?? undefined) !== sprintId || !plannable(w)) continue;
    const p = w.storyPoints ?? 0;
    t.items++;
    t.points += p;
    if (w.storyPoints === undefined) t.unestimated++;
    if (w.status === WorkItemStatus.DONE) {
      t.doneItems++;
      t.donePoints += p;
    }
  }
  return t;
}

/**
 * The totals while an item is dragged: the item counts in the sprint it hovers (`overSprint`;
 * `null` is the backlog) instead of the one it is in. Returns the totals unchanged when nothing moves.
 */
export function projectedTotals(
  items: Iterable<WorkItem>,
  sprintId: string | undefined,
  dragged: WorkItem | undefined,
  overSprint: string | null | undefined,
): SprintTotals {
  if (!dragged || overSprint === undefined) return sprintTotals(items, sprintId);
  const target = overSprint ?? undefined;
  const moved = (function* () {
    for (const w of items) yield w.id === dragged.id ? { ...w, sprintId: target } : w;
  })();
  return sprintTotals(moved, sprintId);
}

/** The average done points of the last (up to) three completed sprints, or undefined without any. */
export function velocity(sprints: Sprint[], items: WorkItem[]): number | undefined {
  const done = sprints
    .filter((s) => s.status === SprintStatus.COMPLETED)
    .sort((a, b) => Number(b.endsAt ?? b.updatedAt) - Number(a.endsAt ?? a.updatedAt))
    .slice(0, 3);
  if (done.length === 0) return undefined;
  const sum = done.reduce((n, s) => n + sprintTotals(items, s.id).donePoints, 0);
  return Math.round(sum / done.length);
}

export function overCapacity(t: SprintTotals, capacity: number | undefined): boolean {
  return capacity !== undefined && capacity > 0 && t.points > capacity;
}

/** Sprints in the order the sprints screen lists them: active, planned by start, then finished, newest first. */
export function orderSprints(sprints: Sprint[]): Sprint[] {
  const rank = (s: Sprint) =>
    s.status === SprintStatus.ACTIVE ? 0 : s.status === SprintStatus.PLANNED ? 1 : 2;
  return [...sprints].sort((a, b) => {
    const r = rank(a) - rank(b);
    if (r) return r;
    const as = Number(a.startsAt ?? a.createdAt);
    const bs = Number(b.startsAt ?? b.createdAt);
    return rank(a) === 2 ? bs - as : as - bs;
  });
}

const CAPACITY_KEY = "pm.capacity.";
export function storedCapacity(sprintId: string): number | undefined {
  try {
    const v = localStorage.getItem(CAPACITY_KEY + sprintId);
    return v ? Number(v) : undefined;
  } catch {
    return undefined;
  }
}
export function storeCapacity(sprintId: string, points: number | undefined): void {
  try {
    if (points === undefined || !(points > 0)) localStorage.removeItem(CAPACITY_KEY + sprintId);
    else localStorage.setItem(CAPACITY_KEY + sprintId, String(points));
  } catch {
    // storage unavailable (private mode): capacity is then per page view
  }
}

/** A date input's value (yyyy-mm-dd, local) ↔ milliseconds at local midnight. */
export function dateInputValue(ms: number | undefined): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
export function parseDateInput(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}
