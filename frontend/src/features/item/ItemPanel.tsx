// The work item in a right-hand panel over the board or backlog (its own URL; Esc closes): every
// field editable, markdown description with preview, children, comments and history.
import {
  ActionIcon,
  Anchor,
  Box,
  Button,
  CopyButton,
  Divider,
  Drawer,
  Group,
  NumberInput,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconCheck, IconLink, IconLock, IconPlus, IconTrash, IconX } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { useSession } from "../../app/session";
import { EntityKind, SprintStatus, WorkItemType, type ActivityEntry, type WorkItem } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ItemEdit, ProjectStore } from "../../store/project";
import { PRIORITIES, PRIORITY_LABEL, STATUSES, STATUS_LABEL, TYPES, TYPE_LABEL, canEdit, isAdmin, options } from "../../ui/labels";
import { StatusBadge, TypeIcon, UserAvatar } from "../../ui/chips";
import { attempt, notifyError } from "../../ui/notify";
import { timeAgo } from "../../ui/time";

export function ItemPanel({
  store,
  itemKey,
  onClose,
  onOpen,
}: {
  store: ProjectStore;
  itemKey: string | undefined;
  onClose: () => void;
  onOpen: (key: string) => void;
}) {
  return (
    <Drawer
      opened={!!itemKey}
      onClose={onClose}
      position="right"
      size={600}
      withOverlay={false}
      lockScroll={false}
      withCloseButton={false}
      padding={0}
      shadow="xl"
      // Below modals (conflict, confirmations), above the board.
      zIndex={150}
      trapFocus={false}
      closeOnClickOutside={false}
      styles={{ content: { borderLeft: "1px solid var(--mantine-color-default-border)" } }}
      aria-label="Work item"
    >
      {itemKey && <ItemDetail store={store} itemKey={itemKey} onClose={onClose} onOpen={onOpen} />}
    </Drawer>
  );
}

function ItemDetail({ store, itemKey, onClose, onOpen }: { store: ProjectStore; itemKey: string; onClose: () => void; onOpen: (key: string) => void }) {
  // By key, or (after a re-key renamed it) by the id this panel showed last.
  const lastId = useRef<string | undefined>(undefined);
  const item = useSelector(store, (s) => s.itemByKey(itemKey) ?? (lastId.current ? s.item(lastId.current) : undefined));
  lastId.current = item?.id;
  useEffect(() => {
    if (item && item.key !== itemKey) onOpen(item.key);
  }, [item, itemKey, onOpen]);
  const loaded = useSelector(store, (s) => s.hasSnapshot);
  const { conn } = useSession();
  const [missing, setMissing] = useState<string | null>(null);
  useEffect(() => {
    setMissing(null);
    if (item || !loaded) return;
    // Not in the project's copy: an item of another project, or a deleted one.
    conn
      .send({ case: "getWorkItem", value: { workItem: itemKey } }, "workItemDetail")
      .then(() => setMissing(`${itemKey} belongs to another project.`))
      .catch((e) => setMissing(e instanceof RequestError ? e.message : String(e)));
  }, [item, loaded, itemKey, conn]);

  if (!item) {
    return (
      <Stack p="lg">
        {missing ? (
          <>
            <Text fw={600}>No item {itemKey.toUpperCase()}</Text>
            <Text c="dimmed" size="sm">
              {missing}
            </Text>
            <Button variant="default" w="fit-content" onClick={onClose}>
              Close
            </Button>
          </>
        ) : (
          <>
            <Skeleton h={20} w={120} />
            <Skeleton h={32} />
            <Skeleton h={120} />
          </>
        )}
      </Stack>
    );
  }
  return <ItemBody store={store} item={item} onClose={onClose} onOpen={onOpen} />;
}

/** Highlights a field briefly when someone else changes it while it is open. */
function useFlash(value: unknown, remote: boolean): string | undefined {
  const first = useRef(true);
  const [on, setOn] = useState(false);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (!remote) return;
    setOn(true);
    const t = setTimeout(() => setOn(false), 1600);
    return () => clearTimeout(t);
  }, [value, remote]);
  return on ? "remote-flash" : undefined;
}

