#!/usr/bin/env bash
# Flux CD's source-controller and kustomize-controller for Slipway's GitOps
# end-to-end tests, run out of cluster against the control plane of
# hack/testenv/k8s.sh (or the real node's). Everything listens on 127.0.0.1.
#
#   flux.sh install   build both controllers into the cache (once per version;
#                     a cold build takes 8 to 14 minutes on 2 cores)
#   flux.sh start     install if needed, apply the CRDs, create the namespace,
#                     start both controllers, wait until both are ready;
#                     prints the env file's path on stdout
#   flux.sh stop      stop the controllers this script started (by recorded PID)
#   flux.sh status    which controllers run
#   flux.sh env       print the env file (ports, namespace), once started
#   flux.sh bin       print the directory holding the controllers
#
# Binaries are built from Go modules (no prebuilt downloads), each through a
# throwaway wrapper module, never the project's go.mod: a controller's go.mod
# replaces its own api module with ./api, which is not in the module zip, so
# neither `go build` in the unpacked module nor `go install NAME@VERSION`
# works. The wrapper requires the controller and its api module at the same
# version and copies the controller's replace lines that name a module
# version. They are cached by version, with the CRDs from the controllers'
# module zips (config/crd/bases), in
#   ${SLIPWAY_CACHE:-$HOME/.cache/slipway}/testenv/flux-<version>/
# State (env file, logs, PIDs, artifact storage) lives in
#   ${SLIPWAY_TESTENV:-/tmp/slipway-testenv}/flux/
#
# The controllers authenticate with the admin kubeconfig k8s.sh writes under
# SLIPWAY_TESTENV (never $KUBECONFIG, which may name a real cluster), so no
# RBAC objects are needed; no leader election; no notification-controller
# (--events-addr is empty, so only Kubernetes Events are recorded). Both controllers default to :8080 and
# :9440 on every interface, so each gets its own free ports on 127.0.0.1,
# written to the env file:
#   SC_METRICS SC_HEALTH SC_STORAGE KC_METRICS KC_HEALTH FLUX_NS FLUX_STORAGE_URL
#
# Environment overrides:
#   SLIPWAY_FLUX_VERSION (v1.9.6; both controllers share it)
#   SLIPWAY_FLUX_NS (flux-system)     SLIPWAY_START_TIMEOUT (seconds, 90)
#   FLUX_SC_ARGS, FLUX_KC_ARGS        extra flags for source-controller and
#                                     kustomize-controller, split on spaces
#
# GitOps mode wants kustomize-controller started with
#   FLUX_KC_ARGS=--feature-gates=CancelHealthCheckOnNewRevision=true
# Without it (the default in v1.9.6), a revision whose pods crash-loop holds
# the health check until the Kustomization's timeout, and a revert pushed in
# the meantime waits behind it (measured: 126 s instead of 17 s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
flux_version=${SLIPWAY_FLUX_VERSION:-v1.9.6}

