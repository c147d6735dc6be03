// The signed-in session: one Connection for the tab, who the server says we are (Welcome), the
// projects list, and one ProjectStore per open project. Components get these through hooks.
import { createContext, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import type { Welcome } from "../gen/pm/v1/envelope_pb";
import type { ProjectResponse } from "../gen/pm/v1/commands_pb";
import { Connection, type ConnectionStatus } from "../net/connection";
import { ProjectStore } from "../store/project";
import { checkToken } from "./token";

/** The projects the user can see, kept current from replies and project events. */
export class ProjectsList {
  projects: ProjectResponse[] = [];
  loaded = false;
  error: string | null = null;
  counts = new Map<string, string>();
  private listeners = new Set<() => void>();
  constructor(private readonly conn: Connection) {
    conn.onEvent((e) => {
      if (e.change?.change.case === "project") {
        const p = e.change.change.value;
        this.upsert(p.id, (r) => ({ ...r, project: p }));
      }
    });
  }
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  private changed() {
    this.projects = [...this.projects];
    for (const l of this.listeners) l();
  }
  upsert(id: string, f: (r: ProjectResponse) => ProjectResponse) {
    const i = this.projects.findIndex((r) => r.project?.id === id);
    if (i >= 0) {
      const held = this.projects[i]!;
      this.projects[i] = f(held);
      this.changed();
    }
  }
  put(r: ProjectResponse) {
    const i = this.projects.findIndex((x) => x.project?.id === r.project?.id);
    if (i >= 0) this.projects[i] = r;
    else this.projects.push(r);
    this.changed();
    const id = r.project?.id;
    if (id && !this.counts.has(id)) void this.count(id);
  }
  remove(id: string) {
    this.projects = this.projects.filter((r) => r.project?.id !== id);
    this.changed();
  }
  async load(): Promise<void> {
    try {
      const res = await this.conn.send({ case: "listProjects", value: { includeArchived: true } }, "projectList");
      this.projects = res.projects;
      this.loaded = true;
      this.error = null;
      this.changed();
      await Promise.all(res.projects.map((p) => this.count(p.project?.id ?? "")));
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      this.loaded = true;
      this.changed();
    }
  }
  /** Item counts: the protocol has no count, so page through one page of ids. */
  private async count(projectId: string): Promise<void> {
    if (!projectId) return;
    try {
      const res = await this.conn.send({ case: "listWorkItems", value: { projectId, limit: 500 } }, "workItemList");
      this.counts.set(projectId, res.nextCursor ? `${res.workItems.length}+` : String(res.workItems.length));
      this.changed();
    } catch {
      // Counts are a nicety: show that there is none rather than a skeleton for ever.
      this.counts.set(projectId, "—");
      this.changed();
    }
  }
}

export interface Session {
  token: string;
  /** The user id from Welcome. */
  me: string;
  conn: Connection;
  projects: ProjectsList;
  /** The store of a project (by id), created and watched on first use. */
  store(projectId: string): ProjectStore;
  /** The stores created so far. */
  openStores(): ProjectStore[];
  /** Keeps a project's store current while a view shows it; the returned function lets go. */
  watch(projectId: string): () => void;
  signOut(message?: string): void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({
  token,
  onSignOut,
  children,
}: {
  token: string;
  onSignOut: (message?: string) => void;
  children: ReactNode;
}) {
  const onSignOutRef = useRef(onSignOut);
  onSignOutRef.current = onSignOut;
  const session = useMemo<Session>(() => {
    const conn = new Connection({
      url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
      token,
      checkToken,
    });
    const stores = new Map<string, ProjectStore>();
    const s: Session = {
      token,
      me: "",
      conn,
      projects: new ProjectsList(conn),
      store(projectId) {
        let st = stores.get(projectId);
        if (!st) {
          st = new ProjectStore(projectId, conn, s.me);
          stores.set(projectId, st);
        }
        return st;
      },
      watch(projectId) {
        const st = s.store(projectId);
        if (!conn.watching(projectId)) conn.watch(st);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          // Stop the events; the store keeps its copy and resumes from its last seq when the
          // project is opened again.
          conn.unwatch(projectId);
        };
      },
      openStores: () => [...stores.values()],
      signOut(message) {
        conn.close("signed out");
        onSignOutRef.current(message);
      },
    };
    return s;
  }, [token]);

  useEffect(() => {
    const { conn } = session;
    const off = conn.onStatus((st) => {
      if (st.state === "closed" && st.closedReason && st.closedReason !== "signed out") {
        onSignOutRef.current(st.closedReason);
      }
    });
    const offW = conn.onWelcome((w) => {
      session.me = w.userId;
      // The project list is re-read on every (re)connect: it is not a subscribed topic.
      void session.projects.load();
    });
    conn.start();
    return () => {
      off();
      offW();
      conn.close("signed out");
    };
  }, [session]);

  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}

export function useConnectionStatus(): ConnectionStatus {
  const { conn } = useSession();
  return useSyncExternalStore(
    (l) => conn.onStatus(l),
    () => conn.getStatus(),
  );
}

export function useWelcome(): Welcome | null {
  const { conn } = useSession();
  const [w, setW] = useState<Welcome | null>(conn.welcome);
  useEffect(() => conn.onWelcome(setW), [conn]);
  return w;
}

export function useProjects(): ProjectsList {
  const { projects } = useSession();
  useSyncExternalStore(projects.subscribe, () => projects.projects);
  return projects;
}
