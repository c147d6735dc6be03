// The web client in headless Chromium against one real pm-server (fresh data directory, demo
// tenant). Data is set up and checked through the protocol; the UI is driven only for what each
// test is about. Screenshots for the README are written to docs/screenshots/.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityKind, ProjectRole, WorkItemStatus, WorkItemType } from "../src/gen/pm/v1/entities_pb";
import { App, Backlog, Board, ItemPanel, SprintsPage, axeViolations, eventually, launch } from "./support/pages";
import { PATIENCE, PmServer, protocolClient } from "./support/server";

const SHOTS = resolve(__dirname, "../../docs/screenshots");
const VIEWPORT = { width: 1440, height: 900 };

let server: PmServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  server = new PmServer();
  await server.start();
  browser = await launch();
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.dispose();
});

async function open(path: string, token?: string, options: { colorScheme?: "light" | "dark" } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: options.colorScheme ?? "light" });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  if (process.env.E2E_DEBUG) page.on("console", (m) => console.log("page:", m.type(), m.text()));
  const link = token ? `${server.url}${path}#token=${token}` : `${server.url}${path}`;
  await page.goto(link);
  return page;
}

/** The demo admin's token, from the link the server printed. */
const demoToken = () => server.signInLink.split("#token=")[1]!;

async function item(key: string) {
  const conn = await protocolClient(server.addr, server.token("demo", "admin"));
  try {
    const res = await conn.send({ case: "getWorkItem", value: { workItem: key } }, "workItemDetail");
    return res;
  } finally {
    conn.close();
  }
}

/** The panel has finished sliding in (for screenshots). */
async function settledPanel(page: Page) {
  await eventually(async () => Math.round((await new ItemPanel(page).root().boundingBox())?.x ?? 0), VIEWPORT.width - 600);
}

async function settledBoard(page: Page) {
  await new Board(page).column("To do").locator("[data-testid=card]").first().waitFor();
}

