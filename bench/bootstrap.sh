#!/usr/bin/env bash
# slipway pipeline bootstrap over 1,000 generated projects: the seed script
# for all of them, timed, twice, checked byte for byte.
#   bench/bootstrap.sh [PROJECTS]     (default 1000; goal: under 1 s, byte-stable)
source "$(dirname "$0")/lib.sh"
n=${1:-1000}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
need_slipway
{
  echo "projects:"
  for i in $(seq 1 "$n"); do echo "  - {name: project-$i, repo: 'https://git.example.com/team/project-$i.git'}"; done
} >"$work/projects.yaml"
t=()
timed t sh -c "slipway pipeline bootstrap --projects '$work/projects.yaml' > '$work/seed1.groovy'"
timed t sh -c "slipway pipeline bootstrap --projects '$work/projects.yaml' > '$work/seed2.groovy'"
stable=no; cmp -s "$work/seed1.groovy" "$work/seed2.groovy" && stable=yes
printf '\npipeline bootstrap of %d projects (%s KB of Job DSL)\n' "$n" "$(( $(wc -c <"$work/seed1.groovy") / 1024 ))"
printf '  first run                %7.3f s   (goal < 1.000)\n' "${t[0]}"
printf '  second run               %7.3f s\n' "${t[1]}"
printf '  byte-stable              %7s\n' "$stable"