function ItemBody({ store, item, onClose, onOpen }: { store: ProjectStore; item: WorkItem; onClose: () => void; onOpen: (key: string) => void }) {
  const editable = useSelector(store, (s) => canEdit(s.myRole));
  const admin = useSelector(store, (s) => isAdmin(s.myRole));
  const members = useSelector(store, (s) => [...s.members.keys()].sort(), shallowArrayEqual);
  const sprints = useSelector(store, (s) => [...s.sprints.values()], shallowArrayEqual);
  const remote = item.updatedBy !== store.me;
  // A refusal that names a field is shown under that field; anything else is a toast.
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const errorFor = (...fields: string[]) => (fieldError && fields.includes(fieldError.field) ? fieldError.message : undefined);
  const run = async (edit: ItemEdit, base?: WorkItem) => {
    try {
      await store.updateItem(item.id, edit, { base });
      setFieldError(null);
    } catch (e) {
      if (e instanceof RequestError && e.isConflict) return; // the conflict dialog shows it
      if (e instanceof RequestError && e.field) setFieldError({ field: e.field, message: e.message });
      else notifyError(e, "Could not save the change");
    }
  };
  const save = (edit: ItemEdit) => void run(edit);
  // Text is typed over time: check it against the item as it was when typing began.
  const began = useRef<WorkItem | undefined>(undefined);
  const begin = () => {
    began.current = store.confirmedItem(item.id);
  };
  const saveTyped = (edit: ItemEdit) => void run(edit, began.current);

  const parentType = item.type === WorkItemType.TASK ? WorkItemType.STORY : item.type === WorkItemType.STORY ? WorkItemType.EPIC : undefined;
  const parents = useSelector(
    store,
    (s) => (parentType ? s.items().filter((w) => w.type === parentType) : []),
    shallowArrayEqual,
  );
  const parent = useSelector(store, (s) => (item.parentId ? s.item(item.parentId) : undefined));
  const titleFlash = useFlash(item.title, remote);
  const fieldsFlash = useFlash(`${item.status}|${item.priority}|${item.storyPoints}|${item.assignee}|${item.sprintId}|${item.type}`, remote);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, .mantine-Modal-content, .mantine-Popover-dropdown")) return;
      onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <Stack gap={0} h="100vh">
      <Group h={48} px="md" justify="space-between" style={{ borderBottom: "1px solid var(--mantine-color-default-border)", flexShrink: 0 }}>
        <Group gap={8}>
          <TypeIcon type={item.type} />
          {parent && (
            <>
              <Anchor size="xs" c="dimmed" onClick={() => onOpen(parent.key)}>
                {parent.key}
              </Anchor>
              <Text size="xs" c="dimmed">
                /
              </Text>
            </>
          )}
          <Text size="sm" fw={600} className="tabular">
            {item.key}
          </Text>
          {item.blocked && (
            <Tooltip label="Blocked by an unfinished item">
              <IconLock size={14} color="var(--mantine-color-red-6)" aria-label="Blocked" />
            </Tooltip>
          )}
        </Group>
        <Group gap={4}>
          <CopyButton value={`${location.origin}/p/${item.key.split("-")[0]}/${item.key}`}>
            {({ copied, copy }) => (
              <Tooltip label={copied ? "Copied" : "Copy link"}>
                <ActionIcon variant="subtle" color="gray" onClick={copy} aria-label="Copy link">
                  {copied ? <IconCheck size={16} /> : <IconLink size={16} />}
                </ActionIcon>
              </Tooltip>
            )}
          </CopyButton>
          {editable && (
            <Tooltip label={admin ? "Delete item" : "Only project admins can delete items"}>
              <ActionIcon
                variant="subtle"
                color="gray"
                disabled={!admin}
                aria-label="Delete item"
                onClick={() =>
                  modals.openConfirmModal({
                    title: `Delete ${item.key}?`,
                    children: <Text size="sm">Items with children cannot be deleted; its links are removed.</Text>,
                    labels: { confirm: "Delete", cancel: "Cancel" },
                    confirmProps: { color: "red" },
                    onConfirm: () =>
                      void attempt(async () => {
                        await store.deleteItem(item.id);
                        onClose();
                      }, "Could not delete the item"),
                  })
                }
              >
                <IconTrash size={16} />
              </ActionIcon>
            </Tooltip>
          )}
          <Tooltip label="Close (Esc)">
            <ActionIcon variant="subtle" color="gray" onClick={onClose} aria-label="Close panel">
              <IconX size={16} />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      <ScrollArea style={{ flex: 1 }}>
        <Stack p="md" gap="md">
          <TitleField value={item.title} editable={editable} className={titleFlash} onBegin={begin} onSave={(title) => saveTyped({ title })} />
          {errorFor("title") && (
            <Text size="xs" c="red" mt={-12} role="alert">
              {errorFor("title")}
            </Text>
          )}
          <SimpleGrid cols={2} spacing="xs" verticalSpacing={6} className={fieldsFlash} style={{ borderRadius: 8 }}>
            <Select
              label="Status"
              error={errorFor("status")}
              data={options(STATUS_LABEL, STATUSES)}
              value={String(item.status)}
              readOnly={!editable}
              allowDeselect={false}
              onChange={(v) => v && save({ status: Number(v) })}
            />
            <Select
              label="Priority"
              error={errorFor("priority")}
              data={options(PRIORITY_LABEL, PRIORITIES)}
              value={String(item.priority)}
              readOnly={!editable}
              allowDeselect={false}
              onChange={(v) => v && save({ priority: Number(v) })}
            />
            <Select
              label="Type"
              error={errorFor("type")}
              data={options(TYPE_LABEL, TYPES)}
              value={String(item.type)}
              readOnly={!editable}
              allowDeselect={false}
              onChange={(v) => v && save({ type: Number(v) })}
            />
            <PointsField value={item.storyPoints} editable={editable} error={errorFor("story_points")} onSave={(storyPoints) => save({ storyPoints })} />
            <Select
              label="Assignee"
              error={errorFor("assignee")}
              placeholder="Unassigned"
              data={members}
              value={item.assignee ?? null}
              readOnly={!editable}
              clearable
              searchable
              onChange={(v) => save({ assignee: v ?? null })}
            />
            <Select
              label="Sprint"
              error={errorFor("sprint_id")}
              placeholder="No sprint"
              data={sprints
                .filter((s) => s.status === SprintStatus.ACTIVE || s.status === SprintStatus.PLANNED || s.id === item.sprintId)
                .map((s) => ({ value: s.id, label: s.name }))}
              value={item.sprintId ?? null}
              readOnly={!editable}
              clearable
              onChange={(v) => save({ sprintId: v ?? null })}
            />
            {parentType !== undefined && (
              <Select
                label="Parent"
                error={errorFor("parent_id")}
                placeholder={`No ${TYPE_LABEL[parentType]?.toLowerCase()}`}
                data={parents.map((p) => ({ value: p.id, label: `${p.key} ${p.title}` }))}
                value={item.parentId ?? null}
                readOnly={!editable}
                clearable
                searchable
                onChange={(v) => save({ parentId: v ?? null })}
              />
            )}
          </SimpleGrid>
          <DescriptionField value={item.description} editable={editable} onBegin={begin} onSave={(description) => saveTyped({ description })} />
          {errorFor("description") && (
            <Text size="xs" c="red" mt={-12} role="alert">
              {errorFor("description")}
            </Text>
          )}
          <Children store={store} item={item} editable={editable} onOpen={onOpen} />
          <Divider />
          <Tabs defaultValue="comments" variant="pills" radius="md">
            <Tabs.List>
              <Tabs.Tab value="comments" size="xs">
                Comments
              </Tabs.Tab>
              <Tabs.Tab value="history" size="xs">
                History
              </Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="comments" pt="sm">
              <Comments store={store} item={item} editable={editable} />
            </Tabs.Panel>
            <Tabs.Panel value="history" pt="sm">
              <History store={store} item={item} />
            </Tabs.Panel>
          </Tabs>
          <Text size="xs" c="dimmed">
            Created by {item.createdBy} {timeAgo(Number(item.createdAt))} · updated by {item.updatedBy} {timeAgo(Number(item.updatedAt))}
          </Text>
        </Stack>
      </ScrollArea>
    </Stack>
  );
}