describe("signing in", () => {
  it("signs in from the printed link, keeps the session in the tab, and signs out", async () => {
    const page = await open("/");
    await page.getByRole("heading", { name: "Sign in to pm" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/sign-in.png` });

    // The printed link lands on the demo project's board (its only project).
    await page.goto(server.signInLink);
    const app = new App(page);
    await eventually(() => app.signedInAs().textContent(), "demo · Admin");
    await page.waitForURL(/\/p\/SHOP\/board$/);
    expect(page.url()).not.toContain("token=");
    await settledBoard(page);
    await page.getByRole("link", { name: "Projects" }).click();
    await page.getByRole("table", { name: "Projects" }).getByRole("link", { name: "Web shop" }).waitFor();

    await page.reload();
    await eventually(() => app.signedInAs().textContent(), "demo · Admin");

    await page.getByRole("button", { name: "Account menu" }).click();
    await page.getByRole("menuitem", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to pm" }).waitFor();
  });

  it("sends a refused token back to sign-in with a clear message", async () => {
    const [h, p] = demoToken().split(".");
    const page = await open("/projects", `${h}.${p}.bm90LWEtc2lnbmF0dXJl`);
    await page.getByRole("alert").filter({ hasText: /did not accept this token/ }).waitFor();
    await page.getByRole("heading", { name: "Sign in to pm" }).waitFor();
  });
});

describe("planning", () => {
  it("creates a project (with the server's validation on the field) and an epic → story → task", async () => {
    const page = await open("/projects", demoToken());
    await page.getByRole("main").getByRole("button", { name: "New project" }).click();
    const dialog = page.getByRole("dialog", { name: "New project" });
    await dialog.getByRole("textbox", { name: "Name" }).fill("Mobile app");
    await dialog.getByRole("textbox", { name: "Description" }).fill("The iOS and Android apps: offline first.");
    await dialog.getByRole("textbox", { name: "Key" }).fill("1MOB");
    await dialog.getByRole("button", { name: "Create project" }).click();
    // The server's message, next to the field it names.
    await dialog.locator(".mantine-InputWrapper-error").first().waitFor();
    await dialog.getByRole("textbox", { name: "Key" }).fill("MOB");
    await dialog.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/p\/MOB\/backlog$/);

    const backlog = new Backlog(page);
    await page.getByRole("button", { name: "Create an epic" }).click();
    await page.getByRole("textbox", { name: "New epic title" }).fill("Offline mode");
    await page.keyboard.press("Enter");
    await backlog.row(/^MOB-1 Offline mode$/).waitFor();
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "Add story to MOB-1" }).click();
    await page.getByRole("textbox", { name: "New story title" }).fill("Queue changes while offline");
    await page.keyboard.press("Enter");
    await backlog.row(/^MOB-2 Queue changes while offline$/).waitFor();
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "Add task to MOB-2" }).click();
    await page.getByRole("textbox", { name: "New task title" }).fill("Retry with backoff");
    await page.keyboard.press("Enter");
    await backlog.row(/^MOB-3 Retry with backoff$/).waitFor();

    const task = await item("MOB-3");
    expect(task.ancestors.map((a) => a.key).sort()).toEqual(["MOB-1", "MOB-2"]);

    // Someone re-keys the project: the open page follows to the new keys.
    await backlog.row(/^MOB-3 /).click();
    await page.waitForURL(/\/p\/MOB\/backlog\/MOB-3$/);
    const admin = await protocolClient(server.addr, server.token("alice", "admin"));
    const project = (await admin.send({ case: "getProject", value: { project: "mob" } }, "project")).project!;
    await admin.send({ case: "updateProject", value: { projectId: project.id, version: project.version, key: "APP" } }, "project");
    admin.close();
    await page.waitForURL(/\/p\/APP\/backlog\/APP-3$/);
    await backlog.row(/^APP-2 Queue changes while offline$/).waitFor();

    await page.getByRole("link", { name: "Projects" }).click();
    const projects = page.getByRole("table", { name: "Projects" });
    await projects.getByRole("link", { name: "Mobile app" }).waitFor();
    await eventually(() => projects.getByRole("cell", { name: /^\d+\+?$/ }).count(), 2);
    // The sidebar unfolds the project just visited: wait for its transition, not a fixed time.
    // A transition replaced midway rejects its `finished` with AbortError: count it as done.
    await page.evaluate(() =>
      Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined))),
    );
    await page.screenshot({ path: `${SHOTS}/projects.png` });
  });
});

describe("two people on one board", () => {
  it("sees a drag, an edited title and a new comment from the other without reloading", async () => {
    const ann = await open("/p/SHOP/board", demoToken());
    const bob = await open("/p/SHOP/board", server.token("alice", "editor"));
    await settledBoard(ann);
    await settledBoard(bob);
    await ann.mouse.move(0, 0);
    await ann.screenshot({ path: `${SHOTS}/board.png` });

    const annBoard = new Board(ann);
    const bobBoard = new Board(bob);
    const target = annBoard.column("In progress").locator("[data-testid=card]").first();
    const targetKey = await target.getAttribute("data-key");
    await annBoard.drag("SHOP-15", target);
    await annBoard.cardIn("In progress", "SHOP-15").waitFor();
    // It lands in the same place on the other board: the same order in the column.
    await bobBoard.cardIn("In progress", "SHOP-15").waitFor();
    const order = (b: Board) => b.column("In progress").locator("[data-testid=card]").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    await eventually(() => order(bobBoard), await order(annBoard));
    expect((await order(annBoard)).slice(0, 2)).toEqual(["SHOP-15", targetKey]);
    expect((await item("SHOP-15")).workItem?.status).toBe(3);

    // An edited title.
    await annBoard.card("SHOP-15").click();
    await ann.waitForURL(/\/p\/SHOP\/board\/SHOP-15$/);
    await new ItemPanel(ann).setTitle("Saved cards and wallets");
    await eventually(() => bobBoard.card("SHOP-15").getByText("Saved cards and wallets").count(), 1);

    // A new comment, live in the other's open panel.
    await bobBoard.card("SHOP-15").click();
    await new ItemPanel(bob).title().waitFor();
    await new ItemPanel(ann).addComment("Shipping this on **Friday**.");
    await new ItemPanel(bob).comment("Shipping this on Friday.").waitFor();
    await eventually(() => ann.getByRole("textbox", { name: "New comment" }).inputValue(), "");
    await ann.mouse.move(0, 0);
    await new ItemPanel(ann).root().locator(".mantine-ScrollArea-viewport").first().evaluate((e) => e.scrollTo(0, 0));
    await ann.screenshot({ path: `${SHOTS}/work-item.png` });

    // The item's history, read over /ws.
    await new ItemPanel(ann).root().getByRole("tab", { name: "History" }).click();
    await new ItemPanel(ann).root().getByText(/changed title from .* to Saved cards and wallets/).waitFor();

    const dark = await open("/p/SHOP/backlog", demoToken(), { colorScheme: "dark" });
    await new Backlog(dark).row(/^SHOP-1 /).waitFor();
    await dark.getByRole("row").nth(1).click();
    await new ItemPanel(dark).title().waitFor();
    await settledPanel(dark);
    await dark.screenshot({ path: `${SHOTS}/backlog-dark.png` });

    const light = await open("/p/SHOP/backlog", demoToken());
    await new Backlog(light).row(/^SHOP-1 /).waitFor();
    await light.screenshot({ path: `${SHOTS}/backlog.png` });
  });
});

describe("a conflicting edit", () => {
  it("is shown when someone changed the text being typed, and resolved by applying the user's version", async () => {
    const page = await open("/p/SHOP/board/SHOP-23", demoToken());
    const panel = new ItemPanel(page);
    await panel.title().waitFor();
    await panel.root().getByText("Part of Guest checkout.").click();
    await panel.root().getByRole("textbox", { name: "Description" }).fill("Cover the guest path end to end.");

    // Meanwhile someone else changes the description (and the priority).
    const other = await protocolClient(server.addr, server.token("bob", "editor"));
    const w = (await other.send({ case: "getWorkItem", value: { workItem: "SHOP-23" } }, "workItemDetail")).workItem!;
    await other.send({ case: "updateWorkItem", value: { workItemId: w.id, version: w.version, description: "Only the happy path.", priority: 1 } }, "workItem");
    other.close();
    await eventually(() => panel.root().getByRole("textbox", { name: "Priority" }).inputValue(), "Critical");

    await panel.root().getByRole("button", { name: "Save description" }).click();
    const dialog = page.getByRole("dialog", { name: /SHOP-23 was changed by bob/ });
    await dialog.getByText("Only the happy path.").waitFor();
    await dialog.getByText("Cover the guest path end to end.").waitFor();
    await page.screenshot({ path: `${SHOTS}/conflict.png` });
    await dialog.getByRole("button", { name: "Apply mine" }).click();
    await eventually(async () => (await item("SHOP-23")).workItem?.description, "Cover the guest path end to end.");
    expect((await item("SHOP-23")).workItem?.priority).toBe(1);
  });
});

describe("a refused edit", () => {
  it("rolls back and shows the server's message under the field it names", async () => {
    const page = await open("/p/SHOP/board/SHOP-20", demoToken());
    const panel = new ItemPanel(page);
    await panel.title().waitFor();
    // A story under an epic cannot become a task: a task's parent is a story. The server names
    // `parent_id`, so the message appears under Parent.
    await panel.root().getByRole("textbox", { name: "Type" }).click();
    await page.getByRole("option", { name: "Task" }).click();
    const parent = panel.root().locator(".mantine-InputWrapper-root").filter({ has: page.getByRole("textbox", { name: "Parent" }) });
    await parent.locator(".mantine-InputWrapper-error").filter({ hasText: /parent/ }).waitFor();
    await eventually(() => panel.root().getByRole("textbox", { name: "Type" }).inputValue(), "Story");
    expect((await item("SHOP-20")).workItem?.type).toBe(2);
  });
});

describe("roles", () => {
  it("shows a viewer no edit affordances", async () => {
    const page = await open("/p/SHOP/board", server.token("dave", "viewer"));
    await settledBoard(page);
    expect(await page.getByRole("button", { name: /^Add item to/ }).count()).toBe(0);
    await new Board(page).card("SHOP-17").click();
    const panel = new ItemPanel(page);
    await panel.title().waitFor();
    expect(await panel.title().getAttribute("readonly")).not.toBeNull();
    expect(await panel.root().getByRole("textbox", { name: "New comment" }).count()).toBe(0);
    expect(await panel.root().getByRole("button", { name: "Delete item" }).count()).toBe(0);
    await page.goto(`${server.url}/projects`);
    expect(await page.getByRole("main").getByRole("button", { name: "New project" }).isDisabled()).toBe(true);
  });
});

/**
 * While the page is cut off from its server, `meanwhile` writes through another server process on
 * the same data directory but another port, which the page does not know: deterministically "a
 * change another client made while it was away".
 */
async function whileAway(meanwhile: (addr: string) => Promise<void>) {
  const { addr } = await server.start("127.0.0.1:0");
  await meanwhile(addr);
  await server.stop("SIGTERM");
  await server.start(); // the original address again
}

describe("a sprint, two people", () => {
  it("is planned by dragging, started, worked and completed, and the other follows every step live", async () => {
    // A project of its own: PLAN-1..4, estimated, to do; alice is a member.
    const admin = await protocolClient(server.addr, server.token("demo", "admin"));
    const project = (await admin.send({ case: "createProject", value: { key: "PLAN", title: "Planning" } }, "project")).project!;
    await admin.send({ case: "addMember", value: { projectId: project.id, userId: "alice", role: ProjectRole.EDITOR } }, "member");
    for (const [title, points] of [["Cart badge", 3], ["Coupon field", 5], ["Gift wrap", 8], ["Order notes", 2]] as const) {
      await admin.send(
        { case: "createWorkItem", value: { projectId: project.id, type: WorkItemType.TASK, title, description: "", status: WorkItemStatus.TODO, storyPoints: points } },
        "workItem",
      );
    }
    admin.close();

    const ann = await open("/p/PLAN/sprints", demoToken());
    const bob = await open("/p/PLAN/sprints", server.token("alice", "editor"));
    const a = new SprintsPage(ann);
    const b = new SprintsPage(bob);
    await a.row("PLAN-1").waitFor();
    await b.row("PLAN-1").waitFor();

    // Create a sprint with the dialog (dates from the date inputs).
    await ann.getByRole("button", { name: "New sprint" }).first().click();
    const dialog = ann.getByRole("dialog", { name: "New sprint" });
    await dialog.getByRole("textbox", { name: "Name" }).fill("Sprint 1");
    await dialog.getByRole("textbox", { name: "Goal" }).fill("Checkout extras");
    await dialog.getByLabel("Start").fill("2026-03-02");
    await dialog.getByLabel("End").fill("2026-03-13");
    await dialog.getByRole("button", { name: "Create sprint" }).click();
    await a.sprint("Sprint 1").waitFor();
    await b.sprint("Sprint 1").getByText("2 Mar – 13 Mar").waitFor();

    // Plan by dragging: the totals count the item while it hovers the sprint, before the drop.
    await a.drag("PLAN-3", a.sprint("Sprint 1"), async () => {
      await eventually(() => a.totals("Sprint 1").textContent(), "1 item · 8 pts");
    });
    await a.sprint("Sprint 1").locator('[data-key="PLAN-3"]').waitFor();
    await a.drag("PLAN-2", a.sprint("Sprint 1"));
    await a.drag("PLAN-1", a.sprint("Sprint 1"));
    await eventually(() => a.totals("Sprint 1").textContent(), "3 items · 16 pts");
    await eventually(() => b.totals("Sprint 1").textContent(), "3 items · 16 pts");
    // ... and back to the backlog.
    await a.drag("PLAN-1", a.backlog());
    await eventually(() => b.totals("Sprint 1").textContent(), "2 items · 13 pts");
    await b.backlog().locator('[data-key="PLAN-1"]').waitFor();

    // Start it: the other sees it active.
    await a.sprint("Sprint 1").getByRole("button", { name: "Start" }).click();
    await b.sprint("Sprint 1").getByText("Active").waitFor();

    // Work: PLAN-2 to done on the board; the other's board follows.
    await ann.goto(`${server.url}/p/PLAN/board`);
    await bob.goto(`${server.url}/p/PLAN/board`);
    const annBoard = new Board(ann);
    await annBoard.cardIn("To do", "PLAN-2").waitFor();
    await new Board(bob).cardIn("To do", "PLAN-2").waitFor();
    await annBoard.drag("PLAN-2", annBoard.column("Done"));
    await new Board(bob).cardIn("Done", "PLAN-2").waitFor();

    // Complete it, the unfinished PLAN-3 going to the backlog.
    await ann.goto(`${server.url}/p/PLAN/sprints`);
    await bob.goto(`${server.url}/p/PLAN/sprints`);
    await a.sprint("Sprint 1").getByRole("button", { name: "Complete" }).click();
    const complete = ann.getByRole("dialog", { name: "Complete Sprint 1" });
    await complete.getByText("1 items").first().waitFor();
    await complete.getByRole("radio", { name: "The backlog" }).check();
    await complete.getByRole("button", { name: "Complete sprint" }).click();
    await ann.getByText(/1 done \(5 pts\); 1 unfinished moved to the backlog/).waitFor();
    await b.backlog().locator('[data-key="PLAN-3"]').waitFor();
    await bob.getByRole("button", { name: "Finished sprints" }).click();
    await b.sprint("Sprint 1").getByText("Completed").waitFor();
    // A completed sprint keeps its chart.
    await bob.getByRole("button", { name: "Sprint 1 burndown" }).click();
    await b.sprint("Sprint 1").getByTestId("burndown").waitFor();
    expect((await item("PLAN-3")).workItem?.sprintId).toBeUndefined();
  });

  it("shows the demo's sprints with the active sprint's burndown, and over-capacity while planning", async () => {
    const page = await open("/p/SHOP/sprints", demoToken());
    const sprints = new SprintsPage(page);
    await page.getByTestId("burndown").locator(".recharts-line").first().waitFor();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/sprints.png` });
    const box = (await sprints.sprint("Sprint 14").boundingBox())!;
    await page.screenshot({ path: `${SHOTS}/burndown.png`, clip: { x: box.x - 8, y: box.y - 8, width: box.width + 16, height: 236 } });

    // Planning the next sprint against a capacity: dragging past it shows by how much, mid-drag.
    await page.getByRole("button", { name: "Hide the items of Sprint 14" }).click();
    // A capacity just above what is planned, so one 8-point item tips it over.
    const planned = Number(/· (\d+) pts$/.exec((await sprints.totals("Sprint 15").textContent()) ?? "")?.[1]);
    await sprints.sprint("Sprint 15").getByRole("button", { name: "Sprint 15 actions" }).click();
    await page.getByRole("menuitem", { name: "Set capacity" }).click();
    const capacity = page.getByRole("dialog", { name: "Capacity of Sprint 15" });
    await capacity.getByRole("textbox", { name: "Points the team can take on" }).fill(String(planned + 4));
    await capacity.getByRole("button", { name: "Save" }).click();
    await eventually(async () => (await sprints.totals("Sprint 15").textContent())?.endsWith(` / ${planned + 4} pts`), true);
    expect(await sprints.sprint("Sprint 15").getByTestId("over-capacity").count()).toBe(0);
    await sprints.drag("SHOP-58", sprints.sprint("Sprint 15"), async () => {
      await sprints.sprint("Sprint 15").getByTestId("over-capacity").waitFor();
      await page.screenshot({ path: `${SHOTS}/planning.png` });
    });
    await sprints.sprint("Sprint 15").locator('[data-key="SHOP-58"]').waitFor();

    // Without a pointer: Space picks an item up, arrows carry it over the sprint, Space drops it.
    await sprints.row("SHOP-59").focus();
    await page.keyboard.press("Space");
    for (let i = 0; i < 4; i++) await page.keyboard.press("ArrowDown");
    for (let i = 0; i < 24; i++) await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("Space");
    await sprints.sprint("Sprint 15").locator('[data-key="SHOP-59"]').waitFor();

    // One active sprint per project: starting another is refused, and the server's reason shows.
    await sprints.sprint("Sprint 15").getByRole("button", { name: "Start" }).click();
    await page.locator(".mantine-Notification-root").filter({ hasText: "Could not start Sprint 15" }).waitFor();
    expect(await sprints.sprint("Sprint 15").getByText("Planned").count()).toBe(1);
  });
});

