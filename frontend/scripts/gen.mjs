// Generates the protobuf-es types of ../proto into <out>/src/gen (default: this package) and
// marks each file as generated. `gen-check.mjs` runs it into a temporary directory and compares.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const HEADER =
  "// Code generated from ../proto by `npm run gen` (protoc-gen-es). DO NOT EDIT.\n";

export function generate(out = root) {
  const buf = join(root, "node_modules", ".bin", "buf");
  execFileSync(buf, ["generate", join(root, "..", "proto"), "--template", join(root, "buf.gen.yaml"), "-o", out], {
    cwd: root,
    stdio: "inherit",
  });
  for (const file of walk(join(out, "src", "gen"))) {
    const text = readFileSync(file, "utf8");
    if (!text.startsWith(HEADER)) writeFileSync(file, HEADER + text);
  }
}

export function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) generate();
