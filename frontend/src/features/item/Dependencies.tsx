// An item's links in its panel: what blocks it, what it blocks, and related items; add one by
// searching key or title, remove one. A link that would close a cycle is refused by the server,
// and the refusal shows the cycle's path (WEB-3 → WEB-7 → WEB-3). Live through the project's events.
import { ActionIcon, Alert, Anchor, Button, Group, Select, Stack, Text, Tooltip } from "@mantine/core";
import { IconLock, IconPlus, IconX } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import { DependencyType, WorkItemStatus, type Dependency, type WorkItem } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { StatusBadge } from "../../ui/chips";
import { notifyError } from "../../ui/notify";

type Kind = "blockedBy" | "blocking" | "related";
const KIND_LABEL: Record<Kind, string> = { blockedBy: "Blocked by", blocking: "Blocking", related: "Related" };

export function linksOf(deps: Iterable<Dependency>, itemId: string): Record<Kind, { dep: Dependency; otherId: string; otherKey: string }[]> {
  const out: Record<Kind, { dep: Dependency; otherId: string; otherKey: string }[]> = { blockedBy: [], blocking: [], related: [] };
  for (const d of deps) {
    if (d.type === DependencyType.RELATES_TO) {
      if (d.blockedId === itemId) out.related.push({ dep: d, otherId: d.blockingId, otherKey: d.blockingKey });
      else if (d.blockingId === itemId) out.related.push({ dep: d, otherId: d.blockedId, otherKey: d.blockedKey });
    } else if (d.blockedId === itemId) out.blockedBy.push({ dep: d, otherId: d.blockingId, otherKey: d.blockingKey });
    else if (d.blockingId === itemId) out.blocking.push({ dep: d, otherId: d.blockedId, otherKey: d.blockedKey });
  }
  for (const k of Object.keys(out) as Kind[]) out[k].sort((a, b) => a.otherKey.localeCompare(b.otherKey, undefined, { numeric: true }));
  return out;
}

export function Dependencies({ store, item, editable, onOpen }: { store: ProjectStore; item: WorkItem; editable: boolean; onOpen: (key: string) => void }) {
  const deps = useSelector(store, (s) => [...s.dependencies.values()].filter((d) => d.blockedId === item.id || d.blockingId === item.id), shallowArrayEqual);
  const links = useMemo(() => linksOf(deps, item.id), [deps, item.id]);
  const [adding, setAdding] = useState(false);
  const [kind, setKind] = useState<Kind>("blockedBy");
  const [other, setOther] = useState<string | null>(null);
  const [cycle, setCycle] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const candidates = useSelector(
    store,
    (s) => (adding ? s.items().filter((w) => w.id !== item.id).sort((a, b) => (a.number < b.number ? -1 : 1)) : []),
    shallowArrayEqual,
  );
  const data = useMemo(() => candidates.map((w) => ({ value: w.id, label: `${w.key} ${w.title}` })), [candidates]);
  const empty = deps.length === 0;

  const add = async () => {
    if (!other) return;
    setBusy(true);
    setCycle(null);
    try {
      const [blockingId, blockedId] = kind === "blockedBy" ? [other, item.id] : [item.id, other];
      await store.addDependency(blockingId, blockedId, kind === "related" ? DependencyType.RELATES_TO : DependencyType.BLOCKS);
      setOther(null);
      setAdding(false);
    } catch (e) {
      if (e instanceof RequestError && e.server && e.server.cycle.length > 0) setCycle(e.server.cycle);
      else notifyError(e, "Could not add the link");
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap={6} data-testid="dependencies">
      <Group justify="space-between">
        <Text size="xs" fw={600} c="dimmed" tt="uppercase" style={{ letterSpacing: 0.4 }}>
          Links
        </Text>
        {editable && !adding && (
          <Button size="compact-xs" variant="subtle" leftSection={<IconPlus size={12} />} onClick={() => setAdding(true)}>
            Add link
          </Button>
        )}
      </Group>
      {empty && !adding && (
        <Text size="xs" c="dimmed">
          No links. Add what blocks this item, what it blocks, or related items.
        </Text>
      )}
      {(Object.keys(KIND_LABEL) as Kind[]).map((k) =>
        links[k].length === 0 ? null : (
          <Stack key={k} gap={2} role="list" aria-label={KIND_LABEL[k]}>
            <Text size="xs" c="dimmed">
              {KIND_LABEL[k]}
            </Text>
            {links[k].map((l) => (
              <LinkRow key={l.dep.id} store={store} link={l} editable={editable} onOpen={onOpen} kind={k} />
            ))}
          </Stack>
        ),
      )}
      {adding && (
        <Stack gap={6}>
          <Group gap={6} wrap="nowrap" align="flex-start">
            <Select
              w={130}
              aria-label="Link type"
              data={[
                { value: "blockedBy", label: "Blocked by" },
                { value: "blocking", label: "Blocking" },
                { value: "related", label: "Related to" },
              ]}
              value={kind}
              allowDeselect={false}
              onChange={(v) => setKind((v as Kind) ?? "blockedBy")}
            />
            <Select
              style={{ flex: 1 }}
              aria-label="Item to link"
              placeholder="Search by key or title"
              searchable
              data={data}
              value={other}
              onChange={(v) => {
                setOther(v);
                setCycle(null);
              }}
              limit={50}
              nothingFoundMessage="No such item"
              data-autofocus
            />
            <Button onClick={() => void add()} loading={busy} disabled={!other}>
              Add
            </Button>
            <ActionIcon variant="subtle" color="gray" aria-label="Cancel adding a link" onClick={() => (setAdding(false), setCycle(null))} mt={2}>
              <IconX size={14} />
            </ActionIcon>
          </Group>
          {cycle && (
            <Alert color="red" variant="light" p="xs" role="alert" title="That would make a cycle">
              <Text size="xs" className="tabular" data-testid="cycle">
                {cycle.join(" → ")}
              </Text>
            </Alert>
          )}
        </Stack>
      )}
    </Stack>
  );
}

function LinkRow({
  store,
  link,
  editable,
  onOpen,
  kind,
}: {
  store: ProjectStore;
  link: { dep: Dependency; otherId: string; otherKey: string };
  editable: boolean;
  onOpen: (key: string) => void;
  kind: Kind;
}) {
  const w = useSelector(store, (s) => s.item(link.otherId));
  const open = kind === "blockedBy" && w && w.status !== WorkItemStatus.DONE;
  return (
    <Group gap={8} wrap="nowrap" h={28} px={6} role="listitem" className="child-row" style={{ borderRadius: 6 }}>
      {open ? (
        <Tooltip label="Still open: this blocks the item">
          <IconLock size={13} color="var(--mantine-color-red-6)" aria-label="Open blocker" />
        </Tooltip>
      ) : (
        <span style={{ width: 13 }} />
      )}
      <Anchor size="xs" className="tabular" onClick={() => onOpen(link.otherKey)} w={64} style={{ flexShrink: 0 }}>
        {link.otherKey}
      </Anchor>
      <Text size="sm" truncate style={{ flex: 1 }}>
        {w?.title ?? ""}
      </Text>
      {w && <StatusBadge status={w.status} />}
      {editable && (
        <ActionIcon
          size="sm"
          variant="subtle"
          color="gray"
          aria-label={`Remove link to ${link.otherKey}`}
          onClick={() => void store.removeDependency(link.dep.id).catch((e) => notifyError(e, "Could not remove the link"))}
        >
          <IconX size={12} />
        </ActionIcon>
      )}
    </Group>
  );
}
