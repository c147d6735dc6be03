import {
  ActionIcon,
  Badge,
  Box,
  Button,
  Group,
  Menu,
  Modal,
  Paper,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Textarea,
  Title,
  Tooltip,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { modals } from "@mantine/modals";
import { notifications } from "@mantine/notifications";
import { IconArchive, IconArchiveOff, IconDots, IconFolderPlus, IconPencil, IconTrash } from "@tabler/icons-react";
import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import type { ProjectResponse } from "../../gen/pm/v1/commands_pb";
import { ProjectRole, ProjectStatus, TenantRole } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { useProjects, useSession, useWelcome } from "../../app/session";
import { ConnectionIndicator } from "../../ui/ConnectionIndicator";
import { PROJECT_ROLE_LABEL } from "../../ui/labels";
import { attempt } from "../../ui/notify";
import { timeAgo } from "../../ui/time";
import { RunningTimer } from "../time/timer";

export function ProjectsPage() {
  const list = useProjects();
  const welcome = useWelcome();
  const [params, setParams] = useSearchParams();
  const creating = params.get("new") === "1";
  const canCreate = welcome ? welcome.role !== TenantRole.VIEWER : false;
  const [editing, setEditing] = useState<ProjectResponse | null>(null);

  return (
    <Stack gap={0} h="100%">
      <Group h={48} px="lg" justify="space-between" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <Title order={1} fz={15} fw={600}>
          Projects
        </Title>
        <Group gap="md">
          <RunningTimer />
          <ConnectionIndicator />
          <Tooltip label={canCreate ? "Create a project" : "Tenant viewers cannot create projects"} disabled={canCreate}>
            <Button leftSection={<IconFolderPlus size={14} />} disabled={!canCreate} onClick={() => setParams({ new: "1" })}>
              New project
            </Button>
          </Tooltip>
        </Group>
      </Group>
      <Box p="lg" style={{ overflow: "auto" }}>
        {!list.loaded ? (
          <Stack gap={6}>
            {[0, 1, 2].map((i) => (
              <Skeleton key={i} h={36} />
            ))}
          </Stack>
        ) : list.projects.length === 0 ? (
          <Paper withBorder p="xl" ta="center" radius="md">
            <Stack align="center" gap="xs">
              <Text fw={600}>No projects yet</Text>
              <Text c="dimmed" size="sm">
                A project holds a board, a backlog and its sprints. Create the first one to start planning.
              </Text>
              {canCreate && (
                <Button mt="sm" onClick={() => setParams({ new: "1" })}>
                  Create a project
                </Button>
              )}
            </Stack>
          </Paper>
        ) : (
          <Paper withBorder radius="md" style={{ overflow: "hidden" }}>
            <Table verticalSpacing={6} highlightOnHover aria-label="Projects">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={90}>Key</Table.Th>
                  <Table.Th>Name</Table.Th>
                  <Table.Th w={90} ta="right">
                    Items
                  </Table.Th>
                  <Table.Th w={150}>Updated</Table.Th>
                  <Table.Th w={110}>Your role</Table.Th>
                  <Table.Th w={48} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.projects.map((r) => (
                  <ProjectRow key={r.project!.id} r={r} count={list.counts.get(r.project!.id)} onRename={() => setEditing(r)} />
                ))}
              </Table.Tbody>
            </Table>
          </Paper>
        )}
      </Box>
      <ProjectForm
        opened={creating || editing !== null}
        editing={editing}
        onClose={() => {
          setEditing(null);
          if (creating) setParams({});
        }}
      />
    </Stack>
  );
}

