package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Errors of the deploy lock.
var (
	// ErrLocked is matched when another deploy or rollback holds the
	// environment's lock.
	ErrLocked = errors.New("another deploy holds the environment's lock")
	// ErrLockLost is matched when the lock was taken from a running deploy
	// (someone passed --break-lock), which then stops judging the rollout.
	ErrLockLost = errors.New("the environment's lock was taken over")
)

// Lock defaults: a lease lasts LeaseDuration after its last renewal, and
// is renewed every LeaseRenew, so a run killed without releasing it holds
// the environment for at most LeaseDuration.
const (
	LeaseDuration = 30 * time.Second
	LeaseRenew    = 5 * time.Second
	// lockPoll is how often a run waiting for the lock looks again.
	lockPoll = time.Second
	// releaseTimeout bounds the release, which also runs after an interrupt.
	releaseTimeout = 10 * time.Second
	// WaitForever, as LockOptions.Wait, waits as long as another run holds
	// the lock.
	WaitForever = time.Duration(math.MaxInt64)
)

// LeaseEnv names the variable that, set to a duration of at least 1s
// ("3s"), replaces LeaseDuration for locks taken without
// LockOptions.Duration, renewed at a third of it. Fault tests set it so a
// lock left by a killed run expires in seconds; it is not meant for
// production, where a short lease risks a slow renewal losing the lock.
const LeaseEnv = "SLIPWAY_LOCK_LEASE"

// leaseFromEnv is LeaseEnv's duration when valid, else LeaseDuration.
func leaseFromEnv() time.Duration {
	d, err := time.ParseDuration(os.Getenv(LeaseEnv))
	if err != nil || d < time.Second {
		return LeaseDuration
	}
	return d
}

// Annotations on the lock's Lease that describe its holder, and one that
// broke it.
const (
	AnnotationLockWho     = "slipway.dev/lock-who"
	AnnotationLockHost    = "slipway.dev/lock-host"
	AnnotationLockPID     = "slipway.dev/lock-pid"
	AnnotationLockJob     = "slipway.dev/lock-job"
	AnnotationLockEnv     = "slipway.dev/lock-environment"
	AnnotationLockOp      = "slipway.dev/lock-operation"
	AnnotationLockVersion = "slipway.dev/lock-version"
	AnnotationLockSince   = "slipway.dev/lock-since"
	// AnnotationLockBroke records, on a Lease taken with Break, whose lock
	// was broken, by whom and why.
	AnnotationLockBroke = "slipway.dev/lock-broke"
)

// LockName is the name of the Lease that serialises deploys and rollbacks
// of env: slipway-lock-APP-ENV, where ENV is, for a canary, the
// environment it is a canary of. A canary and its main environment share
// one lock because they share a Service (the canary's pods serve the main
// environment's traffic), the main environment's deploy retires the
// canary, and its gate reads the canary: run at once, each would judge a
// state the other is changing.
func LockName(p *config.Project, env config.Environment) string {
	name := "slipway-lock-" + p.App + "-" + serviceEnv(env)
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 253 {
		out = out[:253]
	}
	return strings.TrimRight(out, "-.")
}

