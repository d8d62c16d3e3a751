package cli

import (
	"fmt"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// message is err's message with the next steps its errors carry, worded
// in the command line's terms where each error would say them.
func message(err error) string { return remedy.Message(err, words) }

// words says a next step in flags and commands, as the text that follows
// the message of the error carrying it: the one place next steps are
// worded.
func words(r remedy.Remedy) string {
	if w, ok := wording[r.Kind]; ok {
		return w(r)
	}
	return ""
}

// says words a next step that needs nothing from its remedy.
func says(s string) func(remedy.Remedy) string { return func(remedy.Remedy) string { return s } }

// wording holds the words of each kind of next step.
var wording = map[remedy.Kind]func(remedy.Remedy) string{
	remedy.LoginRegistry: func(r remedy.Remedy) string { return "; " + login(r) },
	remedy.LoginAsOther: func(r remedy.Remedy) string {
		return "; check that the account may use this repository, or log in as one that may: " + login(r)
	},
	remedy.LoginForLimit: func(r remedy.Remedy) string { return "; wait and try again, or log in for a higher limit: " + login(r) },
	remedy.RaiseRegistryTimeout: says("; check that the registry is up and reachable from here; if it is only slow, allow more with --network-timeout or " +
		deadline.EnvVar + " (e.g. headers=2m,idle=5m)"),
	remedy.RaiseClusterTimeout: says("; check that the cluster is up and reachable from here; if it is only slow, allow more with --network-timeout or " + deadline.EnvVar),
	remedy.RaisePushTimeout:    says("; check the remote is reachable, or raise --network-timeout retries=DURATION"),
	remedy.ForceTag:            says("; versions are immutable: release a new version, or use --force to move the tag"),
	remedy.WaitLock: func(r remedy.Remedy) string {
		return fmt.Sprintf("\nwait for it with --wait-lock[=DURATION]; if that run is dead, its lock expires %s after its last renewal; "+
			"to take it now: --break-lock --reason \"why\" (Lease %s/%s)", r.Expiry, r.Namespace, r.Lease)
	},
	remedy.ReasonToBreak:  says(": --break-lock needs --reason \"why\"; it is recorded"),
	remedy.ReasonToSkip:   says(": --skip-gate needs --reason \"why\"; it is recorded"),
	remedy.ForceConflicts: says("; another tool manages these fields; pass --force-conflicts to take them over"),
	remedy.ChooseContext: func(r remedy.Remedy) string {
		return fmt.Sprintf("; set environments.%s.context in %s, pass --context, or point KUBECONFIG at the right file", r.Env, r.File)
	},
	remedy.OtherContext: says("; refresh them (e.g. your cloud's get-credentials command) or pick another context with --context"),
	remedy.RunDoctor:    says(" (see `slipway doctor`)"),
	remedy.DeployAgain:  func(r remedy.Remedy) string { return fmt.Sprintf("\nnext: run `slipway deploy %s` again", r.Env) },
	remedy.FollowDeploy: func(r remedy.Remedy) string {
		return fmt.Sprintf("\nnext: run `slipway status %s` to follow it; `slipway deploy %s` again judges it (a no-op once it is healthy); `slipway rollback %s` undoes it", r.Env, r.Env, r.Env)
	},
	remedy.RollbackAgain: func(r remedy.Remedy) string { return fmt.Sprintf("\nnext: run `slipway rollback %s` again", r.Env) },
	remedy.FollowRollback: func(r remedy.Remedy) string {
		return fmt.Sprintf("\nnext: run `slipway status %s` to follow it", r.Env)
	},
	remedy.SkipGate: says("; deploy it there first, or pass --skip-gate --reason \"...\""),
	remedy.BuildFirst: func(r remedy.Remedy) string {
		if r.Stale {
			return "; run `slipway build` first (or --allow-stale)"
		}
		return "; run `slipway build` first"
	},
	remedy.PushFirst: func(r remedy.Remedy) string {
		return fmt.Sprintf("; push it first: slipway push %s (or promote it to registry %s)", r.Env, r.Registry)
	},
	remedy.OverwriteInit: says("; use --force to overwrite"),
	remedy.GenerateCI:    says("; make them with `slipway pipeline generate --target T`"),
	remedy.RegenerateCI:  says("; run `slipway pipeline generate` and commit the result"),
	remedy.SignPromotion: func(r remedy.Remedy) string {
		return fmt.Sprintf("; promote it from %s with signing.promote in %s (or promote --sign)", r.Env, r.File)
	},
	remedy.PointKubeconfig: says("; point --kubeconfig or KUBECONFIG at a valid kubeconfig file"),
	remedy.PickContext:     func(r remedy.Remedy) string { return "; " + r.Hint + " or pick another context with --context" },
	remedy.RunInit:         says(" (create one with `slipway init`)"),
	remedy.ListTasks:       says("; `slipway tasks` lists them"),
	remedy.MakeKeyPair:     func(r remedy.Remedy) string { return "; " + r.Hint + "; `slipway keys generate` makes a pair" },
	remedy.PushOrPromote: func(r remedy.Remedy) string {
		return fmt.Sprintf("; push it with `slipway push %s`, or copy it from another registry with `slipway promote FROM %s`", r.Env, r.Env)
	},
	remedy.PushThere: func(r remedy.Remedy) string {
		return fmt.Sprintf("; push it there first with `slipway push %s`", r.Registry)
	},
	remedy.KeepKeyPair: says("; keep it, or pass --force to replace the pair"),
	remedy.NewKeyPair:  says("; replace it with the public key made with the private one, or run `slipway keys generate --force` for a new pair"),
	// On a line of its own, as a hint.
	remedy.RunAgain: says("\ninterrupted; re-run the command to finish"),
	remedy.RunBuildTask: func(r remedy.Remedy) string {
		if r.Task != "" {
			return fmt.Sprintf("; the %s task %s should make it: run `slipway ci %s` first", r.File, r.Task, r.Task)
		}
		return fmt.Sprintf("; make it first: a task in %s that CI runs before build (run one here with `slipway ci TASK`), or point the layer's from at what the build writes", r.File)
	},
	remedy.CommitNoWait: func(r remedy.Remedy) string {
		return fmt.Sprintf("; commit without waiting with `slipway deploy %s --no-wait`, then follow the engine yourself", r.Env)
	},
	remedy.GitOpsRaced: func(r remedy.Remedy) string {
		return fmt.Sprintf("; others are pushing to the environment repository: run `slipway deploy %s --no-wait` again", r.Env)
	},
	remedy.DropNoWait: func(r remedy.Remedy) string {
		return fmt.Sprintf("; --no-wait is for GitOps environments: run `slipway deploy %s` without it", r.Env)
	},
	remedy.GitOpsPending: func(r remedy.Remedy) string {
		return fmt.Sprintf("; `slipway status %s` gives the verdict once the engine applies it, and `slipway doctor %s` checks the engine's object", r.Env, r.Env)
	},
	remedy.GitOpsConflict: func(r remedy.Remedy) string {
		return fmt.Sprintf("; look at that commit in the environment repository (keep or undo it), then run `slipway deploy %s --no-wait` again", r.Env)
	},
}

// login is how to log in to the registry of r.
func login(r remedy.Remedy) string {
	h := fmt.Sprintf("run `docker login %s`", r.Host)
	if r.Registry != "" {
		u, p := config.RegistryEnvVars(r.Registry)
		h += fmt.Sprintf(" or set %s and %s", u, p)
	}
	return h
}
