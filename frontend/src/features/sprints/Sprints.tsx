// Sprints: the open sprints (active first, then planned) with their items, totals against capacity
// and actions, the backlog beside them, and finished sprints below. Planning is drag and drop: drag
// an item from the backlog into a sprint or back (pointer, or keyboard: Space picks up, arrows move,
// Space drops), and every "Move to" menu does the same without dragging. Totals update while
// dragging, counting the item in the sprint it hovers.
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  pointerWithin,
  rectIntersection,
  useDraggable,
  useDroppable,
  useSensor,
  useSensors,
  type CollisionDetection,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
} from "@dnd-kit/core";
import {
  ActionIcon,
  Badge,
  Box,
  Button,
  Group,
  Menu,
  Modal,
  NumberInput,
  Paper,
  Progress,
  Radio,
  ScrollArea,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import { modals } from "@mantine/modals";
import { notifications } from "@mantine/notifications";
import {
  IconArrowsExchange,
  IconCalendar,
  IconChevronDown,
  IconChevronRight,
  IconDots,
  IconPlayerPlay,
  IconPlus,
  IconCheck,
  IconTrash,
  IconPencil,
  IconX,
  IconTarget,
} from "@tabler/icons-react";
import { lazy, memo, Suspense, useEffect, useMemo, useState } from "react";
import { SprintStatus, WorkItemStatus, type Sprint, type WorkItem } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import {
  dateInputValue,
  orderSprints,
  overCapacity,
  parseDateInput,
  plannable,
  projectedTotals,
  storeCapacity,
  storedCapacity,
  velocity,
  type SprintTotals,
} from "../../store/sprints";
import { PriorityIcon, Points, StatusBadge, TypeIcon, UserAvatar } from "../../ui/chips";
import { canEdit } from "../../ui/labels";
import { attempt, attemptShown, notifyError } from "../../ui/notify";

const Burndown = lazy(() => import("./Burndown"));

const BACKLOG = "backlog";
type Drag = { itemId: string; over: string | null | undefined };

export function fmtDate(ms: bigint | number | undefined): string {
  if (ms === undefined) return "";
  return new Date(Number(ms)).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

function dateRange(s: Sprint): string {
  if (s.startsAt === undefined && s.endsAt === undefined) return "No dates";
  return `${fmtDate(s.startsAt) || "…"} – ${fmtDate(s.endsAt) || "…"}`;
}

const STATUS_BADGE: Record<number, { label: string; color: string }> = {
  [SprintStatus.ACTIVE]: { label: "Active", color: "blue" },
  [SprintStatus.PLANNED]: { label: "Planned", color: "gray" },
  [SprintStatus.COMPLETED]: { label: "Completed", color: "teal" },
  [SprintStatus.CANCELLED]: { label: "Cancelled", color: "red" },
};

// Prefer the droppable under the pointer; the keyboard sensor has no pointer, so fall back to overlap.
const collision: CollisionDetection = (args) => {
  const hits = pointerWithin(args);
  return hits.length > 0 ? hits : rectIntersection(args);
};

export function Sprints({ store, openItem }: { store: ProjectStore; openItem: (key: string) => void }) {
  const sprints = useSelector(store, (s) => orderSprints([...s.sprints.values()]), shallowArrayEqual);
  const editable = useSelector(store, (s) => canEdit(s.myRole));
  const [drag, setDrag] = useState<Drag | null>(null);
  const [editing, setEditing] = useState<Sprint | "new" | null>(null);
  const [completing, setCompleting] = useState<Sprint | null>(null);
  const [showFinished, setShowFinished] = useState(false);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { keyboardCodes: { start: ["Space"], cancel: ["Escape"], end: ["Space", "Enter"] } }),
  );
  const open = sprints.filter((s) => s.status === SprintStatus.ACTIVE || s.status === SprintStatus.PLANNED);
  const finished = sprints.filter((s) => s.status === SprintStatus.COMPLETED || s.status === SprintStatus.CANCELLED);
  const vel = useSelector(store, (s) => velocity([...s.sprints.values()], s.items()));

  const targetOf = (id: string | undefined): string | null | undefined =>
    id === undefined ? undefined : id === BACKLOG ? null : id.startsWith("sprint:") ? id.slice(7) : undefined;

  const onStart = (e: DragStartEvent) => setDrag({ itemId: String(e.active.id).slice(5), over: undefined });
  const onOver = (e: DragOverEvent) =>
    setDrag((d) => (d ? { ...d, over: targetOf(e.over ? String(e.over.id) : undefined) } : d));
  const onEnd = (e: DragEndEvent) => {
    const itemId = String(e.active.id).slice(5);
    const target = targetOf(e.over ? String(e.over.id) : undefined);
    setDrag(null);
    if (target === undefined) return;
    void moveTo(store, itemId, target);
  };

  return (
    <DndContext sensors={sensors} collisionDetection={collision} onDragStart={onStart} onDragOver={onOver} onDragEnd={onEnd} onDragCancel={() => setDrag(null)}>
      <Group align="stretch" gap={0} h="100%" wrap="nowrap">
        <ScrollArea style={{ flex: 1, minWidth: 0 }} h="100%">
          <Stack gap="md" p="md" maw={980}>
            <Group justify="space-between">
              <Group gap={8}>
                <Title order={2} fz={15} fw={600}>
                  Sprints
                </Title>
                {vel !== undefined && (
                  <Tooltip label="Average points done in the last three completed sprints">
                    <Text size="xs" c="dimmed" className="tabular">
                      Velocity {vel} pts
                    </Text>
                  </Tooltip>
                )}
              </Group>
              {editable && (
                <Button leftSection={<IconPlus size={14} />} onClick={() => setEditing("new")}>
                  New sprint
                </Button>
              )}
            </Group>
            {open.length === 0 && (
              <Paper withBorder p="lg" radius="md">
                <Stack align="center" gap={6}>
                  <Text fw={600}>No sprint planned</Text>
                  <Text size="sm" c="dimmed">
                    Create a sprint, then drag items into it from the backlog.
                  </Text>
                  {editable && (
                    <Button mt={4} leftSection={<IconPlus size={14} />} onClick={() => setEditing("new")}>
                      New sprint
                    </Button>
                  )}
                </Stack>
              </Paper>
            )}
            {open.map((s) => (
              <SprintSection
                key={s.id}
                store={store}
                sprint={s}
                drag={drag}
                editable={editable}
                defaultCapacity={vel}
                openItem={openItem}
                onEdit={() => setEditing(s)}
                onComplete={() => setCompleting(s)}
              />
            ))}
            {finished.length > 0 && (
              <Box>
                <UnstyledButton onClick={() => setShowFinished((v) => !v)} aria-expanded={showFinished} py={4}>
                  <Group gap={6}>
                    {showFinished ? <IconChevronDown size={14} /> : <IconChevronRight size={14} />}
                    <Text size="sm" fw={600}>
                      Finished sprints
                    </Text>
                    <Text size="xs" c="dimmed">
                      {finished.length}
                    </Text>
                  </Group>
                </UnstyledButton>
                {showFinished && (
                  <Stack gap={6} mt={6}>
                    {finished.map((s) => (
                      <FinishedSprint key={s.id} store={store} sprint={s} editable={editable} />
                    ))}
                  </Stack>
                )}
              </Box>
            )}
          </Stack>
        </ScrollArea>
        <BacklogPane store={store} drag={drag} editable={editable} openItem={openItem} />
      </Group>
      <DragOverlay dropAnimation={null}>{drag ? <DragCard store={store} id={drag.itemId} /> : null}</DragOverlay>
      {editing && <SprintDialog store={store} sprint={editing === "new" ? undefined : editing} onClose={() => setEditing(null)} />}
      {completing && <CompleteDialog store={store} sprint={completing} onClose={() => setCompleting(null)} />}
    </DndContext>
  );
}

