#!/usr/bin/env bash
# Runs every Go fuzz target of the project for a fixed time each.
#
#   hack/fuzz.sh [PATTERN]     only targets whose name matches PATTERN (grep -E)
#
# FUZZTIME (default 30s) is each target's time, FUZZ_PARALLEL (default 1) its
# workers. A failing input is written to the package's testdata/fuzz/NAME/,
# where `go test` (and so `make test`) runs it from then on: commit it with
# the fix. The committed corpus and the seeds of each target run in every
# `make test`; this script explores beyond them.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-.}
fuzztime=${FUZZTIME:-30s}
parallel=${FUZZ_PARALLEL:-1}
failed=()
ran=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "fuzz: $pkg $name for $fuzztime" >&2
  ran=$((ran + 1))
  if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel"; then
    failed+=("$pkg $name")
  fi
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' --include='*_test.go' . |
  sed -E 's/^\.\/(.*):func (Fuzz[A-Za-z0-9_]+).*/\1:\2/' | grep -E ":.*${pattern}" | sort)
echo "fuzz: $ran targets, ${#failed[@]} failed" >&2
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
