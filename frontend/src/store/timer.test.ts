import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "../gen/pm/v1/envelope_pb";
import { EntityKind, TimeEntrySchema, type TimeEntry } from "../gen/pm/v1/entities_pb";
import { applyTimerEvent, entryMs, formatDuration, formatElapsed } from "./timer";
import { weekGrid, weekStart } from "../features/time/MyWeek";

const entry = (id: string, extra: MessageInitShape<typeof TimeEntrySchema> = {}): TimeEntry =>
  create(TimeEntrySchema, { id, userId: "ann", workItemId: "w1", startedAt: 1000n, version: 1n, ...extra });
const ev = (t: TimeEntry) => create(EventSchema, { seq: 1n, change: { change: { case: "timeEntry", value: t } } });

describe("the running timer", () => {
  it("starts from a running entry of mine and ignores other people's", () => {
    const t = entry("t1");
    expect(applyTimerEvent(null, ev(t), "ann")).toBe(t);
    expect(applyTimerEvent(null, ev(entry("t2", { userId: "bob" })), "ann")).toBeNull();
  });

  it("stops when its entry ends or is deleted, not when another one ends", () => {
    const t = entry("t1");
    expect(applyTimerEvent(t, ev(entry("t1", { endedAt: 5000n, version: 2n })), "ann")).toBeNull();
    expect(applyTimerEvent(t, ev(entry("t0", { endedAt: 900n })), "ann")).toBe(t);
    const del = create(EventSchema, { seq: 2n, change: { change: { case: "deleted", value: { entity: EntityKind.TIME_ENTRY, id: "t1" } } } });
    expect(applyTimerEvent(t, del, "ann")).toBeNull();
  });

  it("takes the newer of two running entries (a start elsewhere replaced it)", () => {
    const old = entry("t1", { startedAt: 1000n });
    const newer = entry("t2", { startedAt: 2000n });
    expect(applyTimerEvent(old, ev(newer), "ann")).toBe(newer);
    expect(applyTimerEvent(newer, ev(old), "ann")).toBe(newer);
  });

  it("formats elapsed time and durations", () => {
    expect(formatElapsed(65_000)).toBe("1:05");
    expect(formatElapsed(3_725_000)).toBe("1:02:05");
    expect(formatDuration(65 * 60_000)).toBe("1h 05m");
    expect(formatDuration(25 * 60_000)).toBe("25m");
    expect(entryMs(entry("t", { durationMs: 120_000n }))).toBe(120_000);
    expect(entryMs(entry("t", { startedAt: 1000n, endedAt: 61_000n }))).toBe(60_000);
    expect(entryMs(entry("t", { startedAt: 1000n }), 11_000)).toBe(10_000);
  });
});

describe("my week", () => {
  it("starts on a Monday at local midnight and sums finished entries per item and day", () => {
    const wed = new Date(2026, 2, 4, 15, 30).getTime(); // Wednesday 4 March 2026
    const monday = weekStart(wed);
    expect(new Date(monday)).toEqual(new Date(2026, 2, 2));
    expect(weekStart(new Date(2026, 2, 8, 23).getTime())).toBe(monday); // Sunday
    const at = (d: number, h: number) => BigInt(new Date(2026, 2, d, h).getTime());
    const grid = weekGrid(
      [
        entry("a", { startedAt: at(2, 9), durationMs: 60_000n }),
        entry("b", { startedAt: at(2, 11), endedAt: at(2, 12) }),
        entry("c", { startedAt: at(4, 9), durationMs: 120_000n, workItemId: "w2" }),
        entry("d", { startedAt: at(4, 10) }), // running: not counted
        entry("e", { startedAt: at(9, 10), durationMs: 60_000n }), // next week
      ],
      monday,
    );
    expect(grid.get("w1")).toEqual([3_660_000, 0, 0, 0, 0, 0, 0]);
    expect(grid.get("w2")).toEqual([0, 0, 120_000, 0, 0, 0, 0]);
  });
});