async function moveTo(store: ProjectStore, itemId: string, sprintId: string | null) {
  const w = store.item(itemId);
  if (!w || (w.sprintId ?? null) === sprintId) return;
  await attempt(() => store.updateItem(itemId, { sprintId }), `Could not move ${w.key}`);
}

function useTotals(store: ProjectStore, sprintId: string | undefined, drag: Drag | null): SprintTotals {
  return useSelector(
    store,
    (s) => projectedTotals(s.items(), sprintId, drag ? s.item(drag.itemId) : undefined, drag?.over),
    (a, b) => a.items === b.items && a.points === b.points && a.donePoints === b.donePoints && a.doneItems === b.doneItems && a.unestimated === b.unestimated,
  );
}

function sprintItemIds(s: ProjectStore, sprintId: string | undefined): string[] {
  return s
    .items()
    .filter((w) => (w.sprintId ?? undefined) === sprintId && plannable(w) && (sprintId !== undefined || w.status !== WorkItemStatus.DONE))
    .sort((a, b) => a.status - b.status || a.priority - b.priority || (a.number < b.number ? -1 : 1))
    .map((w) => w.id);
}

function SprintSection({
  store,
  sprint,
  drag,
  editable,
  defaultCapacity,
  openItem,
  onEdit,
  onComplete,
}: {
  store: ProjectStore;
  sprint: Sprint;
  drag: Drag | null;
  editable: boolean;
  defaultCapacity: number | undefined;
  openItem: (key: string) => void;
  onEdit: () => void;
  onComplete: () => void;
}) {
  const ids = useSelector(store, (s) => sprintItemIds(s, sprint.id), shallowArrayEqual);
  const totals = useTotals(store, sprint.id, drag);
  const [capacity, setCapacity] = useState<number | undefined>(() => storedCapacity(sprint.id) ?? defaultCapacity);
  const { setNodeRef, isOver } = useDroppable({ id: `sprint:${sprint.id}`, disabled: !editable });
  const over = overCapacity(totals, capacity);
  const active = sprint.status === SprintStatus.ACTIVE;
  const badge = STATUS_BADGE[sprint.status]!;
  const target = drag?.over === sprint.id;
  const [folded, setFolded] = useState(false);
  const [capacityOpen, setCapacityOpen] = useState(false);

  return (
    <Paper
      ref={setNodeRef}
      withBorder
      radius="md"
      role="region"
      aria-label={`Sprint ${sprint.name}`}
      data-testid="sprint"
      data-sprint={sprint.name}
      style={{
        overflow: "hidden",
        borderColor: isOver || target ? "var(--mantine-color-indigo-5)" : undefined,
        boxShadow: isOver || target ? "0 0 0 1px var(--mantine-color-indigo-5)" : undefined,
      }}
    >
      <Group px="sm" py={8} gap="sm" wrap="nowrap" align="flex-start" bg="var(--mantine-color-default-hover)">
        <ActionIcon
          variant="subtle"
          color="gray"
          size="sm"
          mt={-1}
          aria-label={folded ? `Show the items of ${sprint.name}` : `Hide the items of ${sprint.name}`}
          aria-expanded={!folded}
          onClick={() => setFolded((v) => !v)}
        >
          {folded ? <IconChevronRight size={14} /> : <IconChevronDown size={14} />}
        </ActionIcon>
        <Stack gap={2} style={{ flex: 1, minWidth: 0 }}>
          <Group gap={8} wrap="nowrap">
            <Text fw={600} size="sm" truncate>
              {sprint.name}
            </Text>
            <Badge size="xs" variant="light" color={badge.color} style={{ textTransform: "none" }}>
              {badge.label}
            </Badge>
            <Group gap={4} wrap="nowrap">
              <IconCalendar size={13} color="var(--mantine-color-dimmed)" />
              <Text size="xs" c="dimmed" className="tabular" style={{ whiteSpace: "nowrap" }}>
                {dateRange(sprint)}
              </Text>
            </Group>
          </Group>
          {sprint.goal && (
            <Group gap={4} wrap="nowrap">
              <IconTarget size={13} color="var(--mantine-color-dimmed)" />
              <Text size="xs" c="dimmed" truncate>
                {sprint.goal}
              </Text>
            </Group>
          )}
        </Stack>
        <Stack gap={4} w={300} style={{ flexShrink: 0 }}>
          <Group gap={6} justify="flex-end" wrap="nowrap">
            <Text size="xs" c="dimmed" className="tabular" data-testid="sprint-totals" style={{ whiteSpace: "nowrap" }}>
              {totals.items} {totals.items === 1 ? "item" : "items"} · {totals.points}
              {capacity ? ` / ${capacity}` : ""} pts
            </Text>
            {over && (
              <Badge size="xs" color="red" variant="light" style={{ textTransform: "none", flexShrink: 0 }} data-testid="over-capacity">
                Over capacity by {totals.points - capacity!}
              </Badge>
            )}
          </Group>
          <Progress.Root size={6}>
            <Progress.Section aria-label={`${totals.donePoints} of ${totals.points} points done`} value={totals.points ? (100 * totals.donePoints) / Math.max(totals.points, capacity ?? 0) : 0} color="teal" />
            <Progress.Section
              aria-label={`${totals.points - totals.donePoints} points open`}
              value={totals.points ? (100 * (totals.points - totals.donePoints)) / Math.max(totals.points, capacity ?? 0) : 0}
              color={over ? "red.4" : "indigo.3"}
            />
          </Progress.Root>
        </Stack>
        {active && editable && (
          <Button size="xs" variant="default" leftSection={<IconCheck size={14} />} onClick={onComplete}>
            Complete
          </Button>
        )}
        {sprint.status === SprintStatus.PLANNED && editable && (
          <Button
            size="xs"
            variant="default"
            leftSection={<IconPlayerPlay size={14} />}
            onClick={() => void attemptShown(() => store.startSprint(sprint.id), `Could not start ${sprint.name}`)}
          >
            Start
          </Button>
        )}
        {editable && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" color="gray" aria-label={`${sprint.name} actions`}>
                <IconDots size={16} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item leftSection={<IconPencil size={14} />} onClick={onEdit}>
                Edit sprint
              </Menu.Item>
              <Menu.Item leftSection={<IconTarget size={14} />} onClick={() => setCapacityOpen(true)}>
                Set capacity
              </Menu.Item>
              {active && (
                <Menu.Item
                  leftSection={<IconX size={14} />}
                  onClick={() =>
                    modals.openConfirmModal({
                      title: `Cancel ${sprint.name}?`,
                      children: <Text size="sm">Its items stay where they are; the sprint is kept as cancelled.</Text>,
                      labels: { confirm: "Cancel sprint", cancel: "Keep it" },
                      confirmProps: { color: "red" },
                      onConfirm: () => void attemptShown(() => store.cancelSprint(sprint.id), `Could not cancel ${sprint.name}`),
                    })
                  }
                >
                  Cancel sprint
                </Menu.Item>
              )}
              <Menu.Item color="red" leftSection={<IconTrash size={14} />} onClick={() => confirmDelete(store, sprint)}>
                Delete sprint
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
      {capacityOpen && (
        <CapacityDialog
          sprint={sprint}
          value={capacity}
          onClose={() => setCapacityOpen(false)}
          onSave={(c) => {
            storeCapacity(sprint.id, c);
            setCapacity(c);
            setCapacityOpen(false);
          }}
        />
      )}
      {active && !folded && (
        <Box px="sm" pt={8} pb={4} style={{ borderTop: "1px solid var(--mantine-color-default-border)" }}>
          <Suspense fallback={<Box h={150} />}>
            <Burndown store={store} sprint={sprint} height={150} />
          </Suspense>
        </Box>
      )}
      <Box style={{ borderTop: "1px solid var(--mantine-color-default-border)", display: folded ? "none" : undefined }}>
        {ids.length === 0 ? (
          <Text size="sm" c="dimmed" px="sm" py="md" ta="center">
            No items in this sprint — drag some from the backlog.
          </Text>
        ) : (
          ids.map((id) => <PlanRow key={id} store={store} id={id} editable={editable} openItem={openItem} />)
        )}
      </Box>
    </Paper>
  );
}

function CapacityDialog({ sprint, value, onClose, onSave }: { sprint: Sprint; value: number | undefined; onClose: () => void; onSave: (c: number | undefined) => void }) {
  const [v, setV] = useState<number | string>(value ?? "");
  return (
    <Modal opened onClose={onClose} title={`Capacity of ${sprint.name}`} size="xs">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const n = Number(v);
          onSave(v !== "" && n > 0 ? Math.round(n) : undefined);
        }}
      >
        <Stack gap="sm">
          <NumberInput
            label="Points the team can take on"
            description="Kept in this browser. Empty for none."
            min={1}
            value={v}
            onChange={setV}
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit">Save</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function confirmDelete(store: ProjectStore, sprint: Sprint) {
  modals.openConfirmModal({
    title: `Delete ${sprint.name}?`,
    children: <Text size="sm">Its items go back to the backlog. This cannot be undone.</Text>,
    labels: { confirm: "Delete sprint", cancel: "Keep it" },
    confirmProps: { color: "red" },
    onConfirm: () => void attemptShown(() => store.deleteSprint(sprint.id), `Could not delete ${sprint.name}`),
  });
}