describe("time and links", () => {
  it("runs a timer seen in another tab of the same user, stopped there, with its entry and total", async () => {
    const one = await open("/p/SHOP/board/SHOP-20", demoToken());
    const two = await open("/p/SHOP/board", demoToken());
    await settledBoard(two);
    const panel = new ItemPanel(one);
    await panel.root().getByRole("tab", { name: "Time" }).click();
    await panel.root().getByTestId("time-total").waitFor();
    await eventually(() => panel.root().getByText("Loading…").count(), 0);
    const before = await panel.root().getByTestId("time-entry").count();
    await panel.root().getByRole("button", { name: "Start timer" }).click();
    await one.getByTestId("running-timer").and(one.locator('[data-key="SHOP-20"]')).waitFor();
    // The other tab shows it running, and stops it.
    const other = two.getByTestId("running-timer");
    await eventually(() => other.getAttribute("data-key"), "SHOP-20");
    // By keyboard (the header's controls are reachable without a pointer).
    await other.getByRole("button", { name: "Stop the timer" }).focus();
    await two.keyboard.press("Enter");
    await eventually(() => one.getByTestId("running-timer").count(), 0);
    await eventually(() => panel.root().getByTestId("time-entry").count(), before + 1);
    const total = await panel.root().getByTestId("time-total").textContent();

    // Time logged by hand adds to the total.
    await panel.root().getByRole("button", { name: "Log time" }).click();
    const dialog = one.getByRole("dialog", { name: "Log time on SHOP-20" });
    await dialog.getByRole("textbox", { name: "Minutes" }).fill("45");
    await dialog.getByRole("textbox", { name: "Note" }).fill("Pairing on the address form");
    await dialog.getByRole("button", { name: "Save" }).click();
    await eventually(() => panel.root().getByTestId("time-entry").count(), before + 2);
    await panel.root().getByTestId("time-entry").filter({ hasText: "Pairing on the address form" }).getByText("45m").waitFor();
    expect(await panel.root().getByTestId("time-total").textContent()).not.toBe(total);

    // A timer started again shows in the top bar while the panel shows the entries.
    await panel.root().getByRole("button", { name: "Start timer" }).click();
    await one.getByTestId("running-timer").waitFor();
    await settledPanel(one);
    await one.mouse.move(0, 0);
    await panel.root().getByTestId("item-time").scrollIntoViewIfNeeded();
    await one.screenshot({ path: `${SHOTS}/time.png` });
    await one.getByTestId("running-timer").getByRole("button", { name: "Stop the timer" }).focus();
    await one.keyboard.press("Enter");
    await eventually(() => two.getByTestId("running-timer").count(), 0);

    // My time this week: SHOP-20 with this week's entries.
    await two.getByRole("link", { name: "My time" }).click();
    const week = two.getByRole("table", { name: "My time this week" });
    await week.getByRole("row").filter({ hasText: "SHOP-20" }).waitFor();
    // The sidebar has folded the project's views away (for the screenshot).
    await two.getByRole("link", { name: "Board" }).waitFor({ state: "hidden" });
    await two.mouse.move(0, 0);
    await two.screenshot({ path: `${SHOTS}/my-time.png` });
  });

  it("adds a dependency, shows the blocked marker on the other board, and refuses a cycle with its path", async () => {
    const ann = await open("/p/SHOP/board/SHOP-17", demoToken());
    const bob = await open("/p/SHOP/board", server.token("alice", "editor"));
    await settledBoard(bob);
    const bobBoard = new Board(bob);
    expect(await bobBoard.card("SHOP-17").getByText("Blocked").count()).toBe(0);

    const panel = new ItemPanel(ann);
    const links = panel.root().getByTestId("dependencies");
    await links.getByRole("button", { name: "Add link" }).click();
    await links.getByRole("textbox", { name: "Item to link" }).fill("SHOP-20");
    await ann.getByRole("option", { name: /^SHOP-20 / }).click();
    await links.getByRole("button", { name: "Add", exact: true }).click();
    await links.getByRole("list", { name: "Blocked by" }).getByText("SHOP-20").waitFor();
    await bobBoard.card("SHOP-17").getByText("Blocked").waitFor();
    await ann.mouse.move(0, 0);
    await settledPanel(ann);
    await links.scrollIntoViewIfNeeded();
    await ann.screenshot({ path: `${SHOTS}/dependencies.png` });

    // SHOP-20 blocked by SHOP-17 would close the loop: refused, with the path.
    await ann.goto(`${server.url}/p/SHOP/board/SHOP-20`);
    await links.getByRole("button", { name: "Add link" }).click();
    await links.getByRole("textbox", { name: "Item to link" }).fill("SHOP-17");
    await ann.getByRole("option", { name: /^SHOP-17 / }).click();
    await links.getByRole("button", { name: "Add", exact: true }).click();
    await eventually(async () => /^SHOP-\d+ → SHOP-\d+ → SHOP-\d+$/.test((await links.getByTestId("cycle").textContent()) ?? ""), true);
    const path = (await links.getByTestId("cycle").textContent())!;
    expect(path).toContain("SHOP-17");
    expect(path).toContain("SHOP-20");
    await links.getByRole("list", { name: "Blocking" }).getByText("SHOP-17").waitFor();
  });
});

