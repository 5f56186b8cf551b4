#!/usr/bin/env bash
# Runs a paged operator command to its end: `npx convex run <function> <args>`, then again with
# "cursor" set to the page's `continueCursor` (a string, or the resync's object) until a page says
# `isDone`, and prints every page, in order, as one JSON array (docs/operations.md, step 7).
#
#   scripts/run-to-end.sh <module:function> ['<args json>'] [npx convex run options, e.g. --prod]
#   scripts/run-to-end.sh migrations:exportV1ParticipantData --prod > v1_backup.json
#   scripts/run-to-end.sh audit:verifyAuditChain '{"examId": "…"}' --prod
#
# Exit 0: every page fetched, none with "isValid": false. Exit 2: every page fetched (and printed),
# some with "isValid": false (verifyAuditChain, verifyExamHeaders, repairExamHeaders). Exit 1: a call
# failed (its error is on stderr), or its result is not a page (no isDone; isDone false without a
# continueCursor, as migrateExamParticipants, which keeps its cursor itself: use startMigration; or
# the same cursor again, which would never end). CONVEX_RUN replaces `npx convex run` (tests/runToEnd.test.ts).
set -euo pipefail

if [[ $# -lt 1 || $1 == -* ]]; then
  echo "usage: $0 <module:function> ['<args json>'] [npx convex run options]" >&2
  exit 1
fi
fn=$1
shift
args='{}'
if [[ $# -gt 0 && $1 != -* ]]; then
  args=$1
  shift
fi
if ! node -e 'const a = JSON.parse(process.argv[1]); if (a === null || typeof a !== "object" || Array.isArray(a)) process.exit(1)' "$args" 2>/dev/null; then
  echo "run-to-end: the arguments must be a JSON object (JSON, not JSON5): $args" >&2
  exit 1
fi
read -r -a run <<<"${CONVEX_RUN:-npx convex run}"
pages=$(mktemp -d)
trap 'rm -rf "$pages"' EXIT

# Reads page $2 (the answer to args $1, call $3): prints "valid" or "invalid" (its isValid), a space and
# the next call's args (nothing after the last page), or fails naming the call.
read_page() {
  node -e '
    const [args, file, call] = process.argv.slice(1);
    const fail = (why) => { console.error(`run-to-end: call ${call}: ${why}`); process.exit(1); };
    const text = require("node:fs").readFileSync(file, "utf8");
    let page;
    try { page = JSON.parse(text); } catch { fail(`its output is not JSON: ${text.slice(0, 200)}`); }
    if (typeof page !== "object" || page === null || typeof page.isDone !== "boolean") fail("its result has no isDone: not a paged command");
    const validity = page.isValid === false ? "invalid" : "valid";
    if (page.isDone) { console.log(`${validity} `); process.exit(0); }
    if (page.continueCursor === undefined || page.continueCursor === null) fail("isDone is false and there is no continueCursor to pass back");
    const before = JSON.parse(args);
    if (JSON.stringify(before.cursor) === JSON.stringify(page.continueCursor)) fail("continueCursor is the cursor it was called with: it would never end");
    console.log(`${validity} ${JSON.stringify({ ...before, cursor: page.continueCursor })}`);
  ' "$1" "$2" "$3"
}

n=0
invalid=0
while :; do
  n=$((n + 1))
  if ! "${run[@]}" "$fn" "$args" "$@" >"$pages/$n"; then
    echo "run-to-end: call $n ($fn $args) failed; pages 1-$((n - 1)) were fetched" >&2
    exit 1
  fi
  out=$(read_page "$args" "$pages/$n" "$n ($fn $args)")
  [[ ${out%% *} == valid ]] || invalid=$((invalid + 1))
  args=${out#* }
  [[ -n $args ]] || break
done

printf '['
for ((i = 1; i <= n; i++)); do
  [[ $i -eq 1 ]] || printf ','
  cat "$pages/$i"
done
printf ']\n'
echo "run-to-end: $fn: $n call(s), done; $invalid page(s) with isValid false" >&2
[[ $invalid -eq 0 ]] || exit 2
