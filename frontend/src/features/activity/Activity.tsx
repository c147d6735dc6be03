// The project's activity feed: who changed what, old → new, newest first, with filters by person
// and item (in the URL). Live: each event of the project refreshes the first page; "Older" pages on.
import { Anchor, Box, Button, Group, ScrollArea, Select, Skeleton, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { useSession } from "../../app/session";
import { EntityKind, type ActivityEntry } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { UserAvatar } from "../../ui/chips";
import { timeAgo } from "../../ui/time";

const ENTITY_LABEL: Record<number, string> = {
  [EntityKind.PROJECT]: "the project",
  [EntityKind.MEMBER]: "member",
  [EntityKind.WORK_ITEM]: "",
  [EntityKind.SPRINT]: "sprint",
  [EntityKind.COMMENT]: "a comment",
  [EntityKind.TIME_ENTRY]: "time",
  [EntityKind.DEPENDENCY]: "a link",
  [EntityKind.SWIM_LANE]: "lane",
};

function pretty(store: ProjectStore, field: string, v: string | undefined): string {
  if (v === undefined || v === "") return field === "assignee" ? "nobody" : "none";
  if (field === "sprint_id") return store.sprints.get(v)?.name ?? "a sprint";
  if (field === "parent_id" || field === "work_item_id") return store.item(v)?.key ?? v;
  if (field === "status" || field === "priority" || field === "type" || field === "role") {
    const words = v.toLowerCase().replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }
  if (/^(starts_at|ends_at|started_at|ended_at)$/.test(field) && /^\d+$/.test(v)) return new Date(Number(v)).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
  if (field === "duration_ms" && /^\d+$/.test(v)) return `${Math.round(Number(v) / 60000)}m`;
  return v.length > 60 ? `${v.slice(0, 60)}…` : v;
}

/** The thing an entry is about, as people name it: an item's key, a sprint's name. */
export function subject(store: ProjectStore, e: ActivityEntry): { text: string; itemKey?: string } {
  if (e.entity === EntityKind.WORK_ITEM) {
    const key = store.item(e.entityId)?.key;
    return { text: key ?? "an item", itemKey: key };
  }
  if (e.entity === EntityKind.SPRINT) return { text: store.sprints.get(e.entityId)?.name ?? "a sprint" };
  if (e.entity === EntityKind.TIME_ENTRY || e.entity === EntityKind.COMMENT || e.entity === EntityKind.DEPENDENCY) return { text: "" };
  if (e.entity === EntityKind.MEMBER) return { text: `member ${e.entityId.split("/").pop()}` };
  return { text: ENTITY_LABEL[e.entity] ?? "something" };
}

const VERBS: Record<number, Record<string, string>> = {
  [EntityKind.TIME_ENTRY]: { created: "logged time", deleted: "deleted a time entry" },
  [EntityKind.COMMENT]: { created: "commented", deleted: "deleted a comment" },
  [EntityKind.DEPENDENCY]: { created: "added a link", deleted: "removed a link" },
};

export function describeChange(store: ProjectStore, e: ActivityEntry): string {
  const verb = VERBS[e.entity]?.[e.action];
  if (verb) return verb;
  if (e.entity === EntityKind.TIME_ENTRY && e.field === "ended_at" && !e.oldValue) return "stopped a timer";
  if (e.entity === EntityKind.TIME_ENTRY) return "edited a time entry";
  if (e.entity === EntityKind.COMMENT) return "edited a comment";
  if (e.action === "created") return "created";
  if (e.action === "deleted") return "deleted";
  const field = e.field ?? "";
  if (!field) return "changed";
  if (field === "blocked") return e.newValue === "true" ? "became blocked" : "was unblocked";
  if (field === "description" || field === "body") return `changed the ${field}`;
  if (field === "position") return "reordered";
  return `changed ${field.replace(/_id$/, "").replace(/_ms$/, "").replace(/_/g, " ")}: ${pretty(store, field, e.oldValue)} → ${pretty(store, field, e.newValue)}`;
}

export function Activity({ store, openItem }: { store: ProjectStore; openItem: (key: string) => void }) {
  const { conn } = useSession();
  const [params, setParams] = useSearchParams();
  const user = params.get("user");
  const itemKey = (params.get("item") ?? "").trim();
  const [itemInput, setItemInput] = useState(itemKey);
  const members = useSelector(store, (s) => [...s.members.keys()].sort(), shallowArrayEqual);
  const seq = useSelector(store, (s) => s.lastSeq);
  const [entries, setEntries] = useState<ActivityEntry[] | null>(null);
  const [cursor, setCursor] = useState("");
  const [error, setError] = useState<string | null>(null);
  const older = useRef(false);

  const setParam = (k: string, v: string | null) => {
    const next = new URLSearchParams(params);
    if (!v) next.delete(k);
    else next.set(k, v);
    setParams(next, { replace: true });
  };

  const query = (after: string) =>
    conn.send(
      {
        case: "listActivity",
        value: {
          projectId: store.projectId,
          userId: user ?? undefined,
          ...(itemKey ? { entity: EntityKind.WORK_ITEM, entityId: itemKey } : {}),
          limit: 50,
          cursor: after,
        },
      },
      "activityList",
    );

  // The first page, again whenever the project moves on (live) or the filters change.
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      query("").then(
        (res) => {
          if (!live) return;
          setError(null);
          setEntries((prev) => {
            // Keep older pages the user loaded: merge the fresh first page on top.
            if (!older.current || !prev) return res.entries;
            const ids = new Set(res.entries.map((x) => x.id));
            return [...res.entries, ...prev.filter((x) => !ids.has(x.id))];
          });
          if (!older.current) setCursor(res.nextCursor);
        },
        (e) => live && setError(e instanceof RequestError ? e.message : String(e)),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [seq, user, itemKey, store.projectId]);
  useEffect(() => {
    older.current = false;
    setEntries(null);
  }, [user, itemKey]);

  const loadOlder = () =>
    query(cursor).then((res) => {
      older.current = true;
      setEntries((prev) => [...(prev ?? []), ...res.entries]);
      setCursor(res.nextCursor);
    });

  return (
    <Stack gap={0} h="100%">
      <Group px="md" py={10} gap="sm" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <Title order={2} fz={15} fw={600}>
          Activity
        </Title>
        <Select
          size="xs"
          w={160}
          placeholder="Anyone"
          aria-label="Filter by person"
          clearable
          data={members}
          value={user}
          onChange={(v) => setParam("user", v)}
        />
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setParam("item", itemInput.trim());
          }}
        >
          <TextInput
            size="xs"
            w={180}
            placeholder="Item key, then Enter"
            aria-label="Filter by item"
            leftSection={<IconSearch size={13} />}
            value={itemInput}
            onChange={(e) => {
              setItemInput(e.currentTarget.value);
              if (!e.currentTarget.value) setParam("item", null);
            }}
          />
        </form>
      </Group>
      <ScrollArea style={{ flex: 1 }}>
        <Box maw={900} px="md" py="sm">
          {error ? (
            <Text size="sm" c="red" role="alert">
              {error}
            </Text>
          ) : entries === null ? (
            <Stack gap={6}>
              {[0, 1, 2, 3, 4, 5].map((i) => (
                <Skeleton key={i} h={24} />
              ))}
            </Stack>
          ) : entries.length === 0 ? (
            <Text size="sm" c="dimmed" py="md">
              {user || itemKey ? "Nothing matches these filters." : "Nothing has happened in this project yet."}
            </Text>
          ) : (
            <>
              <Stack gap={0} role="feed" aria-label="Activity" data-testid="activity">
                {entries.map((e) => (
                  <Row key={String(e.id)} store={store} e={e} openItem={openItem} />
                ))}
              </Stack>
              {cursor && (
                <Button size="compact-xs" variant="subtle" w="fit-content" mt="xs" onClick={() => void loadOlder()}>
                  Older
                </Button>
              )}
            </>
          )}
        </Box>
      </ScrollArea>
    </Stack>
  );
}

function Row({ store, e, openItem }: { store: ProjectStore; e: ActivityEntry; openItem: (key: string) => void }) {
  const s = subject(store, e);
  return (
    <Group component="article" gap={8} h={34} wrap="nowrap" px={4} className="child-row" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }} data-testid="activity-entry">
      <UserAvatar user={e.actor} size={20} label="" />
      <Text size="sm" fw={600} style={{ whiteSpace: "nowrap" }}>
        {e.actor}
      </Text>
      {s.itemKey ? (
        <Anchor size="sm" className="tabular" style={{ whiteSpace: "nowrap" }} onClick={() => openItem(s.itemKey!)}>
          {s.itemKey}
        </Anchor>
      ) : s.text ? (
        <Text size="sm" c="dimmed" style={{ whiteSpace: "nowrap" }}>
          {s.text}
        </Text>
      ) : null}
      <Text size="sm" truncate style={{ flex: 1 }}>
        {describeChange(store, e)}
      </Text>
      <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }} title={new Date(Number(e.at)).toLocaleString()}>
        {timeAgo(Number(e.at))}
      </Text>
    </Group>
  );
}
