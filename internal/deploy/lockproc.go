package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// AnnotationLockProcess identifies the holder's process on its machine
// beyond its PID, which the kernel reuses: "BOOT/PIDNS/START", the
// kernel's boot ID, the inode of the process's PID namespace and its start
// time in clock ticks since boot (field 22 of /proc/PID/stat). It is
// written on Linux only.
const AnnotationLockProcess = "slipway.dev/lock-process"

// maxProcessID bounds the annotation read from a Lease: a boot ID (36
// bytes) and two numbers fit well within it.
const maxProcessID = 128

// maxPID is the kernel's highest pid_max (PID_MAX_LIMIT on 64-bit Linux);
// a PID annotation above it is not believed.
const maxPID = 1 << 22

// thisProcess is the AnnotationLockProcess of this process, "" where it
// cannot be known.
var thisProcess = sync.OnceValue(func() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	if err != nil {
		return ""
	}
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	// /proc must number processes as this process's namespace does: a
	// /proc mounted from another namespace would show other processes
	// under the holders' PIDs.
	pid, start, _, err := procStat(os.Getpid())
	if err != nil || pid != os.Getpid() {
		return ""
	}
	return processID(strings.TrimSpace(string(boot)), ns, start)
})

func processID(boot, ns string, start uint64) string {
	return fmt.Sprintf("%s/%s/%d", boot, ns, start)
}

// parseProcessID splits an AnnotationLockProcess; ok is false for
// anything else.
func parseProcessID(s string) (boot, ns string, start uint64, ok bool) {
	if len(s) > maxProcessID {
		return "", "", 0, false
	}
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, false
	}
	start, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return "", "", 0, false
	}
	return parts[0], parts[1], start, true
}

// procStat reads the PID, the start time and the state of process pid
// from /proc/PID/stat; err matches fs.ErrNotExist when there is no such
// process.
func procStat(pid int) (gotPID int, start uint64, state byte, err error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses,
	// so the fields after it start after the last ')'.
	s := string(raw)
	open, end := strings.IndexByte(s, ' '), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, 0, 0, fmt.Errorf("reading /proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(s[end+1:])
	// fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, 0, fmt.Errorf("reading /proc/%d/stat: unexpected format", pid)
	}
	gotPID, err = strconv.Atoi(s[:open])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return gotPID, start, fields[0][0], nil
}

// HolderGone reports whether h is known to have ended: it ran on this
// machine (the same host name, kernel boot and PID namespace as this
// process) and its process no longer runs, or a process started since
// has its PID, or it is a zombie. Anything it cannot tell (another host,
// a Lease without AnnotationLockProcess, a system without /proc) is not
// gone: such a lock is left to expire.
func HolderGone(h Holder) bool {
	self := thisProcess()
	host, err := os.Hostname()
	if self == "" || err != nil || host == "" || h.Host != host || h.PID <= 0 || h.PID > maxPID {
		return false
	}
	boot, ns, _, _ := parseProcessID(self)
	hBoot, hNS, hStart, ok := parseProcessID(h.Process)
	if !ok || hBoot != boot || hNS != ns {
		return false
	}
	_, start, state, err := procStat(h.PID)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true
	case err != nil:
		return false
	}
	return start != hStart || state == 'Z' || state == 'X'
}
