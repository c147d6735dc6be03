// The backlog: epic → story → task as an indented list with key, title, type, status, priority,
// points, assignee and sprint. Filters live in the URL; an item that matches keeps its ancestors
// visible for context. Keyboard: ↑/↓ move, Enter opens, c creates (a child of the focused epic or
// story, else an epic), / searches.
import { ActionIcon, Badge, Box, Button, Group, Kbd, Paper, ScrollArea, Select, Stack, Text, TextInput, Tooltip } from "@mantine/core";
import { IconChevronDown, IconChevronRight, IconPlus } from "@tabler/icons-react";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { WorkItemType, type WorkItem } from "../../gen/pm/v1/entities_pb";
import { useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { PriorityIcon, Points, StatusBadge, TypeIcon, UserAvatar } from "../../ui/chips";
import { STATUSES, STATUS_LABEL, TYPES, TYPE_LABEL, canEdit, options } from "../../ui/labels";
import { attempt } from "../../ui/notify";
import { useItemFilter } from "../board/ProjectView";

interface Row {
  id: string;
  depth: number;
  match: boolean;
  hasChildren: boolean;
}

const CHILD_TYPE: Record<number, WorkItemType | undefined> = {
  [WorkItemType.EPIC]: WorkItemType.STORY,
  [WorkItemType.STORY]: WorkItemType.TASK,
};

function byNumber(a: WorkItem, b: WorkItem) {
  return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
}

function buildRows(items: WorkItem[], test: (w: WorkItem) => boolean, collapsed: Set<string>): Row[] {
  const byParent = new Map<string, WorkItem[]>();
  const ids = new Set(items.map((w) => w.id));
  const roots: WorkItem[] = [];
  for (const w of items) {
    if (w.parentId && ids.has(w.parentId)) {
      const list = byParent.get(w.parentId) ?? [];
      list.push(w);
      byParent.set(w.parentId, list);
    } else roots.push(w);
  }
  const visible = new Map<string, boolean>();
  const visit = (w: WorkItem): boolean => {
    let any = test(w);
    for (const c of byParent.get(w.id) ?? []) any = visit(c) || any;
    visible.set(w.id, any);
    return any;
  };
  roots.forEach(visit);
  const rows: Row[] = [];
  const emit = (w: WorkItem, depth: number) => {
    if (!visible.get(w.id)) return;
    const kids = (byParent.get(w.id) ?? []).sort(byNumber);
    rows.push({ id: w.id, depth, match: test(w), hasChildren: kids.length > 0 });
    if (!collapsed.has(w.id)) for (const c of kids) emit(c, depth + 1);
  };
  // Epics first, then stories and tasks without a parent.
  roots.sort((a, b) => a.type - b.type || byNumber(a, b)).forEach((w) => emit(w, 0));
  return rows;
}

const rowsEqual = (a: Row[], b: Row[]) =>
  a.length === b.length && a.every((r, i) => r.id === b[i]!.id && r.depth === b[i]!.depth && r.match === b[i]!.match && r.hasChildren === b[i]!.hasChildren);

export function Backlog({ store, openItem }: { store: ProjectStore; openItem: (key: string) => void }) {
  const filter = useItemFilter(store, "backlog");
  const [params, setParams] = useSearchParams();
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const rows = useSelector(store, (s) => buildRows(s.items(), filter.test, collapsed), rowsEqual);
  const total = useSelector(store, (s) => s.items().length);
  const editable = useSelector(store, (s) => canEdit(s.myRole));
  const [focus, setFocus] = useState(0);
  const [creating, setCreating] = useState<{ parentId?: string; type: WorkItemType; afterIndex: number } | null>(null);
  const listRef = useRef<HTMLDivElement>(null);

  const setParam = (k: string, v: string | null) => {
    const next = new URLSearchParams(params);
    if (!v) next.delete(k);
    else next.set(k, v);
    setParams(next, { replace: true });
  };

  const startCreate = (index: number) => {
    if (!editable) return;
    const row = rows[index];
    const w = row ? store.item(row.id) : undefined;
    const childType = w ? CHILD_TYPE[w.type] : undefined;
    if (w && childType !== undefined) {
      setCollapsed((c) => {
        const n = new Set(c);
        n.delete(w.id);
        return n;
      });
      setCreating({ parentId: w.id, type: childType, afterIndex: index });
    } else setCreating({ type: WorkItemType.EPIC, afterIndex: rows.length - 1 });
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, .mantine-Drawer-content, .mantine-Modal-content, [role=listbox]")) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === "ArrowDown") {
        e.preventDefault();
        setFocus((f) => Math.min(rows.length - 1, f + 1));
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        setFocus((f) => Math.max(0, f - 1));
      } else if (e.key === "Enter") {
        const r = rows[focus];
        const w = r && store.item(r.id);
        if (w) openItem(w.key);
      } else if (e.key === "c") {
        e.preventDefault();
        startCreate(focus);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  useEffect(() => {
    listRef.current?.querySelector(`[data-index="${focus}"]`)?.scrollIntoView({ block: "nearest" });
  }, [focus]);

  const toggle = (id: string) =>
    setCollapsed((c) => {
      const n = new Set(c);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <Stack gap={0} h="100%">
      <Group px="md" py={6} gap="xs" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <Select
          size="xs"
          w={120}
          placeholder="Any type"
          aria-label="Type filter"
          clearable
          data={options(TYPE_LABEL, TYPES)}
          value={params.get("type")}
          onChange={(v) => setParam("type", v)}
        />
        <Select
          size="xs"
          w={140}
          placeholder="Any status"
          aria-label="Status filter"
          clearable
          data={options(STATUS_LABEL, STATUSES)}
          value={params.get("status")}
          onChange={(v) => setParam("status", v)}
        />
        <Text size="xs" c="dimmed" className="tabular">
          {rows.filter((r) => r.match).length} of {total} items
        </Text>
        <Box style={{ flex: 1 }} />
        <Text size="xs" c="dimmed" visibleFrom="md">
          <Kbd size="xs">↑</Kbd> <Kbd size="xs">↓</Kbd> move · <Kbd size="xs">Enter</Kbd> open · <Kbd size="xs">c</Kbd> create · <Kbd size="xs">/</Kbd> search
        </Text>
        {editable && (
          <Button leftSection={<IconPlus size={14} />} onClick={() => setCreating({ type: WorkItemType.EPIC, afterIndex: rows.length - 1 })}>
            New epic
          </Button>
        )}
      </Group>
      <Group px="md" h={30} gap={0} wrap="nowrap" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }} c="dimmed" fz="xs" fw={500}>
        <Box style={{ flex: 1 }}>Title</Box>
        <Box w={110}>Status</Box>
        <Box w={40}>Pri.</Box>
        <Box w={44}>Pts</Box>
        <Box w={120}>Assignee</Box>
        <Box w={130}>Sprint</Box>
        <Box w={28} />
      </Group>
      <ScrollArea style={{ flex: 1 }}>
        <div ref={listRef} role="treegrid" aria-label="Backlog">
          {rows.length === 0 && !creating && (
            <Paper m="xl" p="xl" withBorder radius="md" ta="center">
              <Stack align="center" gap={6}>
                <Text fw={600}>{total === 0 ? "The backlog is empty" : "No items match these filters"}</Text>
                <Text size="sm" c="dimmed">
                  {total === 0 ? "Start with an epic, then break it into stories and tasks." : "Clear a filter to see more."}
                </Text>
                {total === 0 && editable && (
                  <Button mt="xs" onClick={() => setCreating({ type: WorkItemType.EPIC, afterIndex: -1 })}>
                    Create an epic
                  </Button>
                )}
              </Stack>
            </Paper>
          )}
          {rows.map((r, i) => (
            <div key={r.id}>
              <BacklogRow
                store={store}
                row={r}
                index={i}
                focused={i === focus}
                collapsed={collapsed.has(r.id)}
                editable={editable}
                onToggle={toggle}
                onOpen={openItem}
                onFocus={setFocus}
                onAddChild={startCreate}
              />
              {creating && creating.afterIndex === i && (
                <InlineCreate store={store} depth={r.depth + (creating.parentId === r.id ? 1 : 0)} {...creating} onDone={() => setCreating(null)} />
              )}
            </div>
          ))}
          {creating && (creating.afterIndex < 0 || creating.afterIndex >= rows.length) && (
            <InlineCreate store={store} depth={0} {...creating} onDone={() => setCreating(null)} />
          )}
        </div>
      </ScrollArea>
    </Stack>
  );
}

const BacklogRow = memo(function BacklogRow({
  store,
  row,
  index,
  focused,
  collapsed,
  editable,
  onToggle,
  onOpen,
  onFocus,
  onAddChild,
}: {
  store: ProjectStore;
  row: Row;
  index: number;
  focused: boolean;
  collapsed: boolean;
  editable: boolean;
  onToggle: (id: string) => void;
  onOpen: (key: string) => void;
  onFocus: (i: number) => void;
  onAddChild: (i: number) => void;
}) {
  const w = useSelector(store, (s) => s.item(row.id));
  const sprint = useSelector(store, (s) => (w?.sprintId ? s.sprints.get(w.sprintId)?.name : undefined));
  if (!w) return null;
  const childType = CHILD_TYPE[w.type];
  return (
    <Group
      data-index={index}
      role="row"
      aria-selected={focused}
      aria-label={`${w.key} ${w.title}`}
      className={focused ? "pm-row row-focus" : "pm-row"}
      h={34}
      px="md"
      gap={0}
      wrap="nowrap"
      style={{
        borderBottom: "1px solid var(--mantine-color-default-border)",
        cursor: "pointer",
        opacity: row.match ? 1 : 0.55,
        background: w.type === WorkItemType.EPIC ? "light-dark(var(--mantine-color-gray-0), var(--mantine-color-dark-6))" : undefined,
      }}
      onClick={() => {
        onFocus(index);
        onOpen(w.key);
      }}
    >
      <Group gap={6} wrap="nowrap" style={{ flex: 1, minWidth: 0 }} pl={row.depth * 22}>
        <ActionIcon
          size="xs"
          variant="transparent"
          color="gray"
          style={{ visibility: row.hasChildren ? "visible" : "hidden" }}
          aria-label={collapsed ? "Expand" : "Collapse"}
          onClick={(e) => {
            e.stopPropagation();
            onToggle(w.id);
          }}
        >
          {collapsed ? <IconChevronRight size={14} /> : <IconChevronDown size={14} />}
        </ActionIcon>
        <TypeIcon type={w.type} size={14} />
        <Text size="xs" c="dimmed" w={62} className="tabular" style={{ flexShrink: 0 }}>
          {w.key}
        </Text>
        <Text size="sm" truncate fw={w.type === WorkItemType.EPIC ? 600 : 400}>
          {w.title}
        </Text>
        {w.blocked && (
          <Badge size="xs" color="red" variant="light" style={{ textTransform: "none", flexShrink: 0 }}>
            Blocked
          </Badge>
        )}
      </Group>
      <Box w={110}>
        <StatusBadge status={w.status} />
      </Box>
      <Box w={40}>
        <PriorityIcon priority={w.priority} />
      </Box>
      <Box w={44}>
        <Points points={w.storyPoints} />
      </Box>
      <Group w={120} gap={6} wrap="nowrap">
        <UserAvatar user={w.assignee} size={18} />
        <Text size="xs" c="dimmed" truncate>
          {w.assignee ?? ""}
        </Text>
      </Group>
      <Text w={130} size="xs" c="dimmed" truncate>
        {sprint ?? ""}
      </Text>
      <Box w={28}>
        {editable && childType !== undefined && (
          <Tooltip label={`Add ${TYPE_LABEL[childType]?.toLowerCase()}`}>
            <ActionIcon
              size="sm"
              variant="subtle"
              color="gray"
              aria-label={`Add ${TYPE_LABEL[childType]?.toLowerCase()} to ${w.key}`}
              onClick={(e) => {
                e.stopPropagation();
                onAddChild(index);
              }}
            >
              <IconPlus size={13} />
            </ActionIcon>
          </Tooltip>
        )}
      </Box>
    </Group>
  );
});

function InlineCreate({
  store,
  depth,
  parentId,
  type,
  onDone,
}: {
  store: ProjectStore;
  depth: number;
  parentId?: string;
  type: WorkItemType;
  onDone: () => void;
}) {
  const [title, setTitle] = useState("");
  const [busy, setBusy] = useState(false);
  const parent = useMemo(() => (parentId ? store.item(parentId) : undefined), [store, parentId]);
  const label = TYPE_LABEL[type]?.toLowerCase() ?? "item";
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!title.trim()) return onDone();
        setBusy(true);
        const made = await attempt(() => store.createItem({ type, title: title.trim(), parentId, sprintId: parent?.sprintId }), `Could not create the ${label}`);
        setBusy(false);
        if (made) setTitle("");
      }}
    >
      <Group h={38} px="md" gap={6} wrap="nowrap" pl={`calc(var(--mantine-spacing-md) + ${depth * 22 + 22}px)`} style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <TypeIcon type={type} size={14} />
        <TextInput
          autoFocus
          size="xs"
          style={{ flex: 1 }}
          aria-label={`New ${label} title`}
          placeholder={parent ? `New ${label} in ${parent.key}, Enter to add, Esc to stop` : `New ${label}, Enter to add, Esc to stop`}
          value={title}
          disabled={busy}
          onChange={(e) => setTitle(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Escape" && onDone()}
        />
        <Button size="xs" type="submit" loading={busy}>
          Add {label}
        </Button>
      </Group>
    </form>
  );
}