describe("the activity feed", () => {
  it("shows the sprint, time and link changes, live, and filters by person and item", async () => {
    const page = await open("/p/PLAN/activity", demoToken());
    const feed = page.getByRole("feed", { name: "Activity" });
    await feed.getByText(/status: Active → Completed/).first().waitFor();
    await feed.getByText(/status: Planned → Active/).first().waitFor();

    await page.goto(`${server.url}/p/SHOP/activity`);
    await feed.getByRole("article").first().waitFor();
    // The timer and the link from the tests above.
    await feed.getByRole("article").filter({ hasText: "stopped a timer" }).first().waitFor();
    await feed.getByRole("article").filter({ hasText: "logged time" }).first().waitFor();
    await feed.getByRole("article").filter({ hasText: "added a link" }).first().waitFor();
    // Live: a change made elsewhere appears at the top.
    const other = await protocolClient(server.addr, server.token("carol", "editor"));
    const w = (await other.send({ case: "getWorkItem", value: { workItem: "SHOP-19" } }, "workItemDetail")).workItem!;
    await other.send({ case: "updateWorkItem", value: { workItemId: w.id, version: w.version, title: "Document the order summary" } }, "workItem");
    other.close();
    await eventually(async () => (await feed.getByRole("article").first().textContent())?.includes("Document the order summary"), true);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/activity.png` });

    // By item: SHOP-17's history holds its block.
    await page.getByRole("textbox", { name: "Filter by item" }).fill("shop-17");
    await page.keyboard.press("Enter");
    await feed.getByText("became blocked").first().waitFor();
    await eventually(async () => (await feed.getByRole("article").allTextContents()).every((t) => t.includes("SHOP-17")), true);
    // By person.
    await page.getByRole("textbox", { name: "Filter by item" }).fill("");
    await page.getByRole("textbox", { name: "Filter by person" }).click();
    await page.getByRole("option", { name: "carol" }).click();
    await eventually(async () => (await feed.getByRole("article").allTextContents()).every((t) => t.includes("carol")), true);
  });
});

describe("members", () => {
  it("lets an admin add, re-role and remove members, and shows the last-admin rule", async () => {
    const page = await open("/p/PLAN/members", demoToken());
    const list = page.getByRole("list", { name: "Members" });
    await list.getByRole("listitem", { name: "alice" }).waitFor();
    await page.getByRole("textbox", { name: "User id" }).fill("bob");
    await page.getByRole("button", { name: "Add member" }).click();
    await list.getByRole("listitem", { name: "bob" }).waitFor();
    // The last admin cannot step down: the server's refusal shows on that row.
    await list.getByRole("textbox", { name: "Role of demo" }).click();
    await page.getByRole("option", { name: "Editor" }).click();
    await list.getByRole("listitem", { name: "demo" }).getByRole("alert").waitFor();
    await list.getByRole("button", { name: "Remove bob" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
    await eventually(() => list.getByRole("listitem", { name: "bob" }).count(), 0);
    expect(await axeViolations(page)).toEqual([]);
  });
});

describe("presence", () => {
  it("shows who else views the project and drops one whose tab closed", async () => {
    const ann = await open("/p/SHOP/board", demoToken());
    await settledBoard(ann);
    const context = await browser.newContext({ viewport: VIEWPORT });
    const bob = await context.newPage();
    await bob.goto(`${server.url}/p/SHOP/board#token=${server.token("carol", "editor")}`);
    await settledBoard(bob);
    await ann.getByLabel("carol is viewing").waitFor();
    await bob.getByLabel("demo is viewing").waitFor();
    await context.close();
    await eventually(() => ann.getByLabel("carol is viewing").count(), 0);
  });
});

