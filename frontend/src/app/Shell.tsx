import {
  ActionIcon,
  AppShell,
  Avatar,
  Box,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Skeleton,
  Stack,
  Text,
  Tooltip,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconChevronDown,
  IconLayoutKanban,
  IconLayoutSidebarLeftCollapse,
  IconLayoutSidebarLeftExpand,
  IconListDetails,
  IconLogout,
  IconMoon,
  IconPlus,
  IconSun,
  IconFolders,
} from "@tabler/icons-react";
import { Link, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { ProjectStatus } from "../gen/pm/v1/entities_pb";
import { ProjectsPage } from "../features/projects/ProjectsPage";
import { ProjectView } from "../features/board/ProjectView";
import { ErrorBoundary } from "../ui/ErrorBoundary";
import { ROLE_LABEL } from "../ui/labels";
import { initials } from "../ui/chips";
import { useProjects, useSession, useWelcome } from "./session";
import { Shortcuts } from "./Shortcuts";

export function Shell() {
  const [collapsed, { toggle }] = useDisclosure(false);
  return (
    <AppShell navbar={{ width: collapsed ? 56 : 240, breakpoint: 0 }} padding={0}>
      <Shortcuts />
      <AppShell.Navbar>
        <Sidebar collapsed={collapsed} onToggle={toggle} />
      </AppShell.Navbar>
      <AppShell.Main style={{ height: "100vh", display: "flex", flexDirection: "column" }}>
        <Routes>
          <Route
            path="/projects"
            element={
              <ErrorBoundary name="projects">
                <ProjectsPage />
              </ErrorBoundary>
            }
          />
          <Route
            path="/p/:projectKey/*"
            element={
              <ErrorBoundary name="project">
                <ProjectView />
              </ErrorBoundary>
            }
          />
          <Route path="*" element={<ProjectsPage />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}

function Sidebar({ collapsed, onToggle }: { collapsed: boolean; onToggle: () => void }) {
  const welcome = useWelcome();
  const session = useSession();
  const list = useProjects();
  const location = useLocation();
  const navigate = useNavigate();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const active = list.projects.filter((p) => p.project?.status !== ProjectStatus.ARCHIVED);
  const current = /^\/p\/([^/]+)/.exec(location.pathname)?.[1]?.toUpperCase();

  return (
    <Stack gap={0} h="100%" bg="var(--mantine-color-default-hover)">
      <Box p="xs">
        <Menu position="bottom-start" width={220} withinPortal>
          <Menu.Target>
            <UnstyledButton w="100%" p={6} style={{ borderRadius: 6 }} aria-label="Account menu">
              <Group gap={8} wrap="nowrap">
                <Avatar size={26} radius="sm" color="indigo" variant="filled">
                  {welcome ? initials(welcome.tenantId) : ""}
                </Avatar>
                {!collapsed && (
                  <>
                    <Box style={{ flex: 1, minWidth: 0 }}>
                      {welcome ? (
                        <>
                          <Text size="sm" fw={600} truncate>
                            {welcome.tenantId}
                          </Text>
                          <Text size="xs" c="dimmed" truncate data-testid="signed-in-as">
                            {welcome.userId} · {ROLE_LABEL[welcome.role] ?? "member"}
                          </Text>
                        </>
                      ) : (
                        <Skeleton h={26} />
                      )}
                    </Box>
                    <IconChevronDown size={14} />
                  </>
                )}
              </Group>
            </UnstyledButton>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Label>
              Signed in as {welcome?.userId} ({ROLE_LABEL[welcome?.role ?? 0] ?? "member"}) in {welcome?.tenantId}
            </Menu.Label>
            <Menu.Item
              leftSection={scheme === "dark" ? <IconSun size={14} /> : <IconMoon size={14} />}
              onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}
            >
              {scheme === "dark" ? "Light theme" : "Dark theme"}
            </Menu.Item>
            <Menu.Item color="red" leftSection={<IconLogout size={14} />} onClick={() => session.signOut()}>
              Sign out
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Box>
      <ScrollArea style={{ flex: 1 }} px="xs">
        <NavLink
          component={Link}
          to="/projects"
          label={collapsed ? undefined : "Projects"}
          leftSection={<IconFolders size={16} />}
          active={location.pathname === "/projects"}
          style={{ borderRadius: 6 }}
        />
        {!collapsed && (
          <Group justify="space-between" mt="md" mb={4} px={8}>
            <Text size="xs" fw={600} c="dimmed" tt="uppercase" style={{ letterSpacing: 0.4 }}>
              Your projects
            </Text>
            <Tooltip label="New project">
              <ActionIcon size="xs" variant="subtle" color="gray" aria-label="New project" onClick={() => navigate("/projects?new=1")}>
                <IconPlus size={12} />
              </ActionIcon>
            </Tooltip>
          </Group>
        )}
        {!list.loaded && !collapsed && <Skeleton h={28} mt={4} />}
        {active.map((r) => {
          const p = r.project!;
          const open = current === p.key;
          return (
            <NavLink
              key={p.id}
              label={collapsed ? undefined : p.title}
              description={undefined}
              leftSection={
                <Text size="xs" fw={600} c="dimmed" w={collapsed ? undefined : 36} className="tabular">
                  {collapsed ? p.key.slice(0, 3) : p.key}
                </Text>
              }
              opened={open}
              defaultOpened={open}
              childrenOffset={collapsed ? 0 : 44}
              style={{ borderRadius: 6 }}
              onClick={() => navigate(`/p/${p.key}/board`)}
            >
              {!collapsed && (
                <>
                  <NavLink
                    component={Link}
                    to={`/p/${p.key}/board`}
                    label="Board"
                    leftSection={<IconLayoutKanban size={14} />}
                    active={open && location.pathname.includes("/board")}
                    style={{ borderRadius: 6 }}
                  />
                  <NavLink
                    component={Link}
                    to={`/p/${p.key}/backlog`}
                    label="Backlog"
                    leftSection={<IconListDetails size={14} />}
                    active={open && location.pathname.includes("/backlog")}
                    style={{ borderRadius: 6 }}
                  />
                </>
              )}
            </NavLink>
          );
        })}
      </ScrollArea>
      <Group p="xs" justify={collapsed ? "center" : "flex-end"}>
        <ActionIcon variant="subtle" color="gray" onClick={onToggle} aria-label={collapsed ? "Expand sidebar" : "Collapse sidebar"}>
          {collapsed ? <IconLayoutSidebarLeftExpand size={16} /> : <IconLayoutSidebarLeftCollapse size={16} />}
        </ActionIcon>
      </Group>
    </Stack>
  );
}
