#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need — npm packages and a real mongod —
# then lint, typecheck, and every unit and integration test. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_loglevel=error npm_config_fund=false npm_config_audit=false
start=$(date +%s)

# npm ci only when node_modules does not hold what package-lock.json pins (a user's own npm ci is enough).
if ! node scripts/deps-installed.mjs 2>/dev/null; then
  echo "== npm ci"
  npm ci --no-audit --no-fund 2>&1 | grep -v 'Unknown user config' || true
  node scripts/deps-installed.mjs || { echo "npm ci failed" >&2; exit 1; }
fi

echo "== provisioning MongoDB"
MLM_MONGOD="$(bash scripts/provision-mongodb.sh)"
export MLM_MONGOD
echo "mongod: $MLM_MONGOD ($("$MLM_MONGOD" --version 2>/dev/null | head -1))"

echo "== lint"
npx eslint .
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit

echo "== tests"
mkdir -p .tmp
# Runners that tests start as child processes run this source bundled (see test/support/cli-command.ts).
node scripts/bundle.mjs .tmp/cli-bundle
export MLM_TEST_CLI="$PWD/.tmp/cli-bundle/cli.js"
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
status=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' || status=1
echo "suite wall time: $(( $(date +%s) - start )) s"
exit $status