describe("accessibility", () => {
  it("has no serious or critical axe violations on any screen", async () => {
    const page = await open("/p/SHOP/board", demoToken());
    await settledBoard(page);
    const found: Record<string, string[]> = {};
    const check = async (name: string) => {
      const v = await axeViolations(page);
      if (v.length) found[name] = v;
    };
    await check("board");
    await page.goto(`${server.url}/p/SHOP/board/SHOP-20`);
    await new ItemPanel(page).title().waitFor();
    await settledPanel(page);
    await check("work item");
    await page.goto(`${server.url}/p/SHOP/backlog`);
    await new Backlog(page).row(/^SHOP-1 /).waitFor();
    await check("backlog");
    await page.goto(`${server.url}/p/SHOP/sprints`);
    await page.getByTestId("burndown").locator(".recharts-line").first().waitFor();
    await check("sprints");
    await page.goto(`${server.url}/p/SHOP/activity`);
    await page.getByRole("feed", { name: "Activity" }).getByRole("article").first().waitFor();
    await check("activity");
    await page.goto(`${server.url}/projects`);
    await page.getByRole("table", { name: "Projects" }).getByRole("link", { name: "Web shop" }).waitFor();
    await check("projects");
    const dark = await open("/p/SHOP/sprints", demoToken(), { colorScheme: "dark" });
    await dark.getByTestId("burndown").locator(".recharts-line").first().waitFor();
    const v = await axeViolations(dark);
    if (v.length) found["sprints (dark)"] = v;
    expect(found).toEqual({});
  });
});

