# proc.sh: the processes a hack/testenv script starts, by name: NAME.pid
# and NAME.cmdline (its command line, NUL-separated) in the directory
# $proc_dir; and serialise, which makes their starts and stops take turns.
# Sourced; the caller sets proc_dir and defines log.

# running NAME: the process recorded as NAME runs, and is still that one:
# its command line is the one recorded (a PID reused by another process
# is not it).
running() {
  local pid
  [ -f "$proc_dir/$1.pid" ] && [ -f "$proc_dir/$1.cmdline" ] || return 1
  pid=$(cat "$proc_dir/$1.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Read through a pipe: /proc files claim size 0, which `cmp -s` would trust.
  # shellcheck disable=SC2002
  [ -r "/proc/$pid/cmdline" ] && cat "/proc/$pid/cmdline" 2>/dev/null | cmp -s - "$proc_dir/$1.cmdline"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop_one NAME: TERM, then KILL after 10 s; its records removed.
stop_one() {
  local pid
  if running "$1"; then
    pid=$(cat "$proc_dir/$1.pid")
    kill -TERM "$pid" 2>/dev/null || true
    # Wait until it has exited (gone, or a zombie awaiting its reaper), not
    # just until its command line empties while it shuts down.
    for _ in $(seq 1 200); do
      alive "$pid" || break
      sleep 0.05
    done
    if running "$1"; then
      log "$1 (pid $pid) did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$proc_dir/$1.pid" "$proc_dir/$1.cmdline"
}

# serialise DIR: holds the lock DIR/lock (on fd 9) until the script exits,
# so that starts and stops on the same state directory take turns.
serialise() {
  mkdir -p "$1"
  exec 9>"$1/lock"
  flock 9
}