cache_root=${SLIPWAY_CACHE:-${HOME:-/root}/.cache/slipway}
testenv=${SLIPWAY_TESTENV:-/tmp/slipway-testenv}
# Absolute paths: they are part of the command lines that identify our processes.
case $cache_root in /*) ;; *) cache_root=$PWD/$cache_root ;; esac
case $testenv in /*) ;; *) testenv=$PWD/$testenv ;; esac

cache=$cache_root/testenv/flux-$flux_version
bin=$cache/bin
crds=$cache/crds
state=$testenv/flux
proc_dir=$state
# shellcheck source=hack/lib/proc.sh
source "$here/../lib/proc.sh"
envfile=$state/flux.env
flux_ns=${SLIPWAY_FLUX_NS:-flux-system}
start_timeout=${SLIPWAY_START_TIMEOUT:-90}

# Start order; stop goes the other way.
controllers=(source-controller kustomize-controller)
# The CRDs both controllers watch: every source kind (source-controller runs a
# reconciler for each) and Kustomization.
crd_files=(
  kustomize.toolkit.fluxcd.io_kustomizations.yaml
  source.toolkit.fluxcd.io_buckets.yaml
  source.toolkit.fluxcd.io_externalartifacts.yaml
  source.toolkit.fluxcd.io_gitrepositories.yaml
  source.toolkit.fluxcd.io_helmcharts.yaml
  source.toolkit.fluxcd.io_helmrepositories.yaml
  source.toolkit.fluxcd.io_ocirepositories.yaml
)

log() { echo "flux.sh: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# overrides NAME: "MODULE VERSION" pairs for modules the controller pins at a
# version the Go module proxy refuses ("403 This module version is not
# available"), with the nearest version it serves. Find them with
#   go mod tidy -e 2>&1 | grep 403
# source-controller v1.9.6 pins github.com/fluxcd/pkg/artifact v0.18.3
# (v0.18.2 and v0.18.3 are refused; v0.18.1 differs from v0.18.2 only in
# fluxcd/pkg/oci v0.68.0 -> v0.68.1). github.com/fluxcd/pkg/helmtestserver
# v0.40.2 is refused too, but only source-controller's tests import it, so
# `go mod tidy -e` passes over it and the build never needs it.
overrides() {
  case $flux_version/$1 in
    v1.9.6/source-controller) echo "github.com/fluxcd/pkg/artifact v0.18.1" ;;
  esac
}

# ---------------------------------------------------------------- install

installed() {
  local c f
  for c in "${controllers[@]}"; do
    [ -x "$bin/$c" ] && [ "$(cat "$bin/.$c-version" 2>/dev/null)" = "$flux_version" ] || return 1
  done
  for f in "${crd_files[@]}"; do [ -f "$crds/$f" ] || return 1; done
}

# wrapper_gomod NAME DIR: the wrapper go.mod for the controller unpacked in DIR.
wrapper_gomod() {
  local name=$1 dir=$2 mod=github.com/fluxcd/$1 gover
  gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$dir/go.mod")
  [ -n "$gover" ] || die "no go directive in $mod@$flux_version's go.mod"
  printf 'module slipway.local/testenv-flux-build/%s\n\ngo %s\n\n' "$name" "$gover"
  printf 'require (\n\t%s %s\n\t%s/api %s\n)\n\n' "$mod" "$flux_version" "$mod" "$flux_version"
  # Every replace whose target is a module version, from `replace a => b v`
  # lines and `replace ( ... )` blocks; the ./api one (a directory) is dropped.
  awk '/^replace \(/ { b = 1; next } b && /^\)/ { b = 0; next }
       b && /=>/ { print "replace " $0; next }
       /^replace [^(]/ { print }' "$dir/go.mod" |
    awk '$NF !~ /^\.\.?\// && $NF ~ /^v/' | sed 's/^replace[[:space:]]*/replace /'
  local pair
  overrides "$name" | while read -r pair; do
    set -- $pair
    printf 'replace %s => %s %s // the pinned version is refused by the module proxy\n' "$1" "$1" "$2"
  done
}

# module_dir NAME: the controller's module, unpacked in the module cache.
# Run it outside any module, so that the caller's (the project's go.mod) is
# never read or written.
module_dir() {
  local mod=github.com/fluxcd/$1 dir
  dir=$(go mod download -json "$mod@$flux_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/go.mod" ] || die "could not fetch $mod@$flux_version from the module proxy"
  echo "$dir"
}

