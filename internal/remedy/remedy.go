package remedy

import (
	"strconv"
	"strings"
	"time"
)

// Kind names a next step.
type Kind int

// Kinds of next step. Each is worded by the command line, in its own
// terms (flags and commands), after the message of the error carrying it.
const (
	None Kind = iota
	// LoginRegistry: log in to the registry Host (named Registry in
	// slipway.yaml, if any).
	LoginRegistry
	// LoginAsOther: the account lacks access to the repository; log in
	// to the registry Host as one that has it.
	LoginAsOther
	// LoginForLimit: wait, or log in to Host for a higher rate limit.
	LoginForLimit
	// RaiseRegistryTimeout: the registry timed out; check it, or allow
	// more time.
	RaiseRegistryTimeout
	// RaiseClusterTimeout: the API server timed out; check it, or allow
	// more time.
	RaiseClusterTimeout
	// RaisePushTimeout: pushing a git tag got no answer; check the
	// remote, or allow more time for retries.
	RaisePushTimeout
	// ForceTag: a version tag points at another image; release a new
	// version, or move the tag.
	ForceTag
	// WaitLock: another run holds the deploy lock of Env; wait for it,
	// let it expire (after Expiry), or break it (the Lease Namespace/Lease).
	WaitLock
	// ReasonToBreak: breaking the deploy lock of Env needs a reason.
	ReasonToBreak
	// ReasonToSkip: skipping the gate of Env needs a reason.
	ReasonToSkip
	// ForceConflicts: another field manager owns fields; take them over.
	ForceConflicts
	// ChooseContext: the kubeconfig has no such context; name one for Env.
	ChooseContext
	// OtherContext: the context's credentials are refused; refresh them or
	// pick another context.
	OtherContext
	// RunDoctor: a cluster refused a permission; the doctor checks them.
	RunDoctor
	// DeployAgain: nothing changed in Env; deploy again.
	DeployAgain
	// FollowDeploy: a rollout to Env continues; follow it, judge it
	// again, or undo it.
	FollowDeploy
	// RollbackAgain: nothing changed in Env; roll back again.
	RollbackAgain
	// FollowRollback: a rollback of Env continues; follow it.
	FollowRollback
	// SkipGate: a gate refused; deploy to the required environment first,
	// or skip the gate with a reason.
	SkipGate
	// BuildFirst: the build is stale or missing; build again (or allow a
	// stale one, when Stale).
	BuildFirst
	// PushFirst: the image is not in the registry of Env; push it there
	// (or promote it to Registry).
	PushFirst
	// OverwriteInit: files exist; overwrite them.
	OverwriteInit
	// GenerateCI: there are no generated CI files; generate them.
	GenerateCI
	// RegenerateCI: generated CI files drifted; generate them again and
	// commit the result.
	RegenerateCI
	// SignPromotion: no signed promotion record; promote from Env with
	// signing in File (or sign this promotion).
	SignPromotion
	// PointKubeconfig: the kubeconfig is not valid; name a valid one.
	PointKubeconfig
	// NewKeyPair: the public key beside the signing key is not its half;
	// replace it, or make a new pair.
	NewKeyPair
	// PickContext: the cluster of a context cannot be used; fix it or
	// pick another context. Hint says how to fix it.
	PickContext
	// RunInit: the project has no such file; make one.
	RunInit
	// ListTasks: an unknown task; the tasks are listed elsewhere.
	ListTasks
	// MakeKeyPair: the signing key does not load; check it (Hint), or make
	// a new pair.
	MakeKeyPair
	// PushOrPromote: the version is not in the registry of Env; push it,
	// or promote it there from another registry.
	PushOrPromote
	// KeepKeyPair: a key pair exists; keep it, or replace it.
	KeepKeyPair
	// PushThere: the version is not in the registry called Registry (a
	// promotion's source); push it there first.
	PushThere
	// RunAgain: the run was interrupted without saying what it left;
	// run the command again to finish.
	RunAgain
	// RunBuildTask: a layer source is missing; run Task, the task of File
	// (ci.yaml) that makes it, or, without Task, make one that does.
	RunBuildTask
	// CommitNoWait: the verdict of the GitOps environment Env cannot be
	// waited for yet; commit without waiting.
	CommitNoWait
	// GitOpsRaced: other pushes to the environment repository of Env won
	// twice; deploy again.
	GitOpsRaced
	// GitOpsConflict: someone else changed the file Slipway writes in the
	// environment repository of Env; look at that change, then deploy
	// again.
	GitOpsConflict
	// DropNoWait: Env is a direct environment, whose deploy always waits
	// for its verdict; deploy without asking not to wait.
	DropNoWait
	// GitOpsPending: the engine of the GitOps environment Env has not
	// applied the commit yet; status gives the verdict once it has.
	GitOpsPending

	numKinds // keep last
)

