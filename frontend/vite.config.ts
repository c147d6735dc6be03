import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the client with hot reload and forwards the API to a running pm-server
// (PM_SERVER, default http://127.0.0.1:8080), so the page and the socket share one origin.
const target = process.env.PM_SERVER ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/ws": { target, ws: true },
      "/api": { target },
      "/health": { target },
      "/ready": { target },
    },
  },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 1500,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
