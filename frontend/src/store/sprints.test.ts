import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SprintBurndownSchema } from "../gen/pm/v1/commands_pb";
import { SprintSchema, SprintStatus, WorkItemSchema, WorkItemStatus, WorkItemType, type WorkItem } from "../gen/pm/v1/entities_pb";
import { burndownRows } from "./burndown";
import { dateInputValue, orderSprints, overCapacity, parseDateInput, projectedTotals, sprintTotals, velocity } from "./sprints";

function item(id: string, extra: MessageInitShape<typeof WorkItemSchema> = {}): WorkItem {
  return create(WorkItemSchema, { id, key: `WEB-${id}`, type: WorkItemType.TASK, status: WorkItemStatus.TODO, version: 1n, ...extra });
}
const sprint = (id: string, extra: MessageInitShape<typeof SprintSchema> = {}) =>
  create(SprintSchema, { id, name: id, status: SprintStatus.PLANNED, version: 1n, ...extra });

const items = [
  item("1", { sprintId: "s1", storyPoints: 3 }),
  item("2", { sprintId: "s1", storyPoints: 5, status: WorkItemStatus.DONE }),
  item("3", { sprintId: "s1" }),
  item("4", { storyPoints: 8 }),
  item("5", { sprintId: "s1", storyPoints: 13, type: WorkItemType.EPIC }),
];

describe("sprint totals", () => {
  it("counts a sprint's items and points, done and unestimated, leaving epics out", () => {
    expect(sprintTotals(items, "s1")).toEqual({ items: 3, points: 8, doneItems: 1, donePoints: 5, unestimated: 1 });
    expect(sprintTotals(items, undefined)).toEqual({ items: 1, points: 8, doneItems: 0, donePoints: 0, unestimated: 0 });
  });

  it("counts a dragged item in the sprint it hovers and not in the one it left", () => {
    const dragged = items[3]!;
    expect(projectedTotals(items, "s1", dragged, "s1").points).toBe(16);
    expect(projectedTotals(items, undefined, dragged, "s1").points).toBe(0);
    // Hovering nothing changes nothing; hovering the backlog takes an item out of its sprint.
    expect(projectedTotals(items, "s1", dragged, undefined).points).toBe(8);
    expect(projectedTotals(items, "s1", items[0], null).points).toBe(5);
    expect(projectedTotals(items, undefined, items[0], null).points).toBe(11);
  });

  it("is over capacity only above a positive capacity", () => {
    const t = sprintTotals(items, "s1");
    expect(overCapacity(t, 7)).toBe(true);
    expect(overCapacity(t, 8)).toBe(false);
    expect(overCapacity(t, undefined)).toBe(false);
    expect(overCapacity(t, 0)).toBe(false);
  });

  it("takes velocity from the last three completed sprints", () => {
    const sprints = [
      sprint("a", { status: SprintStatus.COMPLETED, endsAt: 1000n }),
      sprint("b", { status: SprintStatus.COMPLETED, endsAt: 2000n }),
      sprint("c", { status: SprintStatus.COMPLETED, endsAt: 3000n }),
      sprint("d", { status: SprintStatus.COMPLETED, endsAt: 4000n }),
      sprint("e", { status: SprintStatus.CANCELLED, endsAt: 5000n }),
    ];
    const done = (id: string, sp: string, points: number) => item(id, { sprintId: sp, storyPoints: points, status: WorkItemStatus.DONE });
    const its = [done("1", "a", 100), done("2", "b", 10), done("3", "c", 20), done("4", "d", 30), done("5", "e", 50)];
    expect(velocity(sprints, its)).toBe(20);
    expect(velocity([sprint("x")], its)).toBeUndefined();
  });

  it("lists active, then planned by start, then finished newest first", () => {
    const list = orderSprints([
      sprint("old", { status: SprintStatus.COMPLETED, startsAt: 1n }),
      sprint("later", { startsAt: 300n }),
      sprint("new", { status: SprintStatus.CANCELLED, startsAt: 2n }),
      sprint("soon", { startsAt: 200n }),
      sprint("now", { status: SprintStatus.ACTIVE, startsAt: 100n }),
    ]);
    expect(list.map((s) => s.id)).toEqual(["now", "soon", "later", "new", "old"]);
  });

  it("round-trips date input values at local midnight", () => {
    const ms = parseDateInput("2026-03-29")!;
    expect(new Date(ms).getHours()).toBe(0);
    expect(dateInputValue(ms)).toBe("2026-03-29");
    expect(parseDateInput("")).toBeUndefined();
    expect(dateInputValue(undefined)).toBe("");
  });
});

describe("burndown rows", () => {
  const DAY = 86_400_000;
  it("runs to the sprint's end with an ideal line from the first day's scope to zero", () => {
    const b = create(SprintBurndownSchema, {
      days: [
        { day: 0n, remainingPoints: 20, scopePoints: 20 },
        { day: BigInt(DAY), remainingPoints: 15, scopePoints: 22 },
      ],
    });
    const rows = burndownRows(b, sprint("s", { startsAt: 0n, endsAt: BigInt(5 * DAY) }), (ms) => String(ms / DAY));
    expect(rows.map((r) => r.day)).toEqual(["0", "1", "2", "3", "4"]);
    expect(rows.map((r) => r.Remaining)).toEqual([20, 15, null, null, null]);
    expect(rows.map((r) => r.Scope)).toEqual([20, 22, null, null, null]);
    expect(rows.map((r) => r.Ideal)).toEqual([20, 15, 10, 5, 0]);
  });

  it("is empty without days", () => {
    expect(burndownRows(create(SprintBurndownSchema, {}), sprint("s"))).toEqual([]);
  });
});
