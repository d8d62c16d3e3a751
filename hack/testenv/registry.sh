#!/usr/bin/env bash
# Starts or stops local Debian docker-registry processes on 127.0.0.1.
#   registry.sh start PORT...   start one registry per port (plain HTTP), if not running
#   registry.sh stop  [PORT...] stop the ones this script started (by recorded PID)
#   registry.sh status
# State lives in $SLIPWAY_TESTENV (default /tmp/slipway-testenv).
set -euo pipefail

state=${SLIPWAY_TESTENV:-/tmp/slipway-testenv}
here=$(cd "$(dirname "$0")" && pwd)

ours() { # PID PORT: is PID the registry we started for PORT?
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "registry-$2/config.yml"
}

start() {
  "$here/../install-deps.sh" docker-registry curl
  for port in "$@"; do
    dir="$state/registry-$port"
    mkdir -p "$dir/data"
    if [ -f "$dir/pid" ] && ours "$(cat "$dir/pid")" "$port"; then
      echo "registry 127.0.0.1:$port already running" >&2
      continue
    fi
    cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
YAML
    if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      echo "127.0.0.1:$port is taken by a process this script did not start; stop it or pick another port" >&2
      exit 1
    fi
    setsid docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null || { echo "registry on :$port did not start; see $dir/log" >&2; exit 1; }
    echo "registry 127.0.0.1:$port started" >&2
  done
}

stop() {
  ports=("$@")
  if [ ${#ports[@]} -eq 0 ]; then
    for d in "$state"/registry-*; do [ -d "$d" ] && ports+=("${d##*-}"); done
  fi
  for port in "${ports[@]}"; do
    pidfile="$state/registry-$port/pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if ours "$pid" "$port"; then
      kill "$pid" && echo "registry 127.0.0.1:$port stopped" >&2
    fi
    rm -f "$pidfile"
  done
}

status() {
  for d in "$state"/registry-*; do
    [ -f "$d/pid" ] || continue
    port=${d##*-}
    if ours "$(cat "$d/pid")" "$port"; then echo "127.0.0.1:$port running"; else echo "127.0.0.1:$port stopped"; fi
  done
}

cmd=${1:-status}; shift || true
case $cmd in
  start) start "$@" ;;
  stop) stop "$@" ;;
  status) status ;;
  *) echo "usage: $0 start PORT... | stop [PORT...] | status" >&2; exit 2 ;;
esac
