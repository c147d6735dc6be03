// One project: its top bar (name, views, filters in the URL, presence, connection), the board or
// the backlog, and the work-item panel over them (its own URL: /p/WEB/board/WEB-42).
import { Avatar, Box, Center, Group, Select, SegmentedControl, Skeleton, Stack, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useProjects, useSession } from "../../app/session";
import { ProjectStatus, SprintStatus } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { useSelector, shallowArrayEqual } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { ConnectionIndicator } from "../../ui/ConnectionIndicator";
import { ErrorBoundary } from "../../ui/ErrorBoundary";
import { initials } from "../../ui/chips";
import { rememberProject } from "../../app/recent";
import { Backlog } from "../backlog/Backlog";
import { ConflictDialog } from "../item/ConflictDialog";
import { ItemPanel } from "../item/ItemPanel";
import { Board } from "./Board";

export const ITEM_KEY = /^[A-Za-z][A-Za-z0-9]*-\d+$/;

export function ProjectView() {
  const { projectKey = "", "*": rest = "" } = useParams();
  const list = useProjects();
  const session = useSession();
  const navigate = useNavigate();
  const [missing, setMissing] = useState<string | null>(null);
  const [parts0, parts1] = rest.split("/");
  // /p/WEB/WEB-42 (a pasted item link) shows the board with the item open.
  const view = parts0 && ITEM_KEY.test(parts0) ? "board" : parts0 === "backlog" ? "backlog" : "board";
  const itemKey = parts0 && ITEM_KEY.test(parts0) ? parts0 : parts1 && ITEM_KEY.test(parts1) ? parts1 : undefined;

  // By key, or (after a re-key) by the id this view showed last.
  const lastId = useRef<string | undefined>(undefined);
  const entry =
    list.projects.find((r) => r.project?.key.toUpperCase() === projectKey.toUpperCase()) ??
    list.projects.find((r) => r.project?.id === lastId.current);
  lastId.current = entry?.project?.id;
  useEffect(() => {
    if (!list.loaded || entry) return;
    // Not in the list (just created elsewhere, or a key in another case): ask the server.
    session.conn
      .send({ case: "getProject", value: { project: projectKey } }, "project")
      .then((r) => list.put(r))
      .catch((e) => setMissing(e instanceof RequestError ? e.message : String(e)));
  }, [list.loaded, entry, projectKey, session.conn, list]);

  // Subscribed while shown; a project opened again resumes from where its store left off.
  const projectId = entry?.project?.id;
  useEffect(() => (projectId ? session.watch(projectId) : undefined), [projectId, session]);

  // A re-keyed project (or a key typed in another case): follow it to its current key.
  useEffect(() => {
    if (entry?.project && entry.project.key !== projectKey) {
      navigate(`/p/${entry.project.key}/${rest}${location.search}`, { replace: true });
    }
  }, [entry, projectKey, rest, navigate]);

  if (!entry?.project) {
    if (missing) {
      return (
        <Center h="100%">
          <Stack align="center" gap={4}>
            <Text fw={600}>No project {projectKey.toUpperCase()}</Text>
            <Text c="dimmed" size="sm">
              It does not exist or you are not a member. {missing}
            </Text>
          </Stack>
        </Center>
      );
    }
    return <LoadingView />;
  }
  rememberProject(entry.project.key);
  const store = session.store(entry.project.id);
  store.myRole = entry.myRole;
  const base = `/p/${entry.project.key}/${view}`;

  return (
    <Stack gap={0} h="100%" style={{ overflow: "hidden" }}>
      <TopBar store={store} view={view} base={base} archived={entry.project.status === ProjectStatus.ARCHIVED} />
      <Box style={{ flex: 1, minHeight: 0, position: "relative" }}>
        <SnapshotGate store={store}>
          <ErrorBoundary name={view}>
            {view === "board" ? (
              <Board store={store} openItem={(key) => navigate(`${base}/${key}${location.search}`)} />
            ) : (
              <Backlog store={store} openItem={(key) => navigate(`${base}/${key}${location.search}`)} />
            )}
          </ErrorBoundary>
        </SnapshotGate>
      </Box>
      <ItemPanel store={store} itemKey={itemKey} onClose={() => navigate(`${base}${location.search}`)} onOpen={(key) => navigate(`${base}/${key}${location.search}`)} />
      <ConflictDialog store={store} />
    </Stack>
  );
}

function LoadingView() {
  return (
    <Stack p="lg" gap="sm">
      <Skeleton h={24} w={240} />
      <Group align="flex-start" gap="md">
        {[0, 1, 2, 3, 4].map((i) => (
          <Stack key={i} w={260} gap={8}>
            <Skeleton h={16} w={100} />
            <Skeleton h={64} />
            <Skeleton h={64} />
          </Stack>
        ))}
      </Group>
    </Stack>
  );
}

function SnapshotGate({ store, children }: { store: ProjectStore; children: React.ReactNode }) {
  // Once a snapshot arrived the view stays up through reconnects (it shows what it holds).
  const ready = useSelector(store, (s) => s.hasSnapshot || s.items().length > 0 || s.lanes.size > 0);
  return ready ? <>{children}</> : <LoadingView />;
}