function TitleField({
  value,
  editable,
  className,
  onBegin,
  onSave,
}: {
  value: string;
  editable: boolean;
  className?: string;
  onBegin: () => void;
  onSave: (v: string) => void;
}) {
  const [draft, setDraft] = useState(value);
  const [focused, setFocused] = useState(false);
  useEffect(() => {
    if (!focused) setDraft(value);
  }, [value, focused]);
  const commit = () => {
    const t = draft.trim();
    if (t && t !== value) onSave(t);
    else setDraft(value);
  };
  return (
    <Textarea
      aria-label="Title"
      className={className}
      value={draft}
      readOnly={!editable}
      autosize
      minRows={1}
      variant="unstyled"
      styles={{ input: { fontSize: 20, fontWeight: 600, lineHeight: 1.3, padding: "2px 4px" } }}
      onFocus={() => {
        setFocused(true);
        onBegin();
      }}
      onBlur={() => {
        setFocused(false);
        commit();
      }}
      onChange={(e) => setDraft(e.currentTarget.value.replace(/\n/g, " "))}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          (e.target as HTMLTextAreaElement).blur();
        }
        if (e.key === "Escape") {
          setDraft(value);
          (e.target as HTMLTextAreaElement).blur();
        }
      }}
    />
  );
}

function PointsField({
  value,
  editable,
  error,
  onSave,
}: {
  value: number | undefined;
  editable: boolean;
  error?: string;
  onSave: (v: number | null) => void;
}) {
  const [draft, setDraft] = useState<string | number>(value ?? "");
  useEffect(() => setDraft(value ?? ""), [value]);
  return (
    <NumberInput
      label="Points"
      error={error}
      placeholder="—"
      min={0}
      max={100}
      value={draft}
      readOnly={!editable}
      onChange={setDraft}
      onBlur={() => {
        const v = draft === "" ? null : Number(draft);
        if ((v ?? undefined) !== value) onSave(v);
      }}
    />
  );
}

