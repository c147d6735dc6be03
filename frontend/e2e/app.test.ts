// The web client in headless Chromium against one real pm-server (fresh data directory, demo
// tenant). Data is set up and checked through the protocol; the UI is driven only for what each
// test is about. Screenshots for the README are written to docs/screenshots/.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityKind } from "../src/gen/pm/v1/entities_pb";
import { App, Backlog, Board, ItemPanel, eventually, launch } from "./support/pages";
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