function TopBar({ store, view, base, archived }: { store: ProjectStore; view: string; base: string; archived: boolean }) {
  const navigate = useNavigate();
  const project = useSelector(store, (s) => s.project);
  const [params, setParams] = useSearchParams();
  const sprints = useSelector(store, (s) => [...s.sprints.values()], shallowArrayEqual);
  const members = useSelector(store, (s) => [...s.members.keys()].sort(), shallowArrayEqual);
  const viewers = useSelector(store, (s) => s.viewers);
  const searchRef = useRef<HTMLInputElement>(null);
  const [q, setQ] = useState(params.get("q") ?? "");
  useEffect(() => setQ(params.get("q") ?? ""), [params]);

  const setParam = (k: string, v: string | null) => {
    const next = new URLSearchParams(params);
    if (v === null || v === "") next.delete(k);
    else next.set(k, v);
    setParams(next, { replace: true });
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, [contenteditable=true], .mantine-Drawer-content, .mantine-Modal-content")) return;
      if (e.key === "/") {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const sprintOptions = useMemo(() => {
    const open = sprints.filter((s) => s.status === SprintStatus.ACTIVE || s.status === SprintStatus.PLANNED);
    return [
      ...(view === "board" ? [{ value: "all", label: "All items" }] : [{ value: "all", label: "Any sprint" }]),
      { value: "none", label: "No sprint" },
      ...open.map((s) => ({ value: s.id, label: s.status === SprintStatus.ACTIVE ? `${s.name} (active)` : s.name })),
    ];
  }, [sprints, view]);
  const active = sprints.find((s) => s.status === SprintStatus.ACTIVE);
  const sprintValue = params.get("sprint") ?? (view === "board" && active ? active.id : "all");

  return (
    <Group
      h={48}
      px="md"
      gap="sm"
      wrap="nowrap"
      justify="space-between"
      style={{ borderBottom: "1px solid var(--mantine-color-default-border)", flexShrink: 0 }}
    >
      <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
        <Title order={1} fz={15} fw={600} style={{ whiteSpace: "nowrap" }}>
          {project?.title ?? ""}
        </Title>
        <Text size="xs" c="dimmed" fw={600}>
          {project?.key}
        </Text>
        {archived && (
          <Text size="xs" c="orange">
            Archived (read-only)
          </Text>
        )}
        <SegmentedControl
          size="xs"
          value={view}
          onChange={(v) => navigate(base.replace(/\/(board|backlog)$/, `/${v}`) + location.search.replace(/([?&])sprint=[^&]*&?/, "$1"))}
          data={[
            { value: "board", label: "Board" },
            { value: "backlog", label: "Backlog" },
          ]}
          aria-label="View"
        />
      </Group>
      <Group gap="xs" wrap="nowrap">
        <TextInput
          ref={searchRef}
          size="xs"
          w={180}
          placeholder="Search  /"
          aria-label="Search items"
          leftSection={<IconSearch size={13} />}
          value={q}
          onChange={(e) => {
            setQ(e.currentTarget.value);
            setParam("q", e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape") (e.target as HTMLInputElement).blur();
          }}
        />
        <Select
          size="xs"
          w={150}
          aria-label="Sprint filter"
          data={sprintOptions}
          value={sprintValue}
          allowDeselect={false}
          onChange={(v) => setParam("sprint", v)}
        />
        <Select
          size="xs"
          w={140}
          aria-label="Assignee filter"
          placeholder="Anyone"
          clearable
          data={[{ value: "none", label: "Unassigned" }, ...members.map((m) => ({ value: m, label: m }))]}
          value={params.get("assignee")}
          onChange={(v) => setParam("assignee", v)}
        />
        <Avatar.Group spacing={6} ml="xs">
          {viewers.slice(0, 4).map((v) => (
            <Tooltip key={v} label={`${v} is viewing`}>
              <Avatar size={24} radius="xl" name={v} color="initials" aria-label={`${v} is viewing`}>
                {initials(v)}
              </Avatar>
            </Tooltip>
          ))}
        </Avatar.Group>
        <ConnectionIndicator />
      </Group>
    </Group>
  );
}

/** The filters in the URL, as one predicate over items. */
export function useItemFilter(store: ProjectStore, view: "board" | "backlog") {
  const [params] = useSearchParams();
  const active = useSelector(store, (s) => s.activeSprint()?.id);
  const sprint = params.get("sprint") ?? (view === "board" && active ? active : "all");
  const assignee = params.get("assignee");
  const type = params.get("type");
  const status = params.get("status");
  const q = (params.get("q") ?? "").trim().toLowerCase();
  return useMemo(
    () => ({
      key: [sprint, assignee, type, status, q].join("|"),
      sprintFiltered: sprint !== "all" && sprint !== "none",
      test: (w: { sprintId?: string; assignee?: string; type: number; status: number; title: string; key: string }) =>
        (sprint === "all" || (sprint === "none" ? !w.sprintId : w.sprintId === sprint)) &&
        (!assignee || (assignee === "none" ? !w.assignee : w.assignee === assignee)) &&
        (!type || String(w.type) === type) &&
        (!status || String(w.status) === status) &&
        (!q || w.title.toLowerCase().includes(q) || w.key.toLowerCase().includes(q)),
    }),
    [sprint, assignee, type, status, q],
  );
}
