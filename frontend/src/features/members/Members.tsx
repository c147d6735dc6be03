// Project members (admins): the list with roles, add by user id with a role, change a role, remove.
// The server keeps at least one admin; its refusal is shown, and the last admin's own controls say
// why they are off.
import { ActionIcon, Alert, Button, Group, Paper, Select, Stack, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconTrash, IconUserPlus } from "@tabler/icons-react";
import { useState } from "react";
import { useSession } from "../../app/session";
import { ProjectRole, type Member } from "../../gen/pm/v1/entities_pb";
import { RequestError } from "../../net/protocol";
import { shallowArrayEqual, useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { UserAvatar } from "../../ui/chips";
import { PROJECT_ROLE_LABEL, isAdmin, options } from "../../ui/labels";
import { notifyError } from "../../ui/notify";
import { timeAgo } from "../../ui/time";

const ROLES = [ProjectRole.VIEWER, ProjectRole.EDITOR, ProjectRole.ADMIN];

export function Members({ store }: { store: ProjectStore }) {
  const { me } = useSession();
  const members = useSelector(store, (s) => [...s.members.values()].sort((a, b) => a.userId.localeCompare(b.userId)), shallowArrayEqual);
  const admin = useSelector(store, (s) => isAdmin(s.myRole));
  const admins = members.filter((m) => m.role === ProjectRole.ADMIN).length;
  const [user, setUser] = useState("");
  const [role, setRole] = useState<string>(String(ProjectRole.EDITOR));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const add = async () => {
    setBusy(true);
    setError(null);
    try {
      await store.addMember(user.trim(), Number(role) as ProjectRole);
      setUser("");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="md" p="md" maw={820}>
      <Group justify="space-between">
        <Title order={2} fz={15} fw={600}>
          Members
        </Title>
        <Text size="xs" c="dimmed">
          {members.length} {members.length === 1 ? "member" : "members"} · {admins} {admins === 1 ? "admin" : "admins"}
        </Text>
      </Group>
      {admin && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (user.trim()) void add();
          }}
        >
          <Group gap="xs" align="flex-start">
            <TextInput w={240} placeholder="User id" aria-label="User id" value={user} onChange={(e) => setUser(e.currentTarget.value)} error={error} />
            <Select w={130} aria-label="Role" data={options(PROJECT_ROLE_LABEL, ROLES)} value={role} allowDeselect={false} onChange={(v) => setRole(v ?? role)} />
            <Button type="submit" leftSection={<IconUserPlus size={14} />} loading={busy} disabled={!user.trim()}>
              Add member
            </Button>
          </Group>
        </form>
      )}
      <Paper withBorder radius="md" role="list" aria-label="Members">
        {members.map((m) => (
          <MemberRow key={m.userId} store={store} m={m} me={me} admin={admin} lastAdmin={m.role === ProjectRole.ADMIN && admins === 1} />
        ))}
      </Paper>
      <Text size="xs" c="dimmed">
        A project always keeps at least one admin: promote someone else before the last admin leaves or steps down.
      </Text>
    </Stack>
  );
}

function MemberRow({ store, m, me, admin, lastAdmin }: { store: ProjectStore; m: Member; me: string; admin: boolean; lastAdmin: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      if (e instanceof RequestError) setError(e.message);
      else notifyError(e);
    }
  };
  return (
    <Stack gap={2} px="sm" py={6} role="listitem" aria-label={m.userId} style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
      <Group gap="sm" wrap="nowrap">
        <UserAvatar user={m.userId} size={26} label="" />
        <Stack gap={0} style={{ flex: 1, minWidth: 0 }}>
          <Text size="sm" fw={500}>
            {m.userId}
            {m.userId === me ? " (you)" : ""}
          </Text>
          <Text size="xs" c="dimmed">
            Added by {m.createdBy || "—"} {timeAgo(Number(m.createdAt))}
          </Text>
        </Stack>
        {admin ? (
          <Tooltip label="The last admin cannot step down" disabled={!lastAdmin}>
            <div>
              <Select
                w={120}
                aria-label={`Role of ${m.userId}`}
                data={options(PROJECT_ROLE_LABEL, ROLES)}
                value={String(m.role)}
                allowDeselect={false}
                onChange={(v) => v && Number(v) !== m.role && void run(() => store.changeMemberRole(m.userId, Number(v) as ProjectRole))}
              />
            </div>
          </Tooltip>
        ) : (
          <Text size="sm" c="dimmed">
            {PROJECT_ROLE_LABEL[m.role]}
          </Text>
        )}
        {admin && (
          <Tooltip label={lastAdmin ? "The last admin cannot be removed" : `Remove ${m.userId}`}>
            <ActionIcon
              variant="subtle"
              color="gray"
              aria-label={`Remove ${m.userId}`}
              onClick={() =>
                modals.openConfirmModal({
                  title: `Remove ${m.userId}?`,
                  children: <Text size="sm">They lose access to this project. Their items and history stay.</Text>,
                  labels: { confirm: "Remove", cancel: "Keep" },
                  confirmProps: { color: "red" },
                  onConfirm: () => void run(() => store.removeMember(m.userId)),
                })
              }
            >
              <IconTrash size={14} />
            </ActionIcon>
          </Tooltip>
        )}
      </Group>
      {error && (
        <Alert color="red" variant="light" p={6} role="alert">
          <Text size="xs">{error}</Text>
        </Alert>
      )}
    </Stack>
  );
}