function DescriptionField({ value, editable, onBegin, onSave }: { value: string; editable: boolean; onBegin: () => void; onSave: (v: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value);
  const [tab, setTab] = useState<string | null>("write");
  useEffect(() => {
    if (!editing) setDraft(value);
  }, [value, editing]);
  if (!editing) {
    return (
      <Box>
        <Text size="xs" fw={500} c="dimmed" mb={4}>
          Description
        </Text>
        <Paper
          p="xs"
          radius="md"
          withBorder={!value}
          style={{ cursor: editable ? "text" : undefined, borderStyle: value ? undefined : "dashed" }}
          onClick={() => {
            if (!editable) return;
            onBegin();
            setEditing(true);
          }}
        >
          {value ? (
            <Box className="md-body" fz="sm">
              <Markdown remarkPlugins={[remarkGfm]}>{value}</Markdown>
            </Box>
          ) : (
            <Text size="sm" c="dimmed">
              {editable ? "Add a description (Markdown)…" : "No description."}
            </Text>
          )}
        </Paper>
      </Box>
    );
  }
  return (
    <Box>
      <Tabs value={tab} onChange={setTab} variant="outline" radius="md">
        <Tabs.List>
          <Tabs.Tab value="write" size="xs">
            Write
          </Tabs.Tab>
          <Tabs.Tab value="preview" size="xs">
            Preview
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="write" pt={6}>
          <Textarea aria-label="Description" autosize minRows={5} maxRows={20} value={draft} autoFocus onChange={(e) => setDraft(e.currentTarget.value)} />
        </Tabs.Panel>
        <Tabs.Panel value="preview" pt={6}>
          <Paper withBorder p="xs" radius="md" mih={100} className="md-body" fz="sm">
            <Markdown remarkPlugins={[remarkGfm]}>{draft || "*Nothing to preview*"}</Markdown>
          </Paper>
        </Tabs.Panel>
      </Tabs>
      <Group justify="flex-end" mt={6} gap={6}>
        <Button variant="default" onClick={() => setEditing(false)}>
          Cancel
        </Button>
        <Button
          onClick={() => {
            if (draft !== value) onSave(draft);
            setEditing(false);
          }}
        >
          Save description
        </Button>
      </Group>
    </Box>
  );
}

function Children({ store, item, editable, onOpen }: { store: ProjectStore; item: WorkItem; editable: boolean; onOpen: (key: string) => void }) {
  const children = useSelector(store, (s) => s.children(item.id), shallowArrayEqual);
  const [adding, setAdding] = useState(false);
  const [title, setTitle] = useState("");
  const childType = item.type === WorkItemType.EPIC ? WorkItemType.STORY : item.type === WorkItemType.STORY ? WorkItemType.TASK : undefined;
  if (childType === undefined) return null;
  const label = childType === WorkItemType.STORY ? "stories" : "tasks";
  return (
    <Box>
      <Group justify="space-between" mb={4}>
        <Text size="xs" fw={500} c="dimmed">
          {childType === WorkItemType.STORY ? "Stories" : "Tasks"} ({children.length})
        </Text>
        {editable && (
          <Button size="compact-xs" variant="subtle" leftSection={<IconPlus size={12} />} onClick={() => setAdding(true)}>
            Add {childType === WorkItemType.STORY ? "story" : "task"}
          </Button>
        )}
      </Group>
      <Stack gap={2}>
        {children.map((c) => (
          <Group
            key={c.id}
            gap={8}
            h={32}
            px={6}
            wrap="nowrap"
            style={{ borderRadius: 6, cursor: "pointer" }}
            className="child-row"
            onClick={() => onOpen(c.key)}
          >
            <TypeIcon type={c.type} size={14} />
            <Text size="xs" c="dimmed" w={64} className="tabular">
              {c.key}
            </Text>
            <Text size="sm" truncate style={{ flex: 1 }}>
              {c.title}
            </Text>
            <StatusBadge status={c.status} />
            <UserAvatar user={c.assignee} size={18} />
          </Group>
        ))}
        {children.length === 0 && !adding && (
          <Text size="xs" c="dimmed">
            No {label} yet.
          </Text>
        )}
        {adding && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (!title.trim()) return setAdding(false);
              void attempt(async () => {
                await store.createItem({ type: childType, title: title.trim(), parentId: item.id, sprintId: item.sprintId });
                setTitle("");
              }, "Could not create the item");
            }}
          >
            <TextInput
              autoFocus
              aria-label={`New ${childType === WorkItemType.STORY ? "story" : "task"} title`}
              placeholder="Title, Enter to add, Esc to stop"
              value={title}
              onChange={(e) => setTitle(e.currentTarget.value)}
              onKeyDown={(e) => e.key === "Escape" && setAdding(false)}
            />
          </form>
        )}
      </Stack>
    </Box>
  );
}