var kindNames = [...]string{"None", "LoginRegistry", "LoginAsOther", "LoginForLimit", "RaiseRegistryTimeout", "RaiseClusterTimeout", "RaisePushTimeout", "ForceTag", "WaitLock", "ReasonToBreak", "ReasonToSkip", "ForceConflicts", "ChooseContext", "OtherContext", "RunDoctor", "DeployAgain", "FollowDeploy", "RollbackAgain", "FollowRollback", "SkipGate", "BuildFirst", "PushFirst", "OverwriteInit", "GenerateCI", "RegenerateCI", "SignPromotion", "PointKubeconfig", "NewKeyPair", "PickContext", "RunInit", "ListTasks", "MakeKeyPair", "PushOrPromote", "KeepKeyPair", "PushThere", "RunAgain", "RunBuildTask", "CommitNoWait", "GitOpsRaced", "GitOpsConflict", "DropNoWait", "GitOpsPending"}

// String is the kind's name, e.g. "ForceTag".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Remedy is a next step, with what the wording needs.
type Remedy struct {
	Kind Kind
	// Env is the environment the step is about.
	Env string
	// Host and Registry name a registry (Registry may be empty).
	Host, Registry string
	// Namespace and Lease name a deploy lock's Lease.
	Namespace, Lease string
	// Expiry is how long a lock lasts after its last renewal.
	Expiry time.Duration
	// File is the project file that a step edits.
	File string
	// Stale is true when a stale build may be allowed.
	Stale bool
	// Hint is what to do, in plain words, before the other choices.
	Hint string
	// Task names a ci.yaml task.
	Task string
}

// Carrier is an error with a next step. Its message leaves the step out:
// Message adds it.
type Carrier interface {
	error
	Remedy() Remedy
}

// Error adds a Remedy to an error; its message is Err's.
type Error struct {
	Err error
	R   Remedy
}

// With returns err carrying r, or nil for a nil err.
func With(err error, r Remedy) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, R: r}
}

func (e *Error) Error() string  { return e.Err.Error() }
func (e *Error) Unwrap() error  { return e.Err }
func (e *Error) Remedy() Remedy { return e.R }

// Of returns the first remedy in err's tree, outermost first.
func Of(err error) (Remedy, bool) {
	var found Remedy
	walk(err, func(c Carrier) bool {
		if r := c.Remedy(); r.Kind != None {
			found = r
			return false
		}
		return true
	})
	return found, found.Kind != None
}

// Message is err's message with the wording of each remedy in its tree
// put right after the message of the error carrying it, where the error
// itself would have said it.
func Message(err error, word func(Remedy) string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	walk(err, func(c Carrier) bool {
		r := c.Remedy()
		if r.Kind == None {
			return true
		}
		w := word(r)
		if w == "" {
			return true
		}
		s := c.Error()
		if i := strings.Index(msg, s); i >= 0 {
			i += len(s)
			msg = msg[:i] + w + msg[i:]
		}
		return true
	})
	return msg
}

// walk calls f for each Carrier in err's tree, outermost first, until f
// returns false.
func walk(err error, f func(Carrier) bool) bool {
	if err == nil {
		return true
	}
	if c, ok := err.(Carrier); ok && !f(c) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walk(e, f) {
				return false
			}
		}
	}
	return true
}

var _ Carrier = (*Error)(nil)
