import { Group, Text, Tooltip } from "@mantine/core";
import { useConnectionStatus } from "../app/session";

/** A small dot: green live, amber reconnecting (attempt count on hover), red offline. */
export function ConnectionIndicator() {
  const s = useConnectionStatus();
  const color =
    s.state === "live" ? "var(--mantine-color-green-6)" : s.state === "offline" || s.state === "closed" ? "var(--mantine-color-red-6)" : "var(--mantine-color-yellow-6)";
  const label =
    s.state === "live"
      ? "Live"
      : s.state === "connecting"
        ? "Connecting…"
        : s.state === "reconnecting"
          ? "Reconnecting…"
          : s.state === "offline"
            ? "Offline"
            : "Disconnected";
  const detail =
    s.state === "reconnecting" || s.state === "offline"
      ? `Attempt ${s.attempt}${s.queued ? ` · ${s.queued} change${s.queued === 1 ? "" : "s"} waiting to sync` : ""}`
      : s.queued
        ? `${s.queued} change${s.queued === 1 ? "" : "s"} syncing`
        : "Changes appear as they happen";
  return (
    <Tooltip label={detail}>
      <Group gap={6} wrap="nowrap" role="status" aria-label={`Connection: ${label}`} data-state={s.state}>
        <span style={{ width: 8, height: 8, borderRadius: 99, background: color, display: "inline-block" }} />
        {s.state !== "live" ? (
          <Text size="xs" c="dimmed">
            {label}
            {s.queued ? ` · ${s.queued} waiting` : ""}
          </Text>
        ) : (
          s.queued > 0 && (
            <Text size="xs" c="dimmed">
              {s.queued} syncing
            </Text>
          )
        )}
      </Group>
    </Tooltip>
  );
}
