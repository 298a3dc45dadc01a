#!/usr/bin/env node
// Command-line face of solc-js for tools that expect a native solc: py-solc-x / ape-solidity and forge.
// Supports `--version` and `--standard-json` (input on stdin or as a file argument) with
// `--base-path`, `--include-path` and `--allow-paths`; imports resolve against those folders and the
// project's node_modules. Anything else is refused with a message, never silently ignored.
"use strict";
const fs = require("fs");
const path = require("path");

const projectRoot = path.resolve(__dirname, "..", "..");
let solc;
try {
  solc = require(require.resolve("solc", { paths: [projectRoot] }));
} catch (e) {
  process.stderr.write("backstop solc: the npm package 'solc' is not installed; run 'make setup'\n");
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { standardJson: false, version: false, basePath: null, includePaths: [], allowPaths: [], files: [] };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if (i + 1 >= args.length) fail(`option ${a} needs a value`);
    return args[++i];
  };
  if (a === "--version") opts.version = true;
  else if (a === "--standard-json") opts.standardJson = true;
  else if (a === "--base-path") opts.basePath = value();
  else if (a === "--include-path") opts.includePaths.push(value());
  else if (a === "--allow-paths") opts.allowPaths.push(...value().split(","));
  else if (a === "-") continue;
  else if (a.startsWith("--")) fail(`option ${a} is not supported by this solc-js wrapper`);
  else opts.files.push(a);
}

function fail(msg) {
  process.stderr.write(`backstop solc: ${msg}\n`);
  process.exit(1);
}

if (opts.version) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!opts.standardJson) fail("only --version and --standard-json are supported");

const roots = [opts.basePath, ...opts.includePaths, ...opts.allowPaths, process.cwd(), path.join(projectRoot, "node_modules"), projectRoot]
  .filter(Boolean)
  .map((p) => path.resolve(p));

function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.isAbsolute(importPath) ? importPath : path.join(root, importPath);
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
}

const input = opts.files.length ? fs.readFileSync(opts.files[0], "utf8") : fs.readFileSync(0, "utf8");
const output = solc.compile(input, { import: findImports });
process.stdout.write(output);
