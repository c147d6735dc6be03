// The small things every list and card shows: type, priority, status, points, assignee.
import { Avatar, Badge, Tooltip } from "@mantine/core";
import {
  IconAlertSquareFilled,
  IconBolt,
  IconBook2,
  IconCheckbox,
  IconChevronDown,
  IconChevronsUp,
  IconEqual,
} from "@tabler/icons-react";
import { Priority, WorkItemType } from "../gen/pm/v1/entities_pb";
import { STATUS_COLOR } from "../theme";
import { PRIORITY_LABEL, STATUS_LABEL, TYPE_LABEL } from "./labels";

export function TypeIcon({ type, size = 15 }: { type: WorkItemType; size?: number }) {
  const label = TYPE_LABEL[type] ?? "Item";
  const props = { size, stroke: 2, "aria-label": label, role: "img" } as const;
  switch (type) {
    case WorkItemType.EPIC:
      return <IconBolt {...props} color="var(--mantine-color-violet-6)" />;
    case WorkItemType.STORY:
      return <IconBook2 {...props} color="var(--mantine-color-teal-6)" />;
    default:
      return <IconCheckbox {...props} color="var(--mantine-color-blue-6)" />;
  }
}

export function PriorityIcon({ priority, size = 15 }: { priority: Priority; size?: number }) {
  const label = `${PRIORITY_LABEL[priority] ?? "No"} priority`;
  const props = { size, stroke: 2, "aria-label": label, role: "img" } as const;
  const icon = (() => {
    switch (priority) {
      case Priority.CRITICAL:
        return <IconAlertSquareFilled {...props} color="var(--mantine-color-red-6)" />;
      case Priority.HIGH:
        return <IconChevronsUp {...props} color="var(--mantine-color-orange-6)" />;
      case Priority.MEDIUM:
        return <IconEqual {...props} color="var(--mantine-color-yellow-7)" />;
      default:
        return <IconChevronDown {...props} color="var(--mantine-color-blue-5)" />;
    }
  })();
  return (
    <Tooltip label={label} openDelay={400}>
      <span style={{ display: "inline-flex" }}>{icon}</span>
    </Tooltip>
  );
}

export function StatusBadge({ status }: { status: number }) {
  return (
    <Badge size="xs" variant="light" color={STATUS_COLOR[status] ?? "gray"} style={{ textTransform: "none", fontWeight: 500 }}>
      {STATUS_LABEL[status] ?? "Other"}
    </Badge>
  );
}

export function Points({ points }: { points: number | undefined }) {
  if (points === undefined) return null;
  return (
    <Badge size="xs" variant="default" radius="xl" className="tabular" style={{ fontWeight: 500 }} aria-label={`${points} points`}>
      {points}
    </Badge>
  );
}

export function initials(user: string): string {
  const parts = user.split(/[\s._@-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts[1]?.[0] ?? "")).toUpperCase();
}

export function UserAvatar({ user, size = 20 }: { user: string | undefined; size?: number }) {
  if (!user) return null;
  return (
    <Tooltip label={user} openDelay={300}>
      <Avatar size={size} radius="xl" color="initials" name={user} aria-label={`Assignee ${user}`}>
        {initials(user)}
      </Avatar>
    </Tooltip>
  );
}