function FinishedSprint({ store, sprint, editable }: { store: ProjectStore; sprint: Sprint; editable: boolean }) {
  const [open, setOpen] = useState(false);
  const totals = useTotals(store, sprint.id, null);
  const badge = STATUS_BADGE[sprint.status]!;
  return (
    <Paper withBorder radius="md" role="region" aria-label={`Sprint ${sprint.name}`} data-testid="sprint" data-sprint={sprint.name}>
      <Group px="sm" py={6} gap="sm" wrap="nowrap">
        <UnstyledButton onClick={() => setOpen((v) => !v)} aria-expanded={open} aria-label={`${sprint.name} burndown`} style={{ flex: 1, minWidth: 0 }}>
          <Group gap={8} wrap="nowrap">
            {open ? <IconChevronDown size={14} /> : <IconChevronRight size={14} />}
            <Text size="sm" fw={600} truncate>
              {sprint.name}
            </Text>
            <Badge size="xs" variant="light" color={badge.color} style={{ textTransform: "none" }}>
              {badge.label}
            </Badge>
            <Text size="xs" c="dimmed" className="tabular">
              {dateRange(sprint)}
            </Text>
            <Text size="xs" c="dimmed" truncate>
              {sprint.goal}
            </Text>
          </Group>
        </UnstyledButton>
        <Text size="xs" c="dimmed" className="tabular">
          {totals.doneItems} done · {totals.donePoints} pts
        </Text>
        {editable && (
          <ActionIcon variant="subtle" color="gray" aria-label={`Delete ${sprint.name}`} onClick={() => confirmDelete(store, sprint)}>
            <IconTrash size={14} />
          </ActionIcon>
        )}
      </Group>
      {open && (
        <Box px="sm" pb="sm">
          <Suspense fallback={<Box h={200} />}>
            <Burndown store={store} sprint={sprint} height={200} />
          </Suspense>
        </Box>
      )}
    </Paper>
  );
}

