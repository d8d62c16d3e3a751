#!/usr/bin/env bash
# On a real node (hack/testenv/node.sh; needs root), in one run: command
# start to verdict for a 3-replica rolling update of hello-go, slipway
# deploy with an HTTP check of 5 requests (through the API server's pod
# proxy, at the default interval) against the same deploy without checks.
#   bench/checks.sh [RUNS]     (default 5)
source "$(dirname "$0")/lib.sh"
runs=${1:-5}
real_node_env checks 29
trap '"$node" stop >/dev/null 2>&1; "$k8s" stop >/dev/null 2>&1; rm -rf "$work"' EXIT
real_node_up

proj=$work/hello
hello_project "$proj" "$reg"
cat >>"$proj/slipway.yaml" <<YAML
environments:
  plain: {registry: local, context: slipway-local, namespace: bench-plain, replicas: 3}
  checked:
    registry: local
    context: slipway-local
    namespace: bench-checked
    replicas: 3
    checks: [{http: {path: /, body: '^hello from ', count: 5}}]
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: 60s}
YAML
hello_repo "$proj"

# Both environments get a first revision, so every timed run is an update.
new_version first
slipway deploy plain >/dev/null 2>&1
slipway deploy checked >/dev/null 2>&1 || { echo "bench/checks.sh: the first checked deploy failed" >&2; exit 1; }

# timed_ok VAR CMD...: timed, but a failing deploy ends the benchmark: the
# check must pass for the times to compare.
timed_ok() {
  local -n _o=$1; shift; local a b
  a=$(now); "$@" >/dev/null 2>&1 || { echo "bench/checks.sh: $* failed" >&2; exit 1; }; b=$(now)
  _o+=("$(secs "$a" "$b")")
}

# checked: the checked deploy, its output kept for the checks' own time.
checked() { slipway deploy checked --no-deps >"$work/checked.log" 2>&1; }

p=(); c=(); own=()
for i in $(seq 1 "$runs"); do
  new_version "run $i"
  # Take turns going first, so neither side always meets a warmer node.
  if [ $((i % 2)) -eq 1 ]; then
    timed_ok p slipway deploy plain --no-deps; timed_ok c checked
  else
    timed_ok c checked; timed_ok p slipway deploy plain --no-deps
  fi
  own+=("$(grep -o 'checks passed in [0-9.]*s' "$work/checked.log" | grep -o '[0-9.]*' | head -1)")
done

mp=$(median "${p[@]}"); mc=$(median "${c[@]}"); mo=$(median "${own[@]}")
printf '\nreal node: 3-replica rolling update of hello-go, command start to verdict, median of %d runs\n' "$runs"
printf '  slipway deploy, no checks                  %7.3f s\n' "$mp"
printf '  slipway deploy, HTTP check of 5 requests   %7.3f s\n' "$mc"
printf '  added by the check                         %+7.3f s   (goal <= +2)\n' "$(awk -v a="$mc" -v b="$mp" 'BEGIN { print a - b }')"
printf '  the checks themselves, as deploy reports   %7.1f s   (5 requests, 250ms apart)\n' "$mo"
