#!/usr/bin/env bash
# npm test's last two passes, side by side (they share nothing: the lab-real pass starts its own control planes on
# loopback ports, the real-node pass its own netns; each writes its own report and its own .real-tools-usage/ file):
# the lab-based tests a second time on the real control plane (vitest.lab-real.config.ts, issue 13) and the
# real-node tests (vitest.real-node.config.ts, issue 21). Most of either is waiting on real processes, so together
# they take little more than the longer one. The real-node pass prints as it runs; the lab-real pass's output is
# kept and printed after it. Fails when either fails.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp -t groundwork-lab-real.XXXXXX)"
npx vitest run --config vitest.lab-real.config.ts </dev/null >"$log" 2>&1 &
lab_real=$!
# Ctrl-C or a kill of npm test stops both.
trap 'kill -TERM "$lab_real" 2>/dev/null; wait "$lab_real" 2>/dev/null; rm -f "$log"; exit 130' INT TERM
npx vitest run --config vitest.real-node.config.ts </dev/null
real_node=$?
wait "$lab_real"
lab_real_rc=$?
trap - INT TERM
echo
echo "=== the lab-based tests on the real control plane (vitest.lab-real.config.ts), run beside the real-node pass:"
cat "$log"
rm -f "$log"
echo "last passes: lab-real exit $lab_real_rc, real-node exit $real_node"
[ "$lab_real_rc" -eq 0 ] && [ "$real_node" -eq 0 ]
