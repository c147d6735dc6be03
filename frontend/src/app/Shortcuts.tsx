// ⌘/Ctrl-K jumps to a project or an item of the open projects; `?` lists the keyboard shortcuts.
import { Group, Kbd, Modal, Stack, Text } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { Spotlight, type SpotlightActionData } from "@mantine/spotlight";
import { IconFolder, IconSearch } from "@tabler/icons-react";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { TypeIcon } from "../ui/chips";
import { useSession } from "./session";

const SHORTCUTS: [string[], string][] = [
  [["mod", "K"], "Jump to a project or item"],
  [["/"], "Search the board or backlog"],
  [["c"], "Create (backlog: a child of the focused row)"],
  [["↑", "↓"], "Move in the backlog"],
  [["Enter"], "Open the focused item"],
  [["Space"], "Pick up / drop a focused card on the board"],
  [["Esc"], "Close the panel or dialog"],
  [["?"], "This list"],
];

export function Shortcuts() {
  const session = useSession();
  const navigate = useNavigate();
  const [help, setHelp] = useState(false);
  const [actions, setActions] = useState<SpotlightActionData[]>([]);
  useHotkeys([["shift+?", () => setHelp(true)]]);

  const refresh = () => {
    const list: SpotlightActionData[] = [];
    for (const r of session.projects.projects) {
      const p = r.project;
      if (!p) continue;
      list.push({
        id: `p:${p.id}`,
        label: p.title,
        description: `${p.key} · board`,
        leftSection: <IconFolder size={16} />,
        onClick: () => navigate(`/p/${p.key}/board`),
      });
    }
    for (const store of session.openStores()) {
      const key = store.project?.key;
      if (!key) continue;
      for (const w of store.items()) {
        list.push({
          id: `i:${w.id}`,
          label: `${w.key} ${w.title}`,
          description: store.project?.title,
          leftSection: <TypeIcon type={w.type} />,
          onClick: () => navigate(`/p/${key}/board/${w.key}`),
        });
      }
    }
    setActions(list);
  };

  return (
    <>
      <Spotlight
        actions={actions}
        shortcut={["mod + K"]}
        onSpotlightOpen={refresh}
        nothingFound="Nothing matches"
        highlightQuery
        limit={40}
        scrollable
        maxHeight={420}
        searchProps={{ leftSection: <IconSearch size={16} />, placeholder: "Jump to a project or item…" }}
      />
      <Modal opened={help} onClose={() => setHelp(false)} title="Keyboard shortcuts" size="sm">
        <Stack gap={8}>
          {SHORTCUTS.map(([keys, what]) => (
            <Group key={what} justify="space-between">
              <Text size="sm">{what}</Text>
              <Group gap={4}>
                {keys.map((k) => (
                  <Kbd key={k} size="xs">
                    {k === "mod" ? (navigator.platform.startsWith("Mac") ? "⌘" : "Ctrl") : k}
                  </Kbd>
                ))}
              </Group>
            </Group>
          ))}
        </Stack>
      </Modal>
    </>
  );
}
