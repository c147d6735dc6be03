import { Priority, ProjectRole, TenantRole, WorkItemStatus, WorkItemType } from "../gen/pm/v1/entities_pb";

export const TYPE_LABEL: Record<number, string> = {
  [WorkItemType.EPIC]: "Epic",
  [WorkItemType.STORY]: "Story",
  [WorkItemType.TASK]: "Task",
};
export const STATUS_LABEL: Record<number, string> = {
  [WorkItemStatus.BACKLOG]: "Backlog",
  [WorkItemStatus.TODO]: "To do",
  [WorkItemStatus.IN_PROGRESS]: "In progress",
  [WorkItemStatus.REVIEW]: "Review",
  [WorkItemStatus.DONE]: "Done",
};
export const PRIORITY_LABEL: Record<number, string> = {
  [Priority.CRITICAL]: "Critical",
  [Priority.HIGH]: "High",
  [Priority.MEDIUM]: "Medium",
  [Priority.LOW]: "Low",
};
export const ROLE_LABEL: Record<number, string> = {
  [TenantRole.VIEWER]: "Viewer",
  [TenantRole.EDITOR]: "Editor",
  [TenantRole.ADMIN]: "Admin",
};
export const PROJECT_ROLE_LABEL: Record<number, string> = {
  [ProjectRole.VIEWER]: "Viewer",
  [ProjectRole.EDITOR]: "Editor",
  [ProjectRole.ADMIN]: "Admin",
};

export const STATUSES = [
  WorkItemStatus.BACKLOG,
  WorkItemStatus.TODO,
  WorkItemStatus.IN_PROGRESS,
  WorkItemStatus.REVIEW,
  WorkItemStatus.DONE,
];
export const TYPES = [WorkItemType.EPIC, WorkItemType.STORY, WorkItemType.TASK];
export const PRIORITIES = [Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW];

export const options = (labels: Record<number, string>, keys: number[]) =>
  keys.map((k) => ({ value: String(k), label: labels[k] ?? String(k) }));

export function canEdit(role: ProjectRole): boolean {
  return role === ProjectRole.EDITOR || role === ProjectRole.ADMIN;
}
export function isAdmin(role: ProjectRole): boolean {
  return role === ProjectRole.ADMIN;
}
