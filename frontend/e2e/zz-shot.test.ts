import { it } from "vitest";
import { PmServer } from "/work/e/frontend/e2e/support/server";
import { launch } from "/work/e/frontend/e2e/support/pages";
it("shot", async () => {
  const server = new PmServer();
  await server.start();
  const browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  const tok = server.signInLink.split("#token=")[1];
  await page.goto(`${server.url}/p/SHOP/sprints#token=${tok}`);
  await page.getByTestId("burndown").waitFor();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: "/tmp/sprints.png" });
  await browser.close();
  await server.dispose();
});