function BacklogPane({ store, drag, editable, openItem }: { store: ProjectStore; drag: Drag | null; editable: boolean; openItem: (key: string) => void }) {
  const [q, setQ] = useState("");
  const query = q.trim().toLowerCase();
  const ids = useSelector(
    store,
    (s) =>
      sprintItemIds(s, undefined).filter((id) => {
        if (!query) return true;
        const w = s.item(id)!;
        return w.title.toLowerCase().includes(query) || w.key.toLowerCase().includes(query);
      }),
    shallowArrayEqual,
  );
  const totals = useTotals(store, undefined, drag);
  const { setNodeRef, isOver } = useDroppable({ id: BACKLOG, disabled: !editable });
  return (
    <Stack
      ref={setNodeRef}
      gap={0}
      w={420}
      h="100%"
      role="region"
      aria-label="Backlog items"
      data-testid="plan-backlog"
      style={{
        borderLeft: "1px solid var(--mantine-color-default-border)",
        flexShrink: 0,
        background: isOver ? "var(--mantine-color-indigo-light)" : undefined,
      }}
    >
      <Group px="sm" py={8} justify="space-between" wrap="nowrap" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <Group gap={8}>
          <Text fw={600} size="sm">
            Backlog
          </Text>
          <Text size="xs" c="dimmed" className="tabular">
            {totals.items - totals.doneItems} items · {totals.points - totals.donePoints} pts
          </Text>
        </Group>
        <TextInput size="xs" w={170} placeholder="Filter by key or title" aria-label="Filter backlog" value={q} onChange={(e) => setQ(e.currentTarget.value)} />
      </Group>
      <ScrollArea style={{ flex: 1 }}>
        {ids.length === 0 ? (
          <Text size="sm" c="dimmed" p="md" ta="center">
            {query ? "Nothing matches." : "The backlog is empty — every open item is planned."}
          </Text>
        ) : (
          ids.map((id) => <PlanRow key={id} store={store} id={id} editable={editable} openItem={openItem} compact />)
        )}
      </ScrollArea>
    </Stack>
  );
}