describe("a server restart", () => {
  it("shows reconnecting, resumes with a change made meanwhile, and applies an offline edit once", async () => {
    const page = await open("/p/SHOP/board/SHOP-18", demoToken());
    const app = new App(page);
    const panel = new ItemPanel(page);
    await panel.title().waitFor();
    await eventually(() => app.state(), "live");
    const before = await item("SHOP-18");

    await server.stop("SIGKILL");
    await page.getByText("Reconnecting…").first().waitFor();
    await panel.setTitle("Edited while offline");
    await eventually(() => panel.title().inputValue(), "Edited while offline");
    await page.getByText("1 waiting").first().waitFor();

    await whileAway(async (addr) => {
      const other = await protocolClient(addr, server.token("bob", "editor"));
      const w = (await other.send({ case: "getWorkItem", value: { workItem: "SHOP-19" } }, "workItemDetail")).workItem!;
      await other.send({ case: "updateWorkItem", value: { workItemId: w.id, version: w.version, title: "Changed while you were away" } }, "workItem");
      other.close();
    });

    await eventually(() => app.state(), "live");
    await new Board(page).card("SHOP-19").getByText("Changed while you were away").waitFor();
    // The queued edit goes out after the resume: wait for the page to say nothing is pending, then
    // for the server to hold it.
    await eventually(() => page.getByText(/\d+ (waiting|syncing)/).count(), 0);
    await eventually(async () => (await item("SHOP-18")).workItem?.title, "Edited while offline");
    // Applied once: one version step and one title change in the item's history.
    const after = await item("SHOP-18");
    expect(after.workItem!.version).toBe(before.workItem!.version + 1n);
    const conn = await protocolClient(server.addr, server.token("demo", "admin"));
    const history = await conn.send(
      { case: "listActivity", value: { projectId: "SHOP", entity: EntityKind.WORK_ITEM, entityId: after.workItem!.id } },
      "activityList",
    );
    conn.close();
    expect(history.entries.filter((e) => e.field === "title" && e.newValue === "Edited while offline")).toHaveLength(1);
  });

  it("shows a conflicting edit and resolves it by applying the user's change on the current version", async () => {
    const page = await open("/p/SHOP/board/SHOP-22", demoToken());
    const app = new App(page);
    const panel = new ItemPanel(page);
    await panel.title().waitFor();
    await eventually(() => app.state(), "live");

    // A graceful shutdown this time: the server says it is going away.
    await server.stop("SIGTERM");
    await eventually(async () => (await app.state()) !== "live", true);
    await panel.setTitle("Guest checkout (mine)");

    await whileAway(async (addr) => {
      const other = await protocolClient(addr, server.token("carol", "editor"));
      const w = (await other.send({ case: "getWorkItem", value: { workItem: "SHOP-22" } }, "workItemDetail")).workItem!;
      await other.send({ case: "updateWorkItem", value: { workItemId: w.id, version: w.version, title: "Guest checkout (theirs)", priority: 1 } }, "workItem");
      other.close();
    });

    const dialog = page.getByRole("dialog", { name: /SHOP-22 was changed by carol/ });
    await dialog.waitFor();
    const table = dialog.getByRole("table", { name: "Conflicting changes" });
    await table.getByText("Guest checkout (theirs)").waitFor();
    await table.getByText("Guest checkout (mine)").waitFor();
    await dialog.getByRole("button", { name: "Apply mine" }).click();
    await dialog.waitFor({ state: "hidden" });
    await eventually(async () => (await item("SHOP-22")).workItem?.title, "Guest checkout (mine)");
    // Their other change (the priority) stays.
    expect((await item("SHOP-22")).workItem?.priority).toBe(1);
    await eventually(() => panel.title().inputValue(), "Guest checkout (mine)");
  });
});
