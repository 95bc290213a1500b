import { defineConfig } from "vite";

// The build lands inside the Python package, so the wheel ships it and `threadline serve`
// answers it at /ui/ without Node.js on the user's machine.
export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "../src/threadline/server/webui",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
});