const PlanRow = memo(function PlanRow({
  store,
  id,
  editable,
  openItem,
  compact,
}: {
  store: ProjectStore;
  id: string;
  editable: boolean;
  openItem: (key: string) => void;
  compact?: boolean;
}) {
  const w = useSelector(store, (s) => s.item(id));
  const { setNodeRef, attributes, listeners, isDragging } = useDraggable({ id: `item:${id}`, disabled: !editable });
  if (!w) return null;
  return (
    <Group
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      // A group, not a button: it holds its own controls (the move menu).
      role="group"
      aria-roledescription="draggable item"
      aria-label={`${w.key} ${w.title}`}
      data-testid="plan-row"
      data-key={w.key}
      className="plan-row"
      gap={8}
      px="sm"
      h={34}
      wrap="nowrap"
      style={{ opacity: isDragging ? 0.4 : 1, borderBottom: "1px solid var(--mantine-color-default-border)", cursor: editable ? "grab" : "default" }}
      onKeyDown={(e) => {
        listeners?.onKeyDown?.(e);
        if (e.key === "Enter" && !e.defaultPrevented) openItem(w.key);
      }}
      onDoubleClick={() => openItem(w.key)}
    >
      <TypeIcon type={w.type} size={14} />
      <Text
        size="xs"
        c="dimmed"
        w={68}
        className="tabular"
        style={{ flexShrink: 0, cursor: "pointer", whiteSpace: "nowrap" }}
        onClick={(e) => {
          e.stopPropagation();
          openItem(w.key);
        }}
      >
        {w.key}
      </Text>
      <Text size="sm" truncate style={{ flex: 1, minWidth: 0 }}>
        {w.title}
      </Text>
      {w.blocked && (
        <Badge size="xs" color="red" variant="light" style={{ textTransform: "none", flexShrink: 0 }}>
          Blocked
        </Badge>
      )}
      {!compact && <StatusBadge status={w.status} />}
      <PriorityIcon priority={w.priority} size={14} />
      <Box w={26} style={{ flexShrink: 0 }}>
        <Points points={w.storyPoints} />
      </Box>
      <Box w={20} style={{ flexShrink: 0 }}>
        <UserAvatar user={w.assignee} size={20} />
      </Box>
      {editable && <MoveMenu store={store} item={w} />}
    </Group>
  );
});

