// An item's time in its panel: the timer button, the total, every entry (the user's own can be
// edited and deleted), and a form to log time by hand (start + duration, or start + end, and a
// note). Live: time-entry events of the project update the list.
import { ActionIcon, Button, Group, Modal, NumberInput, Stack, Text, TextInput, Tooltip } from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconPencil, IconPlus, IconTrash } from "@tabler/icons-react";
import { useEffect, useState } from "react";
import { useSession } from "../../app/session";
import { EntityKind, type TimeEntry, type WorkItem } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { entryMs, formatDuration } from "../../store/timer";
import { UserAvatar } from "../../ui/chips";
import { attempt, notifyError } from "../../ui/notify";
import { TimerButton, useRunning } from "./timer";

function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
function parseLocal(v: string): number | undefined {
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : undefined;
}

export function upsertEntry(list: TimeEntry[], t: TimeEntry): TimeEntry[] {
  const i = list.findIndex((x) => x.id === t.id);
  if (i < 0) return [...list, t].sort((a, b) => Number(b.startedAt - a.startedAt));
  if (list[i]!.version > t.version) return list;
  const next = [...list];
  next[i] = t;
  return next;
}

export function ItemTime({ item, editable }: { item: WorkItem; editable: boolean }) {
  const { conn, me } = useSession();
  const running = useRunning();
  const [entries, setEntries] = useState<TimeEntry[] | null>(null);
  const [editing, setEditing] = useState<TimeEntry | "new" | null>(null);
  const [now, setNow] = useState(Date.now);

  useEffect(() => {
    let live = true;
    setEntries(null);
    conn.send({ case: "listTimeEntries", value: { workItemId: item.id } }, "timeEntryList").then(
      (r) => live && setEntries([...r.entries].sort((a, b) => Number(b.startedAt - a.startedAt))),
      (e) => live && (notifyError(e, "Could not load the time entries"), setEntries([])),
    );
    const off = conn.onEvent((e) => {
      const c = e.change?.change;
      if (c?.case === "timeEntry" && c.value.workItemId === item.id) setEntries((l) => upsertEntry(l ?? [], c.value));
      if (c?.case === "deleted" && c.value.entity === EntityKind.TIME_ENTRY) setEntries((l) => l && l.filter((x) => x.id !== c.value.id));
    });
    return () => {
      live = false;
      off();
    };
  }, [conn, item.id]);

  // The running timer of this item ticks in the total.
  const mine = running?.workItemId === item.id ? running : null;
  useEffect(() => {
    if (!mine) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [mine]);
  const list = entries ?? [];
  const shown = mine ? upsertEntry(list, mine) : list;
  const total = shown.reduce((n, t) => n + entryMs(t, now), 0);

  return (
    <Stack gap={6} data-testid="item-time">
      <Group justify="space-between">
        <Group gap={8}>
          {editable && <TimerButton workItemId={item.id} itemKey={item.key} variant="button" />}
          <Text size="sm" className="tabular" data-testid="time-total">
            Total {formatDuration(total)}
          </Text>
        </Group>
        {editable && (
          <Button size="compact-xs" variant="subtle" leftSection={<IconPlus size={12} />} onClick={() => setEditing("new")}>
            Log time
          </Button>
        )}
      </Group>
      {entries === null ? (
        <Text size="xs" c="dimmed">
          Loading…
        </Text>
      ) : shown.length === 0 ? (
        <Text size="xs" c="dimmed">
          No time logged yet. Start the timer or log time by hand.
        </Text>
      ) : (
        <Stack gap={0} role="list" aria-label="Time entries">
          {shown.map((t) => (
            <Group key={t.id} gap={8} h={30} px={4} wrap="nowrap" role="listitem" className="child-row" data-testid="time-entry">
              <UserAvatar user={t.userId} label="" />
              <Text size="xs" c="dimmed" w={120} className="tabular" style={{ flexShrink: 0 }}>
                {new Date(Number(t.startedAt)).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })}
              </Text>
              <Text size="xs" fw={600} w={64} className="tabular" style={{ flexShrink: 0 }}>
                {t.endedAt === undefined && t.durationMs === undefined ? "running" : formatDuration(entryMs(t))}
              </Text>
              <Text size="xs" truncate style={{ flex: 1 }}>
                {t.description}
              </Text>
              {t.userId === me && t.endedAt !== undefined && (
                <>
                  <Tooltip label="Edit">
                    <ActionIcon size="sm" variant="subtle" color="gray" aria-label="Edit entry" onClick={() => setEditing(t)}>
                      <IconPencil size={12} />
                    </ActionIcon>
                  </Tooltip>
                  <Tooltip label="Delete">
                    <ActionIcon
                      size="sm"
                      variant="subtle"
                      color="gray"
                      aria-label="Delete entry"
                      onClick={() =>
                        modals.openConfirmModal({
                          title: "Delete this time entry?",
                          labels: { confirm: "Delete", cancel: "Keep it" },
                          confirmProps: { color: "red" },
                          onConfirm: () =>
                            void attempt(async () => {
                              await conn.send({ case: "deleteTimeEntry", value: { timeEntryId: t.id, version: t.version } }, "deleted");
                              setEntries((l) => l && l.filter((x) => x.id !== t.id));
                            }, "Could not delete the entry"),
                        })
                      }
                    >
                      <IconTrash size={12} />
                    </ActionIcon>
                  </Tooltip>
                </>
              )}
            </Group>
          ))}
        </Stack>
      )}
      {editing && (
        <EntryDialog
          item={item}
          entry={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={(t) => setEntries((l) => upsertEntry(l ?? [], t))}
        />
      )}
    </Stack>
  );
}

function EntryDialog({ item, entry, onClose, onSaved }: { item: WorkItem; entry?: TimeEntry; onClose: () => void; onSaved: (t: TimeEntry) => void }) {
  const { conn } = useSession();
  const [start, setStart] = useState(localInput(entry ? Number(entry.startedAt) : Date.now() - 3600_000));
  const [minutes, setMinutes] = useState<number | string>(entry ? Math.round(entryMs(entry) / 60000) : 60);
  const [note, setNote] = useState(entry?.description ?? "");
  const [error, setError] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const save = async () => {
    const startedAt = parseLocal(start);
    const m = Number(minutes);
    if (startedAt === undefined) return setError({ started_at: "Pick a start" });
    if (!(m > 0)) return setError({ duration_ms: "More than zero minutes" });
    setBusy(true);
    try {
      const res = entry
        ? await conn.send(
            {
              case: "editTimeEntry",
              value: { timeEntryId: entry.id, version: entry.version, startedAt: BigInt(startedAt), endedAt: BigInt(startedAt + m * 60000), description: note },
            },
            "timeEntry",
          )
        : await conn.send(
            { case: "addTimeEntry", value: { workItemId: item.id, startedAt: BigInt(startedAt), durationMs: BigInt(m * 60000), description: note } },
            "timeEntry",
          );
      if (res.entry) onSaved(res.entry);
      onClose();
    } catch (e) {
      if (e instanceof RequestError && e.field) setError({ [e.field]: e.message });
      else notifyError(e, "Could not save the entry");
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={entry ? "Edit time entry" : `Log time on ${item.key}`} size="sm">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Stack gap="sm">
          <TextInput type="datetime-local" label="Start" value={start} onChange={(e) => setStart(e.currentTarget.value)} error={error.started_at} />
          <NumberInput label="Minutes" min={1} value={minutes} onChange={setMinutes} error={error.duration_ms ?? error.ended_at} />
          <TextInput label="Note" value={note} onChange={(e) => setNote(e.currentTarget.value)} error={error.description} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