# build NAME DIR: build one controller, unpacked in DIR, in a fresh wrapper
# module of its own.
build() {
  local name=$1 dir=$2 mod=github.com/fluxcd/$1 t0 t1
  t0=$(now)
  mkdir -p "$work/$name"
  cd "$work/$name"
  wrapper_gomod "$name" "$dir" >go.mod
  printf '//go:build tools\n\n// Package tools pins %s for the test environment.\npackage tools\n\nimport _ "%s"\n' \
    "$name" "$mod" >tools.go
  log "resolving dependencies of $name (go mod tidy -e)"
  # -e: test-only imports of the controller's packages may be refused by the
  # proxy; they are not needed to build the command.
  if ! nice -n 15 go mod tidy -e 2>tidy.log; then
    tail -n 20 tidy.log >&2
    die "go mod tidy failed for $mod@$flux_version"
  fi
  grep -h ' 403 ' tidy.log | sed 's/^/flux.sh: refused by the proxy (not needed to build): /' >&2 || true
  cp go.mod "$cache/$name.go.mod"
  t1=$(now)
  log "building $name"
  nice -n 15 go build -p 2 -trimpath -ldflags "-s -w" -o "$bin/$name.tmp" "$mod"
  mv -f "$bin/$name.tmp" "$bin/$name"
  echo "$flux_version" >"$bin/.$name-version"
  echo "$name $flux_version: tidy $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s," \
    "build $(since "$t1") s, $(du -m "$bin/$name" | cut -f1) MiB ($(go env GOVERSION), $(nproc) cores," \
    "$(date -u +%FT%TZ))" >>"$cache/build-times.txt"
  log "built $name in $(since "$t0") s"
  cd "$work"
}

