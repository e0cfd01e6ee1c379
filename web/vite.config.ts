/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The app is served by the service itself (WEB_DIR) at `/`; in `npm run dev`, Vite proxies the
// API to a service on :8080.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: {
    port: 5173,
    proxy: { "/api": "http://localhost:8080" },
  },
  test: { include: ["src/**/*.test.ts", "src/**/*.test.tsx"], environment: "node" },
});
