// Time tracking controls: the running timer in the top bar (ticking, with its item and a stop
// button), and the start/stop button used on cards and in the work-item panel. Starting a timer
// stops the one running (the server's reply says which), and the toast says so.
import { ActionIcon, Button, Group, Text, Tooltip, UnstyledButton } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlayerPlayFilled, IconPlayerStopFilled } from "@tabler/icons-react";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useNavigate } from "react-router-dom";
import { useSession } from "../../app/session";
import type { TimeEntry } from "../../gen/pm/v1/entities_pb";
import { entryMs, formatDuration, formatElapsed, type TimerStore } from "../../store/timer";
import { attempt } from "../../ui/notify";

export function useRunning(): TimeEntry | null {
  const { timer } = useSession();
  return useSyncExternalStore(timer.subscribe, () => timer.running);
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

export async function startTimer(timer: TimerStore, workItemId: string, key: string): Promise<void> {
  const stopped = await attempt(() => timer.start(workItemId), `Could not start a timer on ${key}`);
  if (stopped) {
    const ref = await timer.describe(stopped.workItemId);
    notifications.show({
      color: "indigo",
      title: `Timer started on ${key}`,
      message: `The timer on ${ref?.key ?? "the previous item"} was stopped at ${formatDuration(entryMs(stopped))}.`,
    });
  }
}

/** The header's running timer: item key and title, elapsed time ticking, stop. */
export function RunningTimer() {
  const { timer } = useSession();
  const running = useRunning();
  const items = useSyncExternalStore(timer.subscribe, () => timer.items);
  const now = useNow(!!running);
  const navigate = useNavigate();
  if (!running) return null;
  const ref = items.get(running.workItemId);
  return (
    <Group
      gap={6}
      wrap="nowrap"
      pl={8}
      pr={2}
      h={28}
      role="timer"
      aria-label={`Timer running on ${ref?.key ?? "an item"}`}
      data-testid="running-timer"
      data-key={ref?.key}
      style={{ border: "1px solid var(--mantine-color-indigo-3)", borderRadius: 6, background: "var(--mantine-color-indigo-light)" }}
    >
      <span className="pm-pulse" aria-hidden />
      <UnstyledButton onClick={() => ref && navigate(`/p/${ref.projectKey}/board/${ref.key}`)} style={{ minWidth: 0 }}>
        <Group gap={6} wrap="nowrap">
          <Text size="xs" fw={600} className="tabular" c="indigo.9">
            {ref?.key ?? "…"}
          </Text>
          <Text size="xs" truncate maw={160} c="indigo.9">
            {ref?.title}
          </Text>
        </Group>
      </UnstyledButton>
      <Text size="xs" fw={600} className="tabular" c="indigo.9" data-testid="elapsed" miw={42} ta="right">
        {formatElapsed(now - Number(running.startedAt))}
      </Text>
      <Tooltip label="Stop the timer">
        <ActionIcon size="sm" variant="subtle" color="indigo" aria-label="Stop the timer" onClick={() => void attempt(() => timer.stop(), "Could not stop the timer")}>
          <IconPlayerStopFilled size={12} />
        </ActionIcon>
      </Tooltip>
    </Group>
  );
}

/** Start or stop the timer on one item (a card's icon, or the panel's button). */
export function TimerButton({
  workItemId,
  itemKey,
  variant = "icon",
  quiet,
}: {
  workItemId: string;
  itemKey: string;
  variant?: "icon" | "button";
  /** Shown only on hover or focus of its card while no timer runs on it. */
  quiet?: boolean;
}) {
  const { timer } = useSession();
  const running = useRunning();
  const on = running?.workItemId === workItemId;
  const act = () => void (on ? attempt(() => timer.stop(), "Could not stop the timer") : startTimer(timer, workItemId, itemKey));
  if (variant === "button")
    return (
      <Button
        size="xs"
        variant={on ? "light" : "default"}
        color={on ? "red" : undefined}
        leftSection={on ? <IconPlayerStopFilled size={12} /> : <IconPlayerPlayFilled size={12} />}
        onClick={act}
      >
        {on ? "Stop timer" : "Start timer"}
      </Button>
    );
  return (
    <Tooltip label={on ? "Stop the timer" : "Start a timer"} openDelay={300}>
      <ActionIcon
        size="sm"
        variant={on ? "light" : "subtle"}
        color={on ? "indigo" : "gray"}
        className={on || !quiet ? undefined : "pm-hover-only"}
        aria-label={on ? `Stop the timer on ${itemKey}` : `Start a timer on ${itemKey}`}
        onPointerDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.stopPropagation()}
        onClick={(e) => {
          e.stopPropagation();
          act();
        }}
      >
        {on ? <IconPlayerStopFilled size={11} /> : <IconPlayerPlayFilled size={11} />}
      </ActionIcon>
    </Tooltip>
  );
}
