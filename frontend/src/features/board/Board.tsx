// The board: one column per swim lane, cards in position order. Dragging a card (pointer or
// keyboard) sends one move_work_item naming its new neighbour; the card lands at once (optimistic)
// and on every other open board when the event arrives. Each card subscribes to its own item, and
// each column to its list of ids, so one card's change re-renders one card.
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  closestCorners,
  useDroppable,
  useSensor,
  useSensors,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
} from "@dnd-kit/core";
import {
  SortableContext,
  arrayMove,
  defaultAnimateLayoutChanges,
  sortableKeyboardCoordinates,
  useSortable,
  verticalListSortingStrategy,
  type AnimateLayoutChanges,
} from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { ActionIcon, Badge, Box, Button, Group, Paper, ScrollArea, Stack, Text, TextInput, Tooltip } from "@mantine/core";
import { IconLock, IconPlus } from "@tabler/icons-react";
import { memo, useCallback, useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import type { SwimLane, WorkItem } from "../../gen/pm/v1/entities_pb";
import { WorkItemType } from "../../gen/pm/v1/entities_pb";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { PriorityIcon, Points, TypeIcon, UserAvatar } from "../../ui/chips";
import { canEdit } from "../../ui/labels";
import { attempt } from "../../ui/notify";
import { STATUS_COLOR } from "../../theme";
import { useItemFilter } from "./ProjectView";

interface Preview {
  activeId: string;
  toStatus: number;
  overId: string | null;
}

export function Board({ store, openItem }: { store: ProjectStore; openItem: (key: string) => void }) {
  const lanes = useSelector(store, (s) => s.orderedLanes(), shallowArrayEqual);
  const filter = useItemFilter(store, "board");
  const shown = useSelector(store, (s) => s.items().filter(filter.test).length);
  const navigate = useNavigate();
  const editable = useSelector(store, (s) => canEdit(s.myRole));
  const [preview, setPreview] = useState<Preview | null>(null);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    // Space picks a card up (Enter opens it), arrows move it, Space or Enter drops it.
    useSensor(KeyboardSensor, {
      coordinateGetter: sortableKeyboardCoordinates,
      keyboardCodes: { start: ["Space"], cancel: ["Escape"], end: ["Space", "Enter"] },
    }),
  );

  const statusOf = useCallback(
    (id: string): number | undefined => {
      if (id.startsWith("lane:")) return Number(id.slice(5));
      return store.item(id)?.status;
    },
    [store],
  );

  const onDragStart = (e: DragStartEvent) => setPreview({ activeId: String(e.active.id), toStatus: store.item(String(e.active.id))?.status ?? 0, overId: null });
  const onDragOver = (e: DragOverEvent) => {
    // Over itself: the card already shows where it will land (its store status is the old one).
    if (!e.over || e.over.id === e.active.id) return;
    const overId = String(e.over.id);
    const toStatus = statusOf(overId);
    if (toStatus === undefined) return;
    const next = { activeId: String(e.active.id), toStatus, overId: overId.startsWith("lane:") ? null : overId };
    // Only a real change: re-rendering the columns moves the collision target, which would call
    // this again with the same answer.
    setPreview((p) => (p && p.activeId === next.activeId && p.toStatus === next.toStatus && p.overId === next.overId ? p : next));
  };
  const onDragEnd = (e: DragEndEvent) => {
    const p = preview;
    setPreview(null);
    if (!e.over || !p) return;
    const id = String(e.active.id);
    const item = store.item(id);
    if (!item) return;
    // Dropped where it was.
    if (e.over.id === e.active.id && p.toStatus === item.status) return;
    // Dropped on its own placeholder in another column: the place the preview shows.
    const overId = e.over.id === e.active.id ? (p.overId ?? `lane:${p.toStatus}`) : String(e.over.id);
    const toStatus = e.over.id === e.active.id ? p.toStatus : (statusOf(overId) ?? p.toStatus);
    const column = store.column(toStatus, filter.test).map((w) => w.id);
    let order: string[];
    if (item.status === toStatus) {
      const from = column.indexOf(id);
      const to = overId.startsWith("lane:") ? column.length - 1 : column.indexOf(overId);
      if (from < 0 || to < 0 || from === to) return;
      order = arrayMove(column, from, to);
    } else {
      const without = column.filter((x) => x !== id);
      const at = overId.startsWith("lane:") ? without.length : Math.max(0, without.indexOf(overId));
      order = [...without.slice(0, at), id, ...without.slice(at)];
    }
    const i = order.indexOf(id);
    // One neighbour is enough and stays valid when filters hide cards between two visible ones.
    const after = i > 0 ? order[i - 1] : undefined;
    const before = after ? undefined : order[i + 1];
    void attempt(() => store.moveItem(id, toStatus, after, before), "Could not move the card");
  };

  if (lanes.length === 0) {
    return (
      <Box p="xl">
        <Text c="dimmed">This project has no board columns yet.</Text>
      </Box>
    );
  }

  const empty = shown === 0 && (
    <Paper withBorder radius="md" p="lg" mx="md" mt="md" ta="center">
      <Stack gap={6} align="center">
        <Text fw={600}>{filter.sprintFiltered ? "No items in this sprint" : "No items match these filters"}</Text>
        <Text size="sm" c="dimmed">
          {filter.sprintFiltered
            ? "Plan the sprint in the backlog: give items this sprint, and they show up here."
            : "Clear a filter to see more, or add an item with + on a column."}
        </Text>
        {filter.sprintFiltered && (
          <Button mt={4} variant="light" onClick={() => navigate(location.pathname.replace(/\/board.*$/, "/backlog"))}>
            Open the backlog
          </Button>
        )}
      </Stack>
    </Paper>
  );

  return (
    <DndContext
      sensors={sensors}
      collisionDetection={closestCorners}
      onDragStart={onDragStart}
      onDragOver={onDragOver}
      onDragEnd={onDragEnd}
      onDragCancel={() => setPreview(null)}
      accessibility={{
        screenReaderInstructions: { draggable: "Enter opens the card. To move it, press space, use the arrow keys, then space again to drop it." },
      }}
    >
      {empty}
      <ScrollArea h="100%" type="auto" offsetScrollbars>
        <Group align="flex-start" gap={10} p="md" wrap="nowrap" h="100%">
          {lanes.map((lane) => (
            <Column key={lane.id} lane={lane} store={store} filter={filter} preview={preview} openItem={openItem} editable={editable} />
          ))}
        </Group>
      </ScrollArea>
      <DragOverlay dropAnimation={{ duration: 150, easing: "ease-out" }}>
        {preview ? <CardBody store={store} id={preview.activeId} overlay /> : null}
      </DragOverlay>
    </DndContext>
  );
}

