import { Button, Group, Modal, Stack, Table, Text } from "@mantine/core";
import { useSelector } from "../../store/hooks";
import { changedFields, type ProjectStore } from "../../store/project";
import type { WorkItem } from "../../gen/pm/v1/entities_pb";
import { PRIORITY_LABEL, STATUS_LABEL, TYPE_LABEL } from "../../ui/labels";
import { attempt } from "../../ui/notify";

const FIELD_LABEL: Record<string, string> = {
  title: "Title",
  description: "Description",
  type: "Type",
  status: "Status",
  priority: "Priority",
  storyPoints: "Points",
  assignee: "Assignee",
  sprintId: "Sprint",
  parentId: "Parent",
};

function show(store: ProjectStore, field: string, w: Partial<WorkItem> | Record<string, unknown>): string {
  const v = (w as Record<string, unknown>)[field];
  if (v === undefined || v === null || v === "") return "—";
  if (field === "status") return STATUS_LABEL[v as number] ?? String(v);
  if (field === "type") return TYPE_LABEL[v as number] ?? String(v);
  if (field === "priority") return PRIORITY_LABEL[v as number] ?? String(v);
  if (field === "sprintId") return store.sprints.get(v as string)?.name ?? String(v);
  if (field === "parentId") return store.item(v as string)?.key ?? String(v);
  const s = String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/**
 * Someone else changed an item while the user was editing it: show what they changed and what the
 * user wanted, and let the user re-apply their edit on the current version or keep theirs.
 */
export function ConflictDialog({ store }: { store: ProjectStore }) {
  const conflict = useSelector(store, (s) => s.conflicts[0]);
  if (!conflict) return null;
  const theirs = changedFields(conflict.base, conflict.current);
  const mine = Object.keys(conflict.mine).filter((k) => (conflict.mine as Record<string, unknown>)[k] !== undefined);
  const fields = [...new Set([...theirs, ...mine])];
  return (
    <Modal opened onClose={() => store.dismissConflict(conflict.id)} title={`${conflict.current.key} was changed by ${conflict.current.updatedBy || "someone else"}`} size="lg">
      <Stack gap="sm">
        <Text size="sm">
          Your change was not saved because the item changed while you were editing. Compare, then keep their version or apply yours on top of it.
        </Text>
        <Table withTableBorder verticalSpacing={6} aria-label="Conflicting changes">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={110}>Field</Table.Th>
              <Table.Th>Now (theirs)</Table.Th>
              <Table.Th>Yours</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fields.map((f) => (
              <Table.Tr key={f}>
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {FIELD_LABEL[f] ?? f}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={theirs.includes(f) ? undefined : "dimmed"}>
                    {show(store, f, conflict.current)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c={mine.includes(f) ? undefined : "dimmed"}>
                    {mine.includes(f) ? show(store, f, conflict.mine as Record<string, unknown>) : "(unchanged)"}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => store.dismissConflict(conflict.id)}>
            Keep theirs
          </Button>
          <Button onClick={() => void attempt(() => store.reapply(conflict.id), "Could not apply your change")}>Apply mine</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
