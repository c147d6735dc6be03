// Page objects: every selector the browser tests use lives here, by role and label where the app
// offers one (as a screen reader would find things).
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { expect } from "vitest";
import { PATIENCE } from "./server";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** Waits until `f` returns `want` (the app is asynchronous by nature; this never sleeps a fixed time). */
export async function eventually<T>(f: () => Promise<T>, want: T): Promise<void> {
  await expect.poll(f, { timeout: PATIENCE, interval: 50 }).toEqual(want);
}

export class App {
  constructor(readonly page: Page) {}

  connection(): Locator {
    return this.page.getByRole("status", { name: /^Connection:/ }).first();
  }
  signedInAs(): Locator {
    return this.page.getByTestId("signed-in-as");
  }
  async state(): Promise<string | null> {
    return this.connection().getAttribute("data-state");
  }
}

export class Board {
  constructor(readonly page: Page) {}

  column(name: string): Locator {
    return this.page.getByRole("region", { name: `${name} column` });
  }
  card(key: string): Locator {
    return this.page.locator(`[data-testid=card][data-key="${key}"]`);
  }
  cardIn(column: string, key: string): Locator {
    return this.column(column).locator(`[data-testid=card][data-key="${key}"]`);
  }
  /** Drags a card onto another card (it lands in that card's place) or onto a column's end. */
  async drag(key: string, target: Locator): Promise<void> {
    const from = await this.card(key).boundingBox();
    const to = await target.boundingBox();
    if (!from || !to) throw new Error("card or target not visible");
    const m = this.page.mouse;
    await m.move(from.x + from.width / 2, from.y + from.height / 2);
    await m.down();
    // Past the activation distance first, then to the target in steps (dnd-kit follows pointer moves).
    await m.move(from.x + from.width / 2, from.y + from.height / 2 + 12, { steps: 3 });
    await m.move(to.x + to.width / 2, to.y + Math.min(to.height / 2, 30), { steps: 12 });
    await m.move(to.x + to.width / 2, to.y + Math.min(to.height / 2, 30) + 2, { steps: 2 });
    await m.up();
  }
}

export class ItemPanel {
  constructor(readonly page: Page) {}

  root(): Locator {
    return this.page.locator(".mantine-Drawer-content");
  }
  title(): Locator {
    return this.root().getByRole("textbox", { name: "Title" });
  }
  async setTitle(title: string): Promise<void> {
    const t = this.title();
    await t.click();
    await t.fill(title);
    await t.press("Enter");
  }
  comment(text: string): Locator {
    return this.root().getByRole("article").filter({ hasText: text });
  }
  async addComment(text: string): Promise<void> {
    await this.root().getByRole("textbox", { name: "New comment" }).fill(text);
    await this.root().getByRole("button", { name: "Comment", exact: true }).click();
  }
}

export class Backlog {
  constructor(readonly page: Page) {}
  row(text: string | RegExp): Locator {
    return this.page.getByRole("row", { name: text });
  }
}