const Column = memo(function Column({
  lane,
  store,
  filter,
  preview,
  openItem,
  editable,
}: {
  lane: SwimLane;
  store: ProjectStore;
  filter: ReturnType<typeof useItemFilter>;
  preview: Preview | null;
  openItem: (key: string) => void;
  editable: boolean;
}) {
  const ids = useSelector(
    store,
    (s) => s.column(lane.status, filter.test).map((w) => w.id),
    shallowArrayEqual,
  );
  const points = useSelector(store, (s) => s.column(lane.status, filter.test).reduce((n, w) => n + (w.storyPoints ?? 0), 0));
  // While a card from another column hovers here, show where it will land.
  const shown = useMemo(() => {
    if (!preview) return ids;
    const inHere = ids.includes(preview.activeId);
    if (preview.toStatus === lane.status && !inHere) {
      const at = preview.overId ? ids.indexOf(preview.overId) : -1;
      return at < 0 ? [...ids, preview.activeId] : [...ids.slice(0, at), preview.activeId, ...ids.slice(at)];
    }
    if (preview.toStatus !== lane.status && inHere) return ids.filter((x) => x !== preview.activeId);
    return ids;
  }, [ids, preview, lane.status]);
  const { setNodeRef, isOver } = useDroppable({ id: `lane:${lane.status}` });
  const [adding, setAdding] = useState(false);
  const overLimit = lane.wipLimit !== undefined && ids.length > lane.wipLimit;

  return (
    <Stack
      miw={220}
      gap={6}
      p={6}
      style={{
        borderRadius: 10,
        background: isOver ? "var(--mantine-color-default-hover)" : "light-dark(var(--mantine-color-gray-0), var(--mantine-color-dark-7))",
        maxHeight: "100%",
        flex: "1 1 0",
        maxWidth: 320,
      }}
      role="region"
      aria-label={`${lane.name} column`}
    >
      <Group justify="space-between" px={4} h={28} wrap="nowrap">
        <Group gap={6} wrap="nowrap">
          <span style={{ width: 8, height: 8, borderRadius: 99, background: `var(--mantine-color-${STATUS_COLOR[lane.status] ?? "gray"}-6)` }} />
          <Text size="sm" fw={600}>
            {lane.name}
          </Text>
          <Text size="xs" c={overLimit ? "red" : "dimmed"} className="tabular">
            {ids.length}
            {lane.wipLimit !== undefined ? ` / ${lane.wipLimit}` : ""}
          </Text>
        </Group>
        <Group gap={4} wrap="nowrap">
          {points > 0 && (
            <Text size="xs" c="dimmed" className="tabular">
              {points} pts
            </Text>
          )}
          {editable && (
            <Tooltip label={`Add to ${lane.name}`}>
              <ActionIcon size="sm" variant="subtle" color="gray" onClick={() => setAdding(true)} aria-label={`Add item to ${lane.name}`}>
                <IconPlus size={14} />
              </ActionIcon>
            </Tooltip>
          )}
        </Group>
      </Group>
      <ScrollArea.Autosize mah="calc(100vh - 140px)" type="hover" offsetScrollbars={false}>
        <div ref={setNodeRef} style={{ minHeight: 40, display: "flex", flexDirection: "column", gap: 6 }}>
          <SortableContext items={shown} strategy={verticalListSortingStrategy}>
            {shown.map((id) => (
              <SortableCard key={id} id={id} store={store} openItem={openItem} disabled={!editable} />
            ))}
          </SortableContext>
          {shown.length === 0 && !adding && (
            <Text size="xs" c="dimmed" ta="center" py="md">
              {editable ? "Drop cards here" : "Nothing here"}
            </Text>
          )}
        </div>
      </ScrollArea.Autosize>
      {adding && <QuickAdd store={store} lane={lane} onDone={() => setAdding(false)} />}
    </Stack>
  );
});