function Comments({ store, item, editable }: { store: ProjectStore; item: WorkItem; editable: boolean }) {
  const comments = useSelector(store, (s) => s.commentsOf(item.id), shallowArrayEqual);
  const [loading, setLoading] = useState(true);
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setLoading(true);
    store
      .loadComments(item.id)
      .catch((e) => notifyError(e, "Could not load comments"))
      .finally(() => setLoading(false));
  }, [store, item.id]);
  return (
    <Stack gap="sm">
      {loading && comments.length === 0 && <Skeleton h={48} />}
      {!loading && comments.length === 0 && (
        <Text size="xs" c="dimmed">
          No comments yet.
        </Text>
      )}
      {comments.map((c) => (
        <CommentView key={c.id} store={store} id={c.id} />
      ))}
      {editable && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!body.trim()) return;
            setBusy(true);
            try {
              await store.addComment(item.id, body.trim());
              setBody("");
            } catch (err) {
              notifyError(err, "Could not add the comment");
            } finally {
              setBusy(false);
            }
          }}
        >
          <Textarea
            aria-label="New comment"
            placeholder="Write a comment (Markdown). Ctrl+Enter to send"
            autosize
            minRows={2}
            value={body}
            onChange={(e) => setBody(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) (e.currentTarget.form as HTMLFormElement).requestSubmit();
            }}
          />
          <Group justify="flex-end" mt={6}>
            <Button type="submit" loading={busy} disabled={!body.trim()}>
              Comment
            </Button>
          </Group>
        </form>
      )}
    </Stack>
  );
}