function ProjectRow({ r, count, onRename }: { r: ProjectResponse; count: string | undefined; onRename: () => void }) {
  const p = r.project!;
  const { conn, projects } = useSession();
  const admin = r.myRole === ProjectRole.ADMIN;
  const archived = p.status === ProjectStatus.ARCHIVED;
  const reason = admin ? undefined : "Only project admins can do this";
  const setArchived = (archive: boolean) =>
    attempt(async () => {
      const res = await conn.send(
        archive
          ? { case: "archiveProject", value: { projectId: p.id, version: p.version } }
          : { case: "unarchiveProject", value: { projectId: p.id, version: p.version } },
        "project",
      );
      projects.put(res);
    });
  const remove = () =>
    modals.openConfirmModal({
      title: `Delete ${p.title}?`,
      children: <Text size="sm">The project and its key {p.key} are removed. A project with work items cannot be deleted.</Text>,
      labels: { confirm: "Delete project", cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: () =>
        attempt(async () => {
          await conn.send({ case: "deleteProject", value: { projectId: p.id, version: p.version } }, "deleted");
          projects.remove(p.id);
        }, "Could not delete the project"),
    });
  return (
    <Table.Tr style={{ opacity: archived ? 0.6 : 1 }}>
      <Table.Td>
        <Text size="sm" fw={600} c="dimmed" className="tabular">
          {p.key}
        </Text>
      </Table.Td>
      <Table.Td>
        <Group gap="xs">
          <Text component={Link} to={`/p/${p.key}/board`} size="sm" fw={500} style={{ color: "inherit", textDecoration: "none" }}>
            {p.title}
          </Text>
          {archived && (
            <Badge size="xs" variant="default">
              Archived
            </Badge>
          )}
        </Group>
        {p.description && (
          <Text size="xs" c="dimmed" lineClamp={1}>
            {plain(p.description)}
          </Text>
        )}
      </Table.Td>
      <Table.Td ta="right" className="tabular">
        {count ?? <Skeleton h={12} w={24} ml="auto" />}
      </Table.Td>
      <Table.Td>
        <Text size="xs" c="dimmed">
          {timeAgo(Number(p.updatedAt))} by {p.updatedBy}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="xs" c="dimmed">
          {PROJECT_ROLE_LABEL[r.myRole] ?? "—"}
        </Text>
      </Table.Td>
      <Table.Td>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${p.title}`}>
              <IconDots size={16} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Tooltip label={reason} disabled={admin} position="left">
              <div>
                <Menu.Item leftSection={<IconPencil size={14} />} disabled={!admin} onClick={onRename}>
                  Rename…
                </Menu.Item>
              </div>
            </Tooltip>
            <Tooltip label={reason} disabled={admin} position="left">
              <div>
                {archived ? (
                  <Menu.Item leftSection={<IconArchiveOff size={14} />} disabled={!admin} onClick={() => setArchived(false)}>
                    Unarchive
                  </Menu.Item>
                ) : (
                  <Menu.Item leftSection={<IconArchive size={14} />} disabled={!admin} onClick={() => setArchived(true)}>
                    Archive
                  </Menu.Item>
                )}
              </div>
            </Tooltip>
            <Tooltip label={reason} disabled={admin} position="left">
              <div>
                <Menu.Item color="red" leftSection={<IconTrash size={14} />} disabled={!admin} onClick={remove}>
                  Delete…
                </Menu.Item>
              </div>
            </Tooltip>
          </Menu.Dropdown>
        </Menu>
      </Table.Td>
    </Table.Tr>
  );
}

function ProjectForm({ opened, editing, onClose }: { opened: boolean; editing: ProjectResponse | null; onClose: () => void }) {
  const { conn, projects } = useSession();
  const navigate = useNavigate();
  const form = useForm({ initialValues: { title: "", key: "", description: "" } });
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!opened) return;
    const p = editing?.project;
    form.setValues({ title: p?.title ?? "", key: p?.key ?? "", description: p?.description ?? "" });
    form.clearErrors();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [opened, editing]);

  const submit = form.onSubmit(async (v) => {
    setBusy(true);
    try {
      const p = editing?.project;
      if (p) {
        const res = await conn.send(
          {
            case: "updateProject",
            value: {
              projectId: p.id,
              version: p.version,
              title: v.title !== p.title ? v.title : undefined,
              key: v.key !== p.key ? v.key : undefined,
              description: v.description !== p.description ? v.description : undefined,
            },
          },
          "project",
        );
        projects.put(res);
        onClose();
      } else {
        const res = await conn.send({ case: "createProject", value: { title: v.title, key: v.key, description: v.description } }, "project");
        projects.put(res);
        onClose();
        notifications.show({ color: "teal", message: `Created ${res.project?.title}` });
        navigate(`/p/${res.project?.key}/backlog`);
      }
    } catch (e) {
      if (e instanceof RequestError && e.field && ["title", "key", "description"].includes(e.field)) {
        form.setFieldError(e.field, e.message);
      } else if (e instanceof RequestError && e.isConflict && !editing) {
        form.setFieldError("key", e.message);
      } else {
        form.setFieldError("title", e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  });

  return (
    <Modal opened={opened} onClose={onClose} title={editing ? "Edit project" : "New project"} size="md">
      <form onSubmit={submit}>
        <Stack gap="sm">
          <TextInput
            label="Name"
            placeholder="Web shop"
            data-autofocus
            required
            {...form.getInputProps("title")}
            onChange={(e) => {
              const title = e.currentTarget.value;
              form.setFieldValue("title", title);
              if (!editing && !form.isTouched("key")) {
                form.setFieldValue("key", suggestKey(title));
              }
            }}
          />
          <TextInput
            label="Key"
            description="2–10 capital letters or digits, starting with a letter. Item keys start with it (WEB-42)."
            placeholder="WEB"
            required
            {...form.getInputProps("key")}
            onChange={(e) => {
              form.setFieldValue("key", e.currentTarget.value.toUpperCase());
              form.setTouched({ key: true });
            }}
          />
          <Textarea label="Description" autosize minRows={2} maxRows={6} {...form.getInputProps("description")} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {editing ? "Save" : "Create project"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function suggestKey(title: string): string {
  const words = title.toUpperCase().replace(/[^A-Z0-9 ]/g, "").split(/\s+/).filter(Boolean);
  if (words.length === 0) return "";
  const key = words.length === 1 ? words[0]!.slice(0, 4) : words.map((w) => w[0]).join("").slice(0, 5);
  return /^[A-Z]/.test(key) ? key : "";
}

/** A Markdown description as one line of plain text, for the list. */
function plain(md: string): string {
  return md
    .replace(/[*_`#>]+/g, "")
    .replace(/^\s*[-+]\s+/gm, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}