function QuickAdd({ store, lane, onDone }: { store: ProjectStore; lane: SwimLane; onDone: () => void }) {
  const [title, setTitle] = useState("");
  const filter = new URLSearchParams(location.search).get("sprint");
  const sprintId = filter && filter !== "all" && filter !== "none" ? filter : store.activeSprint()?.id;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!title.trim()) return onDone();
        void attempt(async () => {
          await store.createItem({ type: WorkItemType.TASK, title: title.trim(), status: lane.status, sprintId: filter === "none" ? undefined : sprintId });
          setTitle("");
        }, "Could not create the item");
      }}
    >
      <Paper withBorder p={6} radius="md">
        <TextInput
          autoFocus
          size="xs"
          variant="unstyled"
          placeholder="Task title, Enter to add"
          aria-label={`New item in ${lane.name}`}
          value={title}
          onChange={(e) => setTitle(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Escape" && onDone()}
          onBlur={() => !title && onDone()}
        />
        <Group justify="flex-end" gap={4}>
          <Button size="compact-xs" variant="subtle" color="gray" onClick={onDone}>
            Cancel
          </Button>
          <Button size="compact-xs" type="submit">
            Add
          </Button>
        </Group>
      </Paper>
    </form>
  );
}

// Cards glide to a new place when the order changes outside a drag (someone else moved one), but
// not right after the user's own drop, which already shows where the card landed.
const animateLayoutChanges: AnimateLayoutChanges = (args) =>
  defaultAnimateLayoutChanges(args) || (!args.isSorting && !args.wasDragging);

const SortableCard = memo(function SortableCard({
  id,
  store,
  openItem,
  disabled,
}: {
  id: string;
  store: ProjectStore;
  openItem: (key: string) => void;
  disabled: boolean;
}) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({ id, disabled, animateLayoutChanges });
  const key = useSelector(store, (s) => s.item(id)?.key ?? "");
  return (
    <div
      ref={setNodeRef}
      className="pm-sortable"
      style={{ transform: CSS.Transform.toString(transform), transition, opacity: isDragging ? 0.35 : 1 }}
      {...attributes}
      {...listeners}
      // Dragging may be off (viewers), but the card still opens: it is not a disabled control.
      aria-disabled={false}
      aria-roledescription="card"
      onClick={() => key && openItem(key)}
      onKeyDown={(e) => {
        listeners?.onKeyDown?.(e);
        if (e.key === "Enter" && !e.defaultPrevented && key) openItem(key);
      }}
    >
      <CardBody store={store} id={id} />
    </div>
  );
});

function useRecentlyTouched(store: ProjectStore, id: string): boolean {
  const at = useSelector(store, (s) => s.remoteTouched.get(id));
  const [on, setOn] = useState(false);
  useEffect(() => {
    if (!at || Date.now() - at > 2000) return;
    setOn(true);
    const t = setTimeout(() => {
      setOn(false);
      store.clearRemoteTouched(id);
    }, 1600);
    return () => clearTimeout(t);
  }, [at, id, store]);
  return on;
}

const CardBody = memo(function CardBody({ store, id, overlay }: { store: ProjectStore; id: string; overlay?: boolean }) {
  const w = useSelector(store, (s) => s.item(id));
  const flash = useRecentlyTouched(store, id);
  if (!w) return null;
  return <CardView w={w} flash={flash} overlay={overlay} />;
});

function CardView({ w, flash, overlay }: { w: WorkItem; flash: boolean; overlay?: boolean }) {
  return (
    <Paper
      withBorder
      radius="md"
      p={8}
      shadow={overlay ? "md" : undefined}
      className={flash ? "pm-card remote-arrive" : "pm-card"}
      style={{ cursor: overlay ? "grabbing" : "pointer", background: "var(--mantine-color-body)" }}
      data-testid={overlay ? "card-dragged" : "card"}
      data-key={w.key}
      aria-label={`${w.key} ${w.title}`}
    >
      <Text size="xs" c="dimmed" fw={500} className="tabular">
        {w.key}
      </Text>
      <Text size="sm" lh={1.35} mt={2} lineClamp={3} fw={450}>
        {w.title}
      </Text>
      <Group gap={6} mt={8} wrap="nowrap" justify="space-between">
        <Group gap={6} wrap="nowrap">
          <TypeIcon type={w.type} />
          <PriorityIcon priority={w.priority} />
          <Points points={w.storyPoints} />
          {w.blocked && (
            <Badge size="xs" color="red" variant="light" leftSection={<IconLock size={10} />} style={{ textTransform: "none" }}>
              Blocked
            </Badge>
          )}
        </Group>
        <UserAvatar user={w.assignee} />
      </Group>
    </Paper>
  );
}
