// The burndown of one sprint (split off with the chart library): remaining points per day from
// the server's get_sprint_burndown, the scope line, and the ideal line from the first day's scope
// to zero at the sprint's end. Fetched again whenever the sprint's points change.
import { LineChart } from "@mantine/charts";
import "@mantine/charts/styles.css";
import { Center, Group, Skeleton, Text } from "@mantine/core";
import { useEffect, useState } from "react";
import type { SprintBurndown } from "../../gen/pm/v1/commands_pb";
import type { Sprint } from "../../gen/pm/v1/entities_pb";
import { useSelector } from "../../store/hooks";
import type { ProjectStore } from "../../store/project";
import { sprintTotals } from "../../store/sprints";
import { burndownRows } from "../../store/burndown";

export default function Burndown({ store, sprint, height }: { store: ProjectStore; sprint: Sprint; height: number }) {
  // Changes to the sprint's items (points, done, scope) or the sprint itself refresh the chart.
  const key = useSelector(store, (s) => {
    const t = sprintTotals(s.items(), sprint.id);
    return `${t.items}/${t.points}/${t.donePoints}/${String(s.sprints.get(sprint.id)?.version ?? 0n)}`;
  });
  const [data, setData] = useState<SprintBurndown | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    store.burndown(sprint.id).then(
      (b) => live && (setData(b), setError(null)),
      (e) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [store, sprint.id, key]);

  if (error)
    return (
      <Center h={height}>
        <Text size="xs" c="dimmed">
          No burndown: {error}
        </Text>
      </Center>
    );
  if (!data) return <Skeleton h={height} />;
  const rows = burndownRows(data, sprint);
  const last = data.days[data.days.length - 1];
  return (
    <figure style={{ margin: 0 }} aria-label={`Burndown of ${sprint.name}`} data-testid="burndown">
      <Group justify="space-between" mb={4}>
        <Text size="xs" fw={600}>
          Burndown
        </Text>
        {last && (
          <Text size="xs" c="dimmed" className="tabular">
            {last.remainingPoints} of {last.scopePoints} pts left
          </Text>
        )}
      </Group>
      <LineChart
        h={height - 24}
        data={rows}
        dataKey="day"
        withLegend={false}
        withDots={false}
        curveType="linear"
        gridAxis="y"
        tickLine="none"
        yAxisProps={{ width: 28, allowDecimals: false }}
        xAxisProps={{ interval: "preserveStartEnd", minTickGap: 12 }}
        strokeWidth={2}
        connectNulls={false}
        series={[
          { name: "Remaining", color: "indigo.6" },
          { name: "Scope", color: "gray.5", strokeDasharray: "2 3" },
          { name: "Ideal", color: "teal.5", strokeDasharray: "5 4" },
        ]}
      />
      <figcaption style={{ position: "absolute", width: 1, height: 1, overflow: "hidden", clip: "rect(0 0 0 0)" }}>
        {data.days.map((d) => `${new Date(Number(d.day)).toDateString()}: ${d.remainingPoints} points remaining`).join("; ")}
      </figcaption>
    </figure>
  );
}
