// "My time this week": the signed-in user's finished time per day and item, Monday to Sunday, from
// list_time_entries (the caller's entries over the week); the running timer shows in its own row.
// Earlier and later weeks by the arrows. Refreshed when one of the user's time entries changes.
import { ActionIcon, Anchor, Group, Paper, ScrollArea, Skeleton, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { IconChevronLeft, IconChevronRight } from "@tabler/icons-react";
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useSession } from "../../app/session";
import type { TimeEntry } from "../../gen/pm/v1/entities_pb";
import { entryMs, formatDuration, type ItemRef } from "../../store/timer";
import { RunningTimer, useRunning } from "./timer";

const DAY = 86_400_000;

/** Local midnight of the Monday of the week holding `ms`. */
export function weekStart(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  const back = (d.getDay() + 6) % 7;
  d.setDate(d.getDate() - back);
  return d.getTime();
}

/** Minutes per item per day (0 = Monday), from finished entries, by each entry's start. */
export function weekGrid(entries: TimeEntry[], monday: number): Map<string, number[]> {
  const grid = new Map<string, number[]>();
  for (const t of entries) {
    if (t.endedAt === undefined && t.durationMs === undefined) continue;
    const start = new Date(Number(t.startedAt));
    start.setHours(0, 0, 0, 0);
    const day = Math.round((start.getTime() - monday) / DAY);
    if (day < 0 || day > 6) continue;
    const row = grid.get(t.workItemId) ?? [0, 0, 0, 0, 0, 0, 0];
    row[day]! += entryMs(t);
    grid.set(t.workItemId, row);
  }
  return grid;
}

export function MyWeek() {
  const { conn, timer } = useSession();
  const running = useRunning();
  const navigate = useNavigate();
  const [monday, setMonday] = useState(() => weekStart(Date.now()));
  const [entries, setEntries] = useState<TimeEntry[] | null>(null);
  const [refs, setRefs] = useState<Map<string, ItemRef>>(new Map());
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    const sunday = new Date(monday);
    sunday.setDate(sunday.getDate() + 7);
    conn.send({ case: "listTimeEntries", value: { from: BigInt(monday), to: BigInt(sunday.getTime()) } }, "timeEntryList").then(
      async (r) => {
        if (!live) return;
        setEntries(r.entries);
        const ids = [...new Set(r.entries.map((t) => t.workItemId))];
        const found = await Promise.all(ids.map((id) => timer.describe(id)));
        if (live) setRefs(new Map(ids.map((id, i) => [id, found[i]!]).filter(([, r]) => r) as [string, ItemRef][]));
      },
      () => live && setEntries([]),
    );
    return () => {
      live = false;
    };
  }, [conn, timer, monday, tick, running?.id]);
  useEffect(
    () =>
      conn.onEvent((e) => {
        if (e.change?.change.case === "timeEntry" && e.change.change.value.userId === timer.me) setTick((n) => n + 1);
      }),
    [conn, timer],
  );

  const grid = useMemo(() => weekGrid(entries ?? [], monday), [entries, monday]);
  const days = Array.from({ length: 7 }, (_, i) => {
    const d = new Date(monday);
    d.setDate(d.getDate() + i);
    return d;
  });
  const dayTotals = days.map((_, i) => [...grid.values()].reduce((n, row) => n + row[i]!, 0));
  const total = dayTotals.reduce((a, b) => a + b, 0);
  const rows = [...grid.entries()].sort((a, b) => (refs.get(a[0])?.key ?? "").localeCompare(refs.get(b[0])?.key ?? "", undefined, { numeric: true }));
  const label = (d: Date) => d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short" });

  return (
    <ScrollArea h="100%">
      <Stack gap="md" p="md" maw={1100}>
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={1} fz={15} fw={600}>
              My time
            </Title>
            <Tooltip label="Previous week">
              <ActionIcon variant="subtle" color="gray" aria-label="Previous week" onClick={() => setMonday((m) => weekStart(m - 3 * DAY))}>
                <IconChevronLeft size={16} />
              </ActionIcon>
            </Tooltip>
            <Text size="sm" className="tabular">
              {label(days[0]!)} – {label(days[6]!)}
            </Text>
            <Tooltip label="Next week">
              <ActionIcon variant="subtle" color="gray" aria-label="Next week" onClick={() => setMonday((m) => weekStart(m + 8 * DAY))}>
                <IconChevronRight size={16} />
              </ActionIcon>
            </Tooltip>
          </Group>
          <Group gap="sm">
            <RunningTimer />
            <Text size="sm" fw={600} className="tabular" data-testid="week-total">
              {formatDuration(total)} this week
            </Text>
          </Group>
        </Group>
        {entries === null ? (
          <Skeleton h={160} />
        ) : rows.length === 0 ? (
          <Paper withBorder p="lg" radius="md">
            <Text size="sm" c="dimmed" ta="center">
              No time logged this week. Start a timer from a card or a work item.
            </Text>
          </Paper>
        ) : (
          <Paper withBorder radius="md">
            <Table verticalSpacing={6} fz="sm" aria-label="My time this week">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Item</Table.Th>
                  {days.map((d) => (
                    <Table.Th key={d.getTime()} ta="right" fz="xs" c="dimmed" fw={500}>
                      {d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric" })}
                    </Table.Th>
                  ))}
                  <Table.Th ta="right">Total</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map(([id, row]) => {
                  const ref = refs.get(id);
                  return (
                    <Table.Tr key={id}>
                      <Table.Td maw={360}>
                        <Group gap={8} wrap="nowrap">
                          <Anchor size="sm" className="tabular" onClick={() => ref && navigate(`/p/${ref.projectKey}/board/${ref.key}`)}>
                            {ref?.key ?? "…"}
                          </Anchor>
                          <Text size="sm" truncate>
                            {ref?.title}
                          </Text>
                        </Group>
                      </Table.Td>
                      {row.map((ms, i) => (
                        <Table.Td key={i} ta="right" className="tabular" c={ms ? undefined : "dimmed"}>
                          {ms ? formatDuration(ms) : "·"}
                        </Table.Td>
                      ))}
                      <Table.Td ta="right" fw={600} className="tabular">
                        {formatDuration(row.reduce((a, b) => a + b, 0))}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
              <Table.Tfoot>
                <Table.Tr>
                  <Table.Th>Per day</Table.Th>
                  {dayTotals.map((ms, i) => (
                    <Table.Th key={i} ta="right" className="tabular">
                      {ms ? formatDuration(ms) : "·"}
                    </Table.Th>
                  ))}
                  <Table.Th ta="right" className="tabular">
                    {formatDuration(total)}
                  </Table.Th>
                </Table.Tr>
              </Table.Tfoot>
            </Table>
          </Paper>
        )}
      </Stack>
    </ScrollArea>
  );
}
