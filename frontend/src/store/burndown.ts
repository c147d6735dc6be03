// Chart rows for a sprint's burndown: one row per day from the first day the server reports to the
// sprint's end, with remaining and scope points on the days that have happened and the ideal line
// (the first committed scope down to zero on the last day) throughout.
import type { SprintBurndown } from "../gen/pm/v1/commands_pb";
import type { Sprint } from "../gen/pm/v1/entities_pb";

export interface BurndownRow {
  day: string;
  Remaining: number | null;
  Scope: number | null;
  Ideal: number;
}

const DAY = 86_400_000;

export function burndownRows(b: SprintBurndown, sprint: Sprint, label = defaultLabel): BurndownRow[] {
  if (b.days.length === 0) return [];
  const first = Number(b.days[0]!.day);
  const lastKnown = Number(b.days[b.days.length - 1]!.day);
  // Days until the end (inclusive), or just the reported days when the sprint has no end.
  const end = sprint.endsAt !== undefined ? Math.max(lastKnown, Number(sprint.endsAt) - 1) : lastKnown;
  const count = Math.min(366, Math.floor((end - first) / DAY) + 1);
  // The committed scope: the first day's, or the first day with any (a sprint planned after it began).
  const scope0 = b.days.find((d) => d.scopePoints > 0)?.scopePoints ?? 0;
  const rows: BurndownRow[] = [];
  for (let i = 0; i < count; i++) {
    const d = b.days[i];
    rows.push({
      day: label(first + i * DAY),
      Remaining: d ? d.remainingPoints : null,
      Scope: d ? d.scopePoints : null,
      Ideal: count > 1 ? Math.round((scope0 * (count - 1 - i)) / (count - 1) * 10) / 10 : 0,
    });
  }
  return rows;
}

function defaultLabel(ms: number): string {
  return new Date(ms).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}