// Holder describes a run holding the lock, as the Lease's annotations
// record it.
type Holder struct {
	// Identity is the Lease's holderIdentity: unique to one run.
	Identity string `json:"identity"`
	Who      string `json:"who,omitempty"`
	Host     string `json:"host,omitempty"`
	PID      int    `json:"pid,omitempty"`
	// Job is the CI job's URL, when known.
	Job string `json:"job,omitempty"`
	// Env is the environment it deploys, Operation what it does there
	// ("deploy" or "rollback"), Version the version it deploys.
	Env       string    `json:"environment,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Version   string    `json:"version,omitempty"`
	Since     time.Time `json:"since"`
	// Process identifies the process beyond its PID (see
	// AnnotationLockProcess), so that a lock left by a run killed on this
	// machine is known to be free; "" where it cannot be known.
	Process string `json:"-"`
}

// NewHolder describes this process as a holder: who, the host name, the
// pid and the CI job (CIJobURL of the environment), with a fresh identity.
func NewHolder(who, operation, env, version string) Holder {
	host, _ := os.Hostname()
	h := Holder{Who: who, Host: host, PID: os.Getpid(), Job: CIJobURL(os.Getenv),
		Env: env, Operation: operation, Version: version, Process: thisProcess()}
	h.Identity = identity(h)
	return h
}

// identity is who@host/pid/random: two runs never share one, even in
// containers where every process is pid 1 on a recycled host name.
func identity(h Holder) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s@%s/%d/%s", h.Who, h.Host, h.PID, hex.EncodeToString(r[:]))
}

// CIJobURL is the URL of the CI job running Slipway, from the variables
// Jenkins (BUILD_URL), GitLab (CI_JOB_URL), GitHub Actions
// (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID) and
// Drone (DRONE_BUILD_LINK) set, read through getenv; "" outside CI.
func CIJobURL(getenv func(string) string) string {
	if v := getenv("BUILD_URL"); v != "" {
		return v
	}
	if v := getenv("CI_JOB_URL"); v != "" {
		return v
	}
	if s, r, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); s != "" && r != "" && id != "" {
		return strings.TrimRight(s, "/") + "/" + r + "/actions/runs/" + id
	}
	return getenv("DRONE_BUILD_LINK")
}

// String names the holder for people, e.g. "alice on ci-7 (pid 42),
// deploying 1.2.3 to prod, since 2026-11-29 18:03:04 UTC, job https://...".
func (h Holder) String() string { return h.describe(time.Time{}) }

// describe is String with how long ago Since was, seen at now (none when
// now is zero).
func (h Holder) describe(now time.Time) string {
	var b strings.Builder
	who := cmp.Or(h.Who, h.Identity, "an unnamed holder")
	b.WriteString(who)
	if h.Host != "" {
		b.WriteString(" on " + h.Host)
		if h.PID > 0 {
			fmt.Fprintf(&b, " (pid %d)", h.PID)
		}
	}
	switch op := h.Operation; {
	case op == "deploy" && h.Version != "":
		fmt.Fprintf(&b, ", deploying %s to %s", h.Version, h.Env)
	case op == "rollback":
		fmt.Fprintf(&b, ", rolling back %s", h.Env)
	case op != "":
		fmt.Fprintf(&b, ", %s %s", op, h.Env)
	}
	if !h.Since.IsZero() {
		b.WriteString(", since " + h.Since.UTC().Format("2006-01-02 15:04:05 UTC"))
		if ago := now.Sub(h.Since); !now.IsZero() && ago > 0 {
			if ago >= time.Hour {
				ago = ago.Truncate(time.Minute)
			}
			fmt.Fprintf(&b, " (%s ago)", ago.Truncate(time.Second))
		}
	}
	if h.Job != "" {
		b.WriteString(", job " + h.Job)
	}
	return b.String()
}

func (h Holder) annotations() map[string]string {
	a := map[string]string{
		AnnotationLockWho: h.Who, AnnotationLockHost: h.Host, AnnotationLockEnv: h.Env,
		AnnotationLockOp: h.Operation, AnnotationLockSince: h.Since.UTC().Format(time.RFC3339),
	}
	if h.PID > 0 {
		a[AnnotationLockPID] = strconv.Itoa(h.PID)
	}
	if h.Job != "" {
		a[AnnotationLockJob] = h.Job
	}
	if h.Version != "" {
		a[AnnotationLockVersion] = h.Version
	}
	if h.Process != "" {
		a[AnnotationLockProcess] = h.Process
	}
	return a
}

// maxHolderText is the most bytes of each text field of a holder read
// from a Lease: anyone who can write Leases in the namespace writes them,
// and they end up in messages.
const maxHolderText = 64

// clipHolderText cuts s to at most maxHolderText bytes, at a character,
// marking the cut with "…".
func clipHolderText(s string) string {
	if len(s) <= maxHolderText {
		return s
	}
	cut := maxHolderText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// heldBy reports whether l is held by the run with identity id (compared
// whole, unlike the clipped Holder.Identity of holderOf).
func heldBy(l *coordinationv1.Lease, id string) bool {
	return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == id
}

// holderOf reads a Lease's holder; ok is false when nobody holds it. Its
// text fields are clipped to maxHolderText bytes, a PID out of range
// reads as 0 and a process identity that is not one as "".
func holderOf(l *coordinationv1.Lease) (Holder, bool) {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return Holder{}, false
	}
	a := l.Annotations
	h := Holder{Identity: *l.Spec.HolderIdentity, Who: a[AnnotationLockWho], Host: a[AnnotationLockHost],
		Job: a[AnnotationLockJob], Env: a[AnnotationLockEnv], Operation: a[AnnotationLockOp], Version: a[AnnotationLockVersion]}
	for _, f := range []*string{&h.Identity, &h.Who, &h.Host, &h.Job, &h.Env, &h.Operation, &h.Version} {
		*f = clipHolderText(*f)
	}
	if pid, err := strconv.Atoi(a[AnnotationLockPID]); err == nil && pid > 0 && pid <= maxPID {
		h.PID = pid
	}
	if _, _, _, ok := parseProcessID(a[AnnotationLockProcess]); ok {
		h.Process = a[AnnotationLockProcess]
	}
	if t, err := time.Parse(time.RFC3339, a[AnnotationLockSince]); err == nil {
		h.Since = t
	} else if l.Spec.AcquireTime != nil {
		h.Since = l.Spec.AcquireTime.Time
	}
	return h, true
}

// expired reports whether the holder of l stopped renewing it: its last
// renewal (or acquisition) is more than leaseDuration(l) before now. A
// Lease with neither time counts from its creation, which the API server
// stamps; one without that either is taken to be alive: nothing says
// since when it is held. This compares the holder's clock with ours, so
// clocks must agree to within a few seconds (NTP); a renewal further
// ahead of now than any lease lasts (maxLease) is not believed, and the
// Lease counts as expired, so that a Lease renewed "in the year 9999"
// does not hold the environment for good.
func expired(l *coordinationv1.Lease, now time.Time) bool {
	var last time.Time
	if l.Spec.AcquireTime != nil {
		last = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil && l.Spec.RenewTime.After(last) {
		last = l.Spec.RenewTime.Time
	}
	if last.IsZero() {
		last = l.CreationTimestamp.Time
	}
	if last.IsZero() {
		return false
	}
	if last.Sub(now) > maxLease() {
		return true
	}
	return now.Sub(last) > leaseDuration(l)
}

// leaseDuration is how long l lasts after its last renewal: its
// leaseDurationSeconds (default LeaseDuration), at most maxLease, so that
// a Lease written by anyone else holds deploys no longer than Slipway's
// own.
func leaseDuration(l *coordinationv1.Lease) time.Duration {
	d := LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return min(d, maxLease())
}

// maxLease is the longest lease Slipway honours: LeaseDuration, or
// LeaseEnv's duration when longer.
func maxLease() time.Duration { return max(LeaseDuration, leaseFromEnv()) }

// LockOptions configure Cluster.Lock.
type LockOptions struct {
	// Namespace and Name locate the Lease (see LockName).
	Namespace, Name string
	// Holder describes this run (see NewHolder); Since is set on acquiring.
	Holder Holder
	// Wait is how long to wait for another holder to release the lock or
	// let it expire; 0 fails at once with a LockedError.
	Wait time.Duration
	// Break takes the lock whoever holds it; Reason (required) says why,
	// and is recorded on the Lease with whose lock was broken.
	Break  bool
	Reason string
	// CreateNamespace creates a missing namespace, as the deploy would;
	// without it a missing namespace is ErrNoNamespace.
	CreateNamespace bool
	// Duration is how long the lease lasts without renewal (default
	// LeaseDuration); Renew how often it is renewed (default LeaseRenew);
	// Poll how often a waiting run looks again (default 1s).
	Duration, Renew, Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Gone reports whether a holder's process is known to have ended
	// (default HolderGone); the lock of such a holder is taken at once.
	Gone     func(Holder) bool
	Progress progress.Reporter
}

// LockedError is a lock held by another run. It matches ErrLocked.
type LockedError struct {
	Env, Namespace, Lease string
	Holder                Holder
	// Waited is how long this run waited (--wait-lock) before giving up.
	Waited time.Duration
	// At is when the holder was seen.
	At time.Time
	// Expiry is how long the lease lasts after its last renewal.
	Expiry time.Duration
}

// Error names the holder and since when; the ways on are its Remedy.
func (e *LockedError) Error() string {
	waited := ""
	if e.Waited > 0 {
		waited = fmt.Sprintf(" (waited %s)", e.Waited.Round(time.Second))
	}
	return fmt.Sprintf("locking %s: %v%s: held by %s", e.Env, ErrLocked, waited, e.Holder.describe(e.At))
}

// Remedy is to wait for the lock, let it expire, or break it.
func (e *LockedError) Remedy() remedy.Remedy {
	return remedy.Remedy{Kind: remedy.WaitLock, Env: e.Env, Expiry: e.Expiry, Namespace: e.Namespace, Lease: e.Lease}
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held deploy lock. Its lease is renewed in the background
// until Release.
//
// It is not client-go's leader election (resourcelock.LeaseLock, driven
// by leaderelection.LeaderElector), which keeps one of many replicas in
// charge rather than one run of many out of an environment:
//   - LeaseLock reads and writes the Lease's spec alone (a
//     LeaderElectionRecord) and keeps the Lease itself unexported, so the
//     holder's annotations (who, host, pid, job, what it does, its
//     process, whose lock it broke) can be neither written by the write
//     that takes the lock nor read with the holder it names. A second
//     write would leave, between the two, a Lease naming one run with
//     another's annotations, and a LockedError naming the wrong run.
//   - The elector counts a lease's expiry from when this process first
//     saw its record unchanged, not from its renewTime: a run started
//     after another was killed waits a whole lease duration even when the
//     Lease expired long ago, and cannot take at once the lock of a holder
//     whose process is gone (HolderGone). It believes any
//     leaseDurationSeconds, so a Lease written by anyone with a duration of
//     a day holds deploys for a day; Slipway's bound is maxLease.
//   - It never takes a live lease and retries until its context ends,
//     where a deploy takes one with --break-lock, and otherwise fails at
//     once or after --wait-lock, naming the holder.
//   - It adds 1 to leaderTransitions without bound and converts the count
//     to int32: once it overflows, the API server refuses every write and
//     the lock can never be taken again (see leaseFrom).
//
// What is left of LeaseLock to reuse, a Get, a Create and an Update of
// the Lease, are the typed client's calls made here, each through
// Cluster.call.
type Lock struct {
	c      *Cluster
	o      LockOptions
	holder Holder
	// Broken is the holder whose lock Break took, nil when the lock was
	// free or expired; Expired is the holder of an expired lease taken over;
	// Dead the holder, on this machine, whose process had ended (HolderGone).
	Broken, Expired, Dead *Holder

	mu    sync.Mutex
	lease *coordinationv1.Lease // as last written, for its resourceVersion

	stop     context.CancelFunc
	done     chan struct{}
	lost     chan struct{}
	lostOnce sync.Once
	lostBy   Holder
}

// Holder is this run as the Lease records it.
func (l *Lock) Holder() Holder { return l.holder }

// bound returns a context of ctx that ends, with cause ErrLockLost, as soon
// as the lock is lost, so waiting stops when another run broke it.
func (l *Lock) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	bctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-l.Lost():
			cancel(ErrLockLost)
		case <-bctx.Done():
		}
	}()
	return bctx, func() { cancel(nil) }
}

// Lost is closed when the lease turns out to be held by another run (one
// that broke the lock): this run no longer holds the environment.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// LostTo is the run that took the lock, once Lost is closed.
func (l *Lock) LostTo() Holder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostBy
}

// Lock takes the deploy lock of an environment: a Lease
// (coordination.k8s.io/v1) holding this run's identity, with annotations
// describing it. A Lease nobody holds, or whose holder stopped renewing
// it, or whose holder ran on this machine and has ended (o.Gone), is
// taken; one another run holds is waited for up to o.Wait, then a
// LockedError; with o.Break it is taken anyway. Every write carries the
// resourceVersion read, so of runs racing for the lock exactly one wins.
// The lease is renewed every o.Renew until Release. Its calls ride out an
// API server that restarts (see Cluster.call), reported to o.Progress.
func (c *Cluster) Lock(ctx context.Context, o LockOptions) (*Lock, error) {
	o = o.withDefaults()
	if o.Break && strings.TrimSpace(o.Reason) == "" {
		return nil, remedy.With(fmt.Errorf("locking %s: %w", c.Env, config.ErrInvalid), remedy.Remedy{Kind: remedy.ReasonToBreak, Env: c.Env})
	}
	rep := c.rep
	if o.Progress != nil {
		rep = o.Progress
	}
	c = c.with(rep, c.spell)
	k := &locking{c: c, o: o, rep: progress.Or(o.Progress), leases: c.Client.CoordinationV1().Leases(o.Namespace), start: o.Now()}
	for {
		if err := ctx.Err(); err != nil {
			if k.lastHeld != "" {
				return nil, fmt.Errorf("locking %s, held by %s: %w", c.Env, k.lastHeld, err)
			}
			return nil, fmt.Errorf("locking %s: %w", c.Env, err)
		}
		l, again, err := k.try(ctx)
		if !again {
			return l, err
		}
	}
}

// withDefaults fills in the durations, the clock and the holder's
// identity o leaves out.
func (o LockOptions) withDefaults() LockOptions {
	if o.Duration <= 0 {
		o.Duration = leaseFromEnv()
	}
	if o.Renew <= 0 {
		o.Renew = min(LeaseRenew, o.Duration/3)
	}
	if o.Poll <= 0 {
		o.Poll = lockPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Gone == nil {
		o.Gone = HolderGone
	}
	if o.Holder.Identity == "" {
		o.Holder.Identity = identity(o.Holder)
	}
	return o
}

// locking is what one Lock call carries between its looks at the Lease.
type locking struct {
	c      *Cluster
	o      LockOptions
	rep    progress.Reporter
	leases coordinationv1client.LeaseInterface
	start  time.Time
	// reported is the holder whose lock the wait was reported for.
	reported      string
	madeNamespace bool
	// lastHeld is who held it when last looked at, for an interrupted wait.
	lastHeld string
}

// try looks at the Lease once and takes it when it can; again says to look
// once more (another run wrote it first, or a holder is waited for).
func (k *locking) try(ctx context.Context) (l *Lock, again bool, err error) {
	o := k.o
	now := o.Now()
	l = &Lock{c: k.c, o: o, holder: o.Holder}
	l.holder.Since = now
	lease := "Lease " + o.Namespace + "/" + o.Name
	cur, err := retried(ctx, k.c, "reading "+lease, func(ctx context.Context) (*coordinationv1.Lease, error) {
		return k.leases.Get(ctx, o.Name, metav1.GetOptions{})
	})
	switch {
	case apierrors.IsNotFound(err):
		return k.create(ctx, l, now)
	case err != nil:
		return nil, false, k.c.explain(err, "reading "+lease)
	case heldBy(cur, o.Holder.Identity):
		// A write of this run landed though its answer was lost (the API
		// server restarted): the lock is already this run's.
		return l.start(cur), false, nil
	}
	held, isHeld := holderOf(cur)
	alive := isHeld && !expired(cur, now)
	dead := alive && o.Gone(held)
	if alive && !dead && !o.Break {
		if err := k.wait(ctx, held, cur, now); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	switch {
	case dead:
		l.Dead = &held
	case alive:
		l.Broken = &held
	case isHeld:
		l.Expired = &held
	}
	updated, err := retried(ctx, k.c, "taking "+lease, func(ctx context.Context) (*coordinationv1.Lease, error) {
		return k.leases.Update(ctx, l.leaseFrom(cur, now), metav1.UpdateOptions{FieldManager: FieldManager})
	})
	switch {
	case err == nil:
		k.reportTaken(l, now)
		return l.start(updated), false, nil
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return nil, true, nil // another run wrote it first: look again
	}
	return nil, false, k.c.explain(err, "taking "+lease)
}

// reportTaken says whose lock l took, when it was held.
func (k *locking) reportTaken(l *Lock, now time.Time) {
	var msg string
	switch {
	case l.Dead != nil:
		msg = fmt.Sprintf("took the lock of slipway PID %d on %s, which is no longer running", l.Dead.PID, l.Dead.Host)
	case l.Broken != nil:
		msg = fmt.Sprintf("broke the lock of %s held by %s: %s", k.c.Env, l.Broken.describe(now), k.o.Reason)
	case l.Expired != nil:
		msg = fmt.Sprintf("took over the expired lock of %s, left by %s", k.c.Env, l.Expired.describe(now))
	default:
		return
	}
	k.rep.Report(progress.Event{Kind: progress.Warn, Step: "lock", Msg: msg})
}

// create makes the Lease, held by l, making the namespace once when it is
// missing.
func (k *locking) create(ctx context.Context, l *Lock, now time.Time) (*Lock, bool, error) {
	o := k.o
	created, err := retried(ctx, k.c, "creating Lease "+o.Namespace+"/"+o.Name, func(ctx context.Context) (*coordinationv1.Lease, error) {
		return k.leases.Create(ctx, l.leaseFrom(nil, now), metav1.CreateOptions{FieldManager: FieldManager})
	})
	switch {
	case err == nil:
		return l.start(created), false, nil
	case apierrors.IsAlreadyExists(err):
		return nil, true, nil // another run created it first: look again
	case apierrors.IsNotFound(err) && !k.madeNamespace:
		// The namespace is missing.
		if err := k.c.ensureNamespace(ctx, o); err != nil {
			return nil, false, err
		}
		k.madeNamespace = true
		return nil, true, nil
	}
	return nil, false, k.c.explain(err, "creating Lease "+o.Namespace+"/"+o.Name)
}

// wait waits a poll for held, alive in cur, to let go: a *LockedError once
// o.Wait has passed, the context's error when it ends first.
func (k *locking) wait(ctx context.Context, held Holder, cur *coordinationv1.Lease, now time.Time) error {
	o := k.o
	k.lastHeld = held.describe(now)
	if waited := now.Sub(k.start); waited >= o.Wait {
		if o.Wait == 0 {
			waited = 0
		}
		return &LockedError{Env: k.c.Env, Namespace: o.Namespace, Lease: o.Name, Holder: held, Waited: waited, At: now,
			Expiry: leaseDuration(cur)}
	}
	if k.reported != held.Identity {
		k.reported = held.Identity
		upTo := " up to " + o.Wait.Round(time.Second).String()
		if o.Wait == WaitForever {
			upTo = ""
		}
		k.rep.Report(progress.Event{Kind: progress.Warn, Step: "lock", Msg: fmt.Sprintf("waiting%s for the lock of %s, held by %s",
			upTo, k.c.Env, held.describe(now))})
	}
	t := time.NewTimer(min(o.Poll, o.Wait-now.Sub(k.start)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("locking %s, held by %s: %w", k.c.Env, held.describe(now), ctx.Err())
	case <-t.C:
		return nil
	}
}

// leaseFrom is cur (nil to create one) held by this run since now.
func (l *Lock) leaseFrom(cur *coordinationv1.Lease, now time.Time) *coordinationv1.Lease {
	var next *coordinationv1.Lease
	if cur == nil {
		next = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.o.Name, Namespace: l.o.Namespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy}}}
	} else {
		next = cur.DeepCopy()
	}
	annotations := map[string]string{}
	for k, v := range next.Annotations {
		if !strings.HasPrefix(k, "slipway.dev/lock-") {
			annotations[k] = v
		}
	}
	maps.Copy(annotations, l.holder.annotations())
	if l.Broken != nil {
		annotations[AnnotationLockBroke] = fmt.Sprintf("%s broke the lock of %s: %s", l.holder.Who, l.Broken.describe(now), l.o.Reason)
	}
	next.Annotations = annotations
	id := l.holder.Identity
	secs := int32(l.o.Duration / time.Second)
	if secs < 1 {
		secs = 1
	}
	t := metav1.NewMicroTime(now)
	next.Spec.HolderIdentity, next.Spec.LeaseDurationSeconds = &id, &secs
	next.Spec.AcquireTime, next.Spec.RenewTime = &t, &t
	var n int32 // how many times the lease changed hands
	if next.Spec.LeaseTransitions != nil {
		n = max(*next.Spec.LeaseTransitions, 0)
	}
	if cur != nil {
		// At most MaxInt32: a count that overflowed would be refused by
		// the API server, and the lock could never be taken again.
		if _, held := holderOf(cur); held && n < math.MaxInt32 {
			n++
		}
	}
	next.Spec.LeaseTransitions = &n
	return next
}

// ensureNamespace creates the lock's missing namespace the way the deploy
// would (a server-side apply of the bare Namespace), or says it is missing.
func (c *Cluster) ensureNamespace(ctx context.Context, o LockOptions) error {
	if !o.CreateNamespace && o.Holder.Operation == "rollback" {
		return fmt.Errorf("locking %s: %w: %s, so there is nothing to roll back", c.Env, ErrNoNamespace, o.Namespace)
	}
	if !o.CreateNamespace {
		return fmt.Errorf("locking %s: %w: %s; create it, or allow Slipway to (environments.%s.createNamespace)",
			c.Env, ErrNoNamespace, o.Namespace, c.Env)
	}
	ns, _ := manifestOf(newNamespace(o.Namespace), kubernetes.Interface.CoreV1, namespaces)
	_, err := c.apply(ctx, ns, ApplyOptions{})
	return err
}

// start records the lease written and starts renewing it.
func (l *Lock) start(lease *coordinationv1.Lease) *Lock {
	l.lease = lease
	ctx, stop := context.WithCancel(context.Background())
	l.stop, l.done, l.lost = stop, make(chan struct{}), make(chan struct{})
	go l.renew(ctx)
	return l
}

// renew writes a fresh renewTime every o.Renew until ctx ends or the lease
// turns out to be another run's. Failed writes are retried at the next
// tick: a lease not renewed for o.Duration can be taken over, which the
// next write finds out.
func (l *Lock) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.o.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.renewOnce(ctx); errors.Is(err, ErrLockLost) {
			return
		}
	}
}

// renewOnce writes a fresh renewTime; ErrLockLost when another run holds
// the lease.
func (l *Lock) renewOnce(ctx context.Context) error {
	leases := l.c.Client.CoordinationV1().Leases(l.o.Namespace)
	l.mu.Lock()
	next := l.lease.DeepCopy()
	l.mu.Unlock()
	lease := "Lease " + l.o.Namespace + "/" + l.o.Name
	for range 3 {
		t := metav1.NewMicroTime(l.o.Now())
		next.Spec.RenewTime = &t
		got, err := retried(ctx, l.c, "renewing "+lease, func(ctx context.Context) (*coordinationv1.Lease, error) {
			return leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
		})
		if err == nil {
			l.mu.Lock()
			l.lease = got
			l.mu.Unlock()
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
		cur, err := retried(ctx, l.c, "reading "+lease, func(ctx context.Context) (*coordinationv1.Lease, error) {
			return leases.Get(ctx, l.o.Name, metav1.GetOptions{})
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		var h Holder
		if err == nil {
			if heldBy(cur, l.holder.Identity) {
				next = cur.DeepCopy() // ours still, changed by someone: write again
				continue
			}
			h, _ = holderOf(cur)
		}
		l.lostOnce.Do(func() {
			l.mu.Lock()
			l.lostBy = h
			l.mu.Unlock()
			close(l.lost)
		})
		return ErrLockLost
	}
	return nil
}

// Release stops renewing the lease and clears its holder, when it is
// still this run's. It works after ctx is cancelled (an interrupted run
// must still let go), bounded by 10 seconds; a lease it cannot clear
// expires by itself after o.Duration.
func (l *Lock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.stop()
	<-l.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	leases := l.c.Client.CoordinationV1().Leases(l.o.Namespace)
	lease := "Lease " + l.o.Namespace + "/" + l.o.Name
	l.mu.Lock()
	cur := l.lease.DeepCopy()
	l.mu.Unlock()
	for range 3 {
		if !heldBy(cur, l.holder.Identity) {
			return nil // not ours any more
		}
		next := cur.DeepCopy()
		next.Spec.HolderIdentity = nil
		for k := range next.Annotations {
			if strings.HasPrefix(k, "slipway.dev/lock-") {
				delete(next.Annotations, k)
			}
		}
		err := l.c.call(ctx, "releasing "+lease, func(ctx context.Context) error {
			_, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
			return err
		})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err):
			return l.c.explain(err, "releasing "+lease)
		}
		cur, err = retried(ctx, l.c, "reading "+lease, func(ctx context.Context) (*coordinationv1.Lease, error) {
			return leases.Get(ctx, l.o.Name, metav1.GetOptions{})
		})
		if apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return l.c.explain(err, "releasing "+lease)
		}
	}
	return fmt.Errorf("releasing Lease %s/%s: it keeps changing; it expires by itself within %s", l.o.Namespace, l.o.Name, l.o.Duration)
}