function CommentView({ store, id }: { store: ProjectStore; id: string }) {
  const c = useSelector(store, (s) => s.comments.get(id));
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState("");
  if (!c) return null;
  const mine = c.author === store.me;
  const canDelete = mine || isAdmin(store.myRole);
  return (
    <Group align="flex-start" gap={8} wrap="nowrap" aria-label={`Comment by ${c.author}`} role="article">
      <UserAvatar user={c.author} size={24} />
      <Box style={{ flex: 1, minWidth: 0 }}>
        <Group gap={6} justify="space-between">
          <Group gap={6}>
            <Text size="sm" fw={600}>
              {c.author}
            </Text>
            <Text size="xs" c="dimmed">
              {timeAgo(Number(c.createdAt))}
              {c.version > 1n ? " · edited" : ""}
            </Text>
          </Group>
          {!editing && (
            <Group gap={2}>
              {mine && (
                <Button
                  size="compact-xs"
                  variant="subtle"
                  color="gray"
                  onClick={() => {
                    setDraft(c.body);
                    setEditing(true);
                  }}
                >
                  Edit
                </Button>
              )}
              {canDelete && (
                <Button size="compact-xs" variant="subtle" color="gray" onClick={() => void attempt(() => store.deleteComment(c.id), "Could not delete the comment")}>
                  Delete
                </Button>
              )}
            </Group>
          )}
        </Group>
        {editing ? (
          <Stack gap={4} mt={4}>
            <Textarea aria-label="Edit comment" autosize minRows={2} value={draft} onChange={(e) => setDraft(e.currentTarget.value)} />
            <Group justify="flex-end" gap={4}>
              <Button size="compact-xs" variant="default" onClick={() => setEditing(false)}>
                Cancel
              </Button>
              <Button
                size="compact-xs"
                onClick={() => {
                  setEditing(false);
                  void attempt(() => store.editComment(c.id, draft), "Could not edit the comment");
                }}
              >
                Save
              </Button>
            </Group>
          </Stack>
        ) : (
          <Box className="md-body" fz="sm" mt={2}>
            <Markdown remarkPlugins={[remarkGfm]}>{c.body}</Markdown>
          </Box>
        )}
      </Box>
    </Group>
  );
}

function History({ store, item }: { store: ProjectStore; item: WorkItem }) {
  const { conn } = useSession();
  const [entries, setEntries] = useState<ActivityEntry[] | null>(null);
  const [cursor, setCursor] = useState("");
  const [error, setError] = useState<string | null>(null);
  const load = (after: string) =>
    conn
      .send(
        { case: "listActivity", value: { projectId: store.projectId, entity: EntityKind.WORK_ITEM, entityId: item.id, limit: 50, cursor: after } },
        "activityList",
      )
      .then((res) => {
        setEntries((prev) => [...(after ? (prev ?? []) : []), ...res.entries]);
        setCursor(res.nextCursor);
      })
      .catch((e) => setError(e instanceof RequestError ? e.message : String(e)));
  useEffect(() => {
    setEntries(null);
    setError(null);
    void load("");
    // Reload when the item changes, so the history stays current.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [item.id, item.version]);
  if (error) {
    return (
      <Text size="xs" c="dimmed">
        The history is not available from this server: {error}
      </Text>
    );
  }
  if (!entries) return <Skeleton h={60} />;
  if (entries.length === 0) {
    return (
      <Text size="xs" c="dimmed">
        No history yet.
      </Text>
    );
  }
  return (
    <Stack gap={4}>
      {entries.map((e) => (
        <Group key={String(e.id)} gap={6} wrap="nowrap" align="flex-start">
          <Text size="xs" fw={600} style={{ whiteSpace: "nowrap" }}>
            {e.actor}
          </Text>
          <Text size="xs" style={{ flex: 1 }}>
            {describeActivity(store, e)}
          </Text>
          <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
            {timeAgo(Number(e.at))}
          </Text>
        </Group>
      ))}
      {cursor && (
        <Button size="compact-xs" variant="subtle" w="fit-content" onClick={() => void load(cursor)}>
          Older
        </Button>
      )}
    </Stack>
  );
}

function describeActivity(store: ProjectStore, e: ActivityEntry): string {
  if (e.action === "created") return "created the item";
  if (e.action === "deleted") return "deleted the item";
  const field = e.field ?? "a field";
  const val = (v: string | undefined) => {
    if (v === undefined || v === "") return field === "assignee" ? "nobody" : "none";
    if (field === "sprint_id") return store.sprints.get(v)?.name ?? v;
    if (field === "parent_id") return store.item(v)?.key ?? v;
    if (field === "status" || field === "priority" || field === "type") {
      const words = v.toLowerCase().replace(/_/g, " ");
      return words.charAt(0).toUpperCase() + words.slice(1);
    }
    return v.length > 60 ? `${v.slice(0, 60)}…` : v;
  };
  if (field === "blocked") return e.newValue === "true" ? "blocked it (a blocker is open)" : "unblocked it";
  if (field === "description") return "changed the description";
  if (field === "position") return "reordered the item";
  return `changed ${field.replace(/_id$/, "").replace(/_/g, " ")} from ${val(e.oldValue)} to ${val(e.newValue)}`;
}
