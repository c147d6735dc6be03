import { defineConfig } from "vitest/config";

// Browser tests: one real pm-server and one headless Chromium for the whole run (see e2e/).
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ["verbose"],
  },
});