# install_controllers: build what is missing, and take the CRDs from the
# controllers' module zips (config/crd/bases; the api modules hold none).
install_controllers() {
  installed && return 0
  command -v go >/dev/null || die "go is not installed"
  # One build at a time per cache; a second caller waits and then finds it done.
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock 8
  if installed; then exec 8>&-; return 0; fi
  local t0 c dir
  t0=$(now)
  mkdir -p "$bin" "$crds"
  work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-flux-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cd "$work"
  export CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
  for c in "${controllers[@]}"; do
    log "fetching github.com/fluxcd/$c@$flux_version"
    dir=$(module_dir "$c")
    if [ ! -x "$bin/$c" ] || [ "$(cat "$bin/.$c-version" 2>/dev/null)" != "$flux_version" ]; then
      build "$c" "$dir"
    fi
    # -f: the module cache's files are read-only, and so are their copies.
    cp -f "$dir"/config/crd/bases/*.yaml "$crds/"
    chmod 0644 "$crds"/*.yaml
  done
  cd /
  rm -rf "$work"
  trap - EXIT
  installed || die "install finished but binaries or CRDs are missing in $cache"
  exec 8>&-
  log "installed in $cache ($(since "$t0") s)"
}

# ---------------------------------------------------------------- processes

# free_port: a port on 127.0.0.1 nothing listens on, not handed out before in
# this run, from the kernel's ephemeral range: the fixed ports of the other
# test environments (k8s.sh, the tests' control planes) all lie below it. An
# outgoing connection may still take one meanwhile; start then tries again.
picked=" "
free_port() {
  local lo hi p
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range || { lo=32768 hi=60999; }
  while :; do
    p=$(shuf -i "$lo-$hi" -n 1)
    case $picked in *" $p "*) continue ;; esac
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    picked+="$p "
    echo "$p"
    return 0
  done
}

args_of() { # NAME: its command line, one argument a line
  local extra=() a
  case $1 in
    source-controller)
      read -r -a extra <<<"${FLUX_SC_ARGS:-}"
      printf '%s\n' "$bin/source-controller" --watch-all-namespaces=true \
        --storage-path="$state/storage" \
        --storage-addr="127.0.0.1:$SC_STORAGE" --storage-adv-addr="127.0.0.1:$SC_STORAGE" \
        --metrics-addr="127.0.0.1:$SC_METRICS" --health-addr="127.0.0.1:$SC_HEALTH" \
        --events-addr= --log-level=info --log-encoding=json
      ;;
    kustomize-controller)
      read -r -a extra <<<"${FLUX_KC_ARGS:-}"
      printf '%s\n' "$bin/kustomize-controller" --watch-all-namespaces=true \
        --metrics-addr="127.0.0.1:$KC_METRICS" --health-addr="127.0.0.1:$KC_HEALTH" \
        --events-addr= --log-level=info --log-encoding=json
      ;;
  esac
  for a in "${extra[@]}"; do printf '%s\n' "$a"; done
}

health_port() {
  case $1 in source-controller) echo "$SC_HEALTH" ;; kustomize-controller) echo "$KC_HEALTH" ;; esac
}

launch() {
  local c=$1 args=() pid i
  mapfile -t args < <(args_of "$c")
  printf '%s\0' "${args[@]}" >"$state/$c.cmdline"
  launched+=("$c")
  # RUNTIME_NAMESPACE names the controllers' own namespace; the artifact URL
  # kustomize-controller fetches is already on 127.0.0.1, but
  # SOURCE_CONTROLLER_LOCALHOST pins it there whatever the advertised address.
  RUNTIME_NAMESPACE=$flux_ns SOURCE_CONTROLLER_LOCALHOST=127.0.0.1:$SC_STORAGE KUBECONFIG=$kubeconfig \
    setsid "${args[@]}" >"$state/$c.log" 2>&1 </dev/null 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$state/$c.pid"
  # The recorded command line only matches once setsid has exec'd the
  # binary; one that exits at once is caught by the wait for readiness.
  for i in $(seq 1 100); do
    running "$c" && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
}

# fail NAME MESSAGE: show the controller's log, stop what was started, exit.
fail() {
  local c=$1
  log "$c: $2"
  if [ -s "$state/$c.log" ]; then
    log "last lines of $state/$c.log:"
    tail -n 30 "$state/$c.log" >&2
  fi
  stop_all >/dev/null 2>&1 || true
  exit 1
}

# ready NAME: does the controller answer /readyz? (bash only: no curl needed)
ready() {
  local port
  port=$(health_port "$1")
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  local line
  IFS= read -r -t 2 line <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  [[ $line == "HTTP/1."[01]" 200"* ]]
}

timed_out() { awk -v a="$t_start" -v b="$(now)" -v t="$start_timeout" 'BEGIN { exit !(b - a > t) }'; }

kubectl_() { "$kubectl" --kubeconfig="$kubeconfig" --request-timeout=30s "$@"; }

find_kubectl() {
  kubectl=$("$here/k8s.sh" bin)/kubectl
  [ -x "$kubectl" ] || kubectl=$(command -v kubectl) || die "no kubectl: run hack/testenv/k8s.sh install"
}

# start_key: what the running controllers must have been started with to be
# kept: the same version, flags and kubeconfig (k8s.sh writes a new one, with
# a new CA, at every start of the control plane).
start_key() {
  printf '%s\n' "$flux_version" "${FLUX_SC_ARGS:-}" "${FLUX_KC_ARGS:-}" "$flux_ns" "$kubeconfig"
  sha256sum <"$kubeconfig"
}

start() {
  local c n=0
  kubeconfig=$testenv/kubeconfig
  [ -f "$kubeconfig" ] || die "no kubeconfig at $kubeconfig: start the control plane first (hack/testenv/k8s.sh start)"
  for c in "${controllers[@]}"; do running "$c" && n=$((n + 1)); done
  if [ "$n" -eq ${#controllers[@]} ] && [ -f "$envfile" ] && start_key | cmp -s - "$state/start.key"; then
    log "already running"
    echo "$envfile"
    return 0
  fi
  if [ "$n" -gt 0 ]; then
    log "restarting: only some controllers run, or with other flags or another cluster"
    stop_all
  fi
  install_controllers
  find_kubectl
  t_start=$(now)
  mkdir -p "$state/storage"
  rm -f "$state"/*.pid "$state"/*.cmdline "$state"/*.log "$envfile" "$state/start.key"

  # Server-side: the larger CRDs overflow client-side apply's annotation.
  local files=()
  for c in "${crd_files[@]}"; do files+=(-f "$crds/$c"); done
  kubectl_ apply --server-side --force-conflicts "${files[@]}" >/dev/null ||
    die "applying the Flux CRDs failed"
  kubectl_ wait --for=condition=Established --timeout="${start_timeout}s" "${files[@]}" >/dev/null ||
    die "the Flux CRDs were not established within ${start_timeout}s"
  kubectl_ get namespace "$flux_ns" >/dev/null 2>&1 || kubectl_ create namespace "$flux_ns" >/dev/null

  local attempt
  for attempt in 1 2 3; do
    launch_all && break
    [ "$attempt" -lt 3 ] || fail "$lost" "no free ports after 3 attempts"
    log "a port was taken meanwhile ($lost); picking new ones"
  done
  cat >"$envfile.tmp" <<ENV
SC_METRICS=$SC_METRICS
SC_HEALTH=$SC_HEALTH
SC_STORAGE=$SC_STORAGE
KC_METRICS=$KC_METRICS
KC_HEALTH=$KC_HEALTH
FLUX_NS=$flux_ns
FLUX_STORAGE_URL=http://127.0.0.1:$SC_STORAGE
FLUX_VERSION=$flux_version
ENV
  start_key >"$state/start.key"
  mv -f "$envfile.tmp" "$envfile"
  log "ready after $(since "$t_start") s: source-controller pid $(cat "$state/source-controller.pid")," \
    "kustomize-controller pid $(cat "$state/kustomize-controller.pid"), namespace $flux_ns"
  echo "$envfile"
}

# launch_all: start both controllers on fresh ports and wait until both are
# ready. Returns 1 (both stopped, $lost named) when one could not bind its
# ports; any other failure ends the script.
launch_all() {
  local c
  SC_METRICS=$(free_port) SC_HEALTH=$(free_port) SC_STORAGE=$(free_port)
  KC_METRICS=$(free_port) KC_HEALTH=$(free_port)
  launched=()
  for c in "${controllers[@]}"; do launch "$c"; done
  for c in "${controllers[@]}"; do
    until ready "$c"; do
      if ! running "$c"; then
        if grep -q 'address already in use' "$state/$c.log" 2>/dev/null; then
          lost=$c
          stop_all >/dev/null 2>&1
          return 1
        fi
        fail "$c" "exited while starting"
      fi
      timed_out && fail "$c" "not ready after ${start_timeout}s"
      sleep 0.2
    done
  done
  # A controller answers /readyz before its metrics server binds (seen: a
  # port another run took meanwhile ended source-controller a second after
  # it was ready): both must still run a moment later.
  sleep 1.5
  for c in "${controllers[@]}"; do
    running "$c" && continue
    if grep -q 'address already in use' "$state/$c.log" 2>/dev/null; then
      lost=$c
      stop_all >/dev/null 2>&1
      return 1
    fi
    fail "$c" "exited just after it was ready"
  done
}

stop_all() {
  local i
  for ((i = ${#controllers[@]} - 1; i >= 0; i--)); do stop_one "${controllers[$i]}"; done
  rm -f "$envfile" "$state/start.key"
}

status() {
  local c n=0
  for c in "${controllers[@]}"; do
    if running "$c"; then
      echo "$c running (pid $(cat "$state/$c.pid"))"
      n=$((n + 1))
    else
      echo "$c stopped"
    fi
  done
  [ -f "$envfile" ] && cat "$envfile"
  [ "$n" -eq ${#controllers[@]} ]
}

env_() {
  [ -f "$envfile" ] || die "not started: no $envfile"
  cat "$envfile"
}

# ---------------------------------------------------------------- main

cmd=${1:-status}
shift || true
case $cmd in
  start | stop) serialise "$state" ;; # starts and stops on one state directory take turns
esac
case $cmd in
  install) install_controllers ;;
  start) start ;;
  stop) stop_all ;;
  status) status ;;
  env) env_ ;;
  bin) echo "$bin" ;;
  *) echo "usage: $0 install|start|stop|status|env|bin" >&2; exit 2 ;;
esac
