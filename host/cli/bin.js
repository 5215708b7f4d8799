#!/usr/bin/env node
// Entry point of the xs-ota command: runs the TypeScript sources through tsx,
// with the repository's tsconfig so that firmware codec specifiers resolve.
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register({ tsconfig: fileURLToPath(new URL("../../tsconfig.json", import.meta.url)) });
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
