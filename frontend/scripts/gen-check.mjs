// Regenerates the protocol types into a temporary directory and fails when they differ from the
// committed src/gen: the generated code must always match ../proto.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, walk } from "./gen.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(join(tmpdir(), "pm-gen-"));
try {
  generate(tmp);
  const fresh = [...walk(join(tmp, "src", "gen"))].map((f) => relative(tmp, f));
  const committed = [...walk(join(root, "src", "gen"))].map((f) => relative(root, f));
  const problems = [];
  for (const f of new Set([...fresh, ...committed])) {
    if (!fresh.includes(f)) problems.push(`${f}: no longer generated`);
    else if (!committed.includes(f)) problems.push(`${f}: generated but not committed`);
    else if (readFileSync(join(tmp, f), "utf8") !== readFileSync(join(root, f), "utf8"))
      problems.push(`${f}: differs from a fresh generation`);
  }
  if (problems.length) {
    console.error("gen:check: src/gen is stale; run `npm run gen` and commit:\n  " + problems.join("\n  "));
    process.exit(1);
  }
  console.log(`gen:check: ${fresh.length} generated files match ../proto`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