function MoveMenu({ store, item }: { store: ProjectStore; item: WorkItem }) {
  const sprints = useSelector(
    store,
    (s) => orderSprints([...s.sprints.values()].filter((x) => x.status === SprintStatus.ACTIVE || x.status === SprintStatus.PLANNED)),
    shallowArrayEqual,
  );
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon
          size="sm"
          variant="subtle"
          color="gray"
          aria-label={`Move ${item.key} to…`}
          onPointerDown={(e) => e.stopPropagation()}
          onKeyDown={(e) => e.stopPropagation()}
        >
          <IconArrowsExchange size={14} />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Move {item.key} to</Menu.Label>
        {sprints.map((s) => (
          <Menu.Item key={s.id} disabled={item.sprintId === s.id} onClick={() => void moveTo(store, item.id, s.id)}>
            {s.name}
          </Menu.Item>
        ))}
        <Menu.Item disabled={!item.sprintId} onClick={() => void moveTo(store, item.id, null)}>
          Backlog
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function DragCard({ store, id }: { store: ProjectStore; id: string }) {
  const w = useSelector(store, (s) => s.item(id));
  if (!w) return null;
  return (
    <Paper shadow="md" withBorder px="sm" h={34} radius="sm" style={{ display: "flex", alignItems: "center", gap: 8, cursor: "grabbing", width: 420 }}>
      <TypeIcon type={w.type} size={14} />
      <Text size="xs" c="dimmed" className="tabular">
        {w.key}
      </Text>
      <Text size="sm" truncate style={{ flex: 1 }}>
        {w.title}
      </Text>
      <Points points={w.storyPoints} />
    </Paper>
  );
}

function SprintDialog({ store, sprint, onClose }: { store: ProjectStore; sprint: Sprint | undefined; onClose: () => void }) {
  const count = useSelector(store, (s) => s.sprints.size);
  const [name, setName] = useState(sprint?.name ?? `Sprint ${count + 1}`);
  const [goal, setGoal] = useState(sprint?.goal ?? "");
  const [start, setStart] = useState(dateInputValue(sprint?.startsAt === undefined ? (sprint ? undefined : Date.now()) : Number(sprint.startsAt)));
  const [end, setEnd] = useState(
    dateInputValue(sprint?.endsAt === undefined ? (sprint ? undefined : Date.now() + 14 * 86_400_000) : Number(sprint.endsAt)),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const save = async () => {
    const startsAt = parseDateInput(start);
    const endsAt = parseDateInput(end);
    if (startsAt !== undefined && endsAt !== undefined && endsAt < startsAt) {
      setErrors({ ends_at: "The end is before the start" });
      return;
    }
    setBusy(true);
    try {
      if (sprint) await store.updateSprint(sprint.id, { name, goal, startsAt: startsAt ?? null, endsAt: endsAt ?? null });
      else await store.createSprint({ name, goal, startsAt, endsAt });
      onClose();
    } catch (e) {
      if (e instanceof RequestError && e.field) setErrors({ [e.field]: e.message });
      else notifyError(e, sprint ? "Could not save the sprint" : "Could not create the sprint");
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={sprint ? `Edit ${sprint.name}` : "New sprint"} size="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Stack gap="sm">
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name} data-autofocus required />
          <Textarea label="Goal" autosize minRows={2} value={goal} onChange={(e) => setGoal(e.currentTarget.value)} error={errors.goal} />
          <Group grow>
            <TextInput type="date" label="Start" value={start} onChange={(e) => setStart(e.currentTarget.value)} error={errors.starts_at} />
            <TextInput type="date" label="End" value={end} onChange={(e) => setEnd(e.currentTarget.value)} error={errors.ends_at} />
          </Group>
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {sprint ? "Save" : "Create sprint"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function CompleteDialog({ store, sprint, onClose }: { store: ProjectStore; sprint: Sprint; onClose: () => void }) {
  const totals = useTotals(store, sprint.id, null);
  const planned = useSelector(
    store,
    (s) => orderSprints([...s.sprints.values()].filter((x) => x.status === SprintStatus.PLANNED)),
    shallowArrayEqual,
  );
  const [dest, setDest] = useState<string>(BACKLOG);
  const [busy, setBusy] = useState(false);
  const open = totals.items - totals.doneItems;
  const options = useMemo(() => [{ value: BACKLOG, label: "The backlog" }, ...planned.map((s) => ({ value: s.id, label: s.name }))], [planned]);
  useEffect(() => {
    if (!options.some((o) => o.value === dest)) setDest(BACKLOG);
  }, [options, dest]);

  const complete = async () => {
    setBusy(true);
    try {
      const moved = await store.completeSprint(sprint.id, dest === BACKLOG ? undefined : dest);
      const where = dest === BACKLOG ? "the backlog" : (options.find((o) => o.value === dest)?.label ?? "the next sprint");
      notifications.show({
        color: "teal",
        title: `${sprint.name} completed`,
        message: `${totals.doneItems} done (${totals.donePoints} pts)` + (moved.length ? `; ${moved.length} unfinished moved to ${where}.` : "."),
      });
      onClose();
    } catch (e) {
      notifyError(e, `Could not complete ${sprint.name}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={`Complete ${sprint.name}`} size="md">
      <Stack gap="sm">
        <Group grow>
          <Summary label="Done" value={`${totals.doneItems} items`} sub={`${totals.donePoints} pts`} color="teal" />
          <Summary label="Unfinished" value={`${open} items`} sub={`${totals.points - totals.donePoints} pts`} color="orange" />
        </Group>
        {open > 0 ? (
          <Radio.Group label="Move the unfinished items to" value={dest} onChange={setDest}>
            <Stack gap={6} mt={6}>
              {options.map((o) => (
                <Radio key={o.value} value={o.value} label={o.label} />
              ))}
            </Stack>
          </Radio.Group>
        ) : (
          <Text size="sm">Everything in this sprint is done.</Text>
        )}
        <Group justify="flex-end" mt="xs">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={() => void complete()} loading={busy}>
            Complete sprint
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function Summary({ label, value, sub, color }: { label: string; value: string; sub: string; color: string }) {
  return (
    <Paper withBorder p="sm" radius="md">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={600} c={`${color}.8`} className="tabular">
        {value}
      </Text>
      <Text size="xs" c="dimmed" className="tabular">
        {sub}
      </Text>
    </Paper>
  );
}

