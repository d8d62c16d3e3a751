# demo.sh: what hack/demo.sh and hack/demo-gitops.sh share: the step
# headings, the cluster's binaries built in the background meanwhile, and
# the example released, built and pushed to dev. Sourced; the caller sets
# root, work and slipway.

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
else
  step() { printf '\n== %s\n' "$*" >&2; }
fi

# start_deps WHAT TARGET...: make TARGET... in the background (deps_pid),
# its log in $work/deps.log, stopped if the demo ends first. WHAT says what
# it builds.
start_deps() {
  deps_what=$1
  shift
  deps_targets=$*
  deps_log=$work/deps.log
  step "$deps_what (make $deps_targets), in the background: built once, then cached; log: $deps_log"
  # A session of its own, so that the demo ending early stops all of the
  # build. (Not a process group leader, setsid runs it in this process: $!
  # is the group.)
  env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS setsid make -C "$root" --no-print-directory "$@" \
    >"$deps_log" 2>&1 </dev/null &
  deps_pid=$!
  trap stop_deps EXIT
}

stop_deps() { if [ -n "$deps_pid" ]; then kill -- "-$deps_pid" 2>/dev/null || true; fi; }

# wait_deps: wait for start_deps' make; if it failed, fail with its log.
wait_deps() {
  local rc=0
  if kill -0 "$deps_pid" 2>/dev/null; then
    step "waiting for $deps_what (make $deps_targets; follow: tail -f $deps_log)"
  fi
  wait "$deps_pid" || rc=$?
  deps_pid=""
  # What it built and how long it took, if anything.
  grep -E '^(k8s|node|flux)\.sh: (built|installed)|^install-deps:' "$deps_log" >&2 || true
  if [ "$rc" -ne 0 ]; then
    echo "make $deps_targets failed (exit $rc); the last lines of $deps_log:" >&2
    tail -n 40 "$deps_log" >&2
    exit 1
  fi
}

# commit_app DIR: makes the example copied into DIR a git repository of its
# own, all of it committed.
commit_app() {
  git -C "$1" init -q -b main
  git -C "$1" add -A
  git -C "$1" -c user.name=Demo -c user.email=demo@localhost commit -q -m "feat: hello service"
}

# ship_to_dev: in the example's directory, the steps up to dev's registry:
# config check, release, version (in $version), the team's own build,
# build and push dev.
ship_to_dev() {
  step "slipway config check"
  "$slipway" config check

  step "slipway release   (tags v0.1.0; on a re-run: already released)"
  "$slipway" release

  step "slipway version"
  version=$("$slipway" version)
  echo "$version"

  step "compile the service for each platform (the team's own build: make dist)"
  make -s dist VERSION="$version"

  step "slipway build   (daemonless, reproducible; on a re-run: up to date)"
  "$slipway" build

  step "slipway push dev"
  "$slipway" push dev
}
