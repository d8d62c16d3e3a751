#!/usr/bin/env bash
# Runs Slipway's fault suite on real parts and prints a table: each fault,
# how many times it was injected, how many of those ended correctly, how
# many lost data (a tag on an incomplete image, a run told it succeeded
# whose result is gone; the goal is 0), and the longest time to recover
# (the next run, or the race itself, until the end state is right).
#
#   hack/faults.sh            (make faults builds bin/slipway first)
#
# The faults: the API server killed and restarted during a rollout wait,
# and answering late; slipway push, promote, deploy (healthy and failing)
# and rollback killed with SIGKILL and run again; two pushes of one version
# from two clones, and two promotions into one target, at once. They run
# against Debian's docker-registry and a control plane of their own
# (hack/testenv/k8s.sh on ports 29443, 29379-29380, 29457, 29459, 29250,
# state in a temporary directory), stopped when they end. As root, also
# on a real node (hack/testenv/node.sh, TestFaultRealNode): the kubelet and
# containerd killed and restarted during a rollout, and slipway deploy
# killed mid-rollout there. The same tests run in make test; this script
# only collects their rows.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(mktemp "${TMPDIR:-/tmp}/slipway-faults.XXXXXX")
trap 'rm -f "$rows"' EXIT
bin=$PWD/bin/slipway
[ -x "$bin" ] || { echo "faults: $bin is missing; run make build (make faults does)" >&2; exit 1; }

status=0
pkgs=(./internal/deploy ./internal/image ./promote)
realnode=0
if [ "$(id -u)" -eq 0 ] && [ "${SLIPWAY_REALNODE:-1}" != 0 ]; then
  realnode=1
  pkgs+=(./internal/testenv)
  hack/testenv/node.sh install
else
  echo "faults: not root (or SLIPWAY_REALNODE=0): the real node's faults are left out" >&2
fi
SLIPWAY_E2E=1 SLIPWAY_REALNODE=$realnode SLIPWAY_FAULTS_OUT=$rows SLIPWAY_BIN=$bin \
  go test -count=1 -p 1 -timeout 30m -run '^(TestFault|TestRace|TestWatchReopens)' \
  "${pkgs[@]}" || status=$?

# Rows are JSON objects with sorted keys: correct, fault, lost,
# recoverySeconds, tries.
awk '
  function field(line, key,   m) {
    if (match(line, "\"" key "\":(\"[^\"]*\"|[0-9.e+-]+)")) {
      m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
      gsub(/^"|"$/, "", m)
      return m
    }
    return ""
  }
  BEGIN {
    printf "%-56s %6s %8s %10s %14s\n", "fault", "tries", "correct", "data lost", "longest recovery"
  }
  {
    printf "%-56s %6d %8d %10d %13.1fs\n", field($0, "fault"), field($0, "tries"), field($0, "correct"),
      field($0, "lost"), field($0, "recoverySeconds")
    tries += field($0, "tries"); correct += field($0, "correct"); lost += field($0, "lost")
  }
  END {
    printf "%-56s %6d %8d %10d\n", "total", tries, correct, lost
    if (NR == 0) { print "faults: no rows: the fault tests did not run" > "/dev/stderr"; exit 1 }
    if (lost > 0 || correct < tries) exit 1
  }
' "$rows" || status=1
exit "$status"
