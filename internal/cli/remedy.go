package cli

import (
	"fmt"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// message is err's message with the next steps its errors carry, worded
// in the command line's terms where each error would say them.
func message(err error) string { return remedy.Message(err, words) }

// words says a next step in flags and commands, as the text that follows
// the message of the error carrying it.
func words(r remedy.Remedy) string {
	switch r.Kind {
	case remedy.LoginRegistry:
		return "; " + login(r)
	case remedy.LoginAsOther:
		return "; check that the account may use this repository, or log in as one that may: " + login(r)
	case remedy.LoginForLimit:
		return "; wait and try again, or log in for a higher limit: " + login(r)
	case remedy.RaiseRegistryTimeout:
		return "; check that the registry is up and reachable from here; if it is only slow, allow more with --network-timeout or " + deadline.EnvVar + " (e.g. headers=2m,idle=5m)"
	case remedy.RaiseClusterTimeout:
		return "; check that the cluster is up and reachable from here; if it is only slow, allow more with --network-timeout or " + deadline.EnvVar
	case remedy.RaisePushTimeout:
		return "; check the remote is reachable, or raise --network-timeout retries=DURATION"
	case remedy.ForceTag:
		return "; versions are immutable: release a new version, or use --force to move the tag"
	case remedy.WaitLock:
		return fmt.Sprintf("\nwait for it with --wait-lock[=DURATION]; if that run is dead, its lock expires %s after its last renewal; "+
			"to take it now: --break-lock --reason \"why\" (Lease %s/%s)", r.Expiry, r.Namespace, r.Lease)
	case remedy.ReasonToBreak:
		return ": --break-lock needs --reason \"why\"; it is recorded"
	case remedy.ReasonToSkip:
		return ": --skip-gate needs --reason \"why\"; it is recorded"
	case remedy.ForceConflicts:
		return "; another tool manages these fields; pass --force-conflicts to take them over"
	case remedy.ChooseContext:
		return fmt.Sprintf("; set environments.%s.context in %s, pass --context, or point KUBECONFIG at the right file", r.Env, r.File)
	case remedy.OtherContext:
		return "; refresh them (e.g. your cloud's get-credentials command) or pick another context with --context"
	case remedy.RunDoctor:
		return " (see `slipway doctor`)"
	case remedy.DeployAgain:
		return fmt.Sprintf("\nnext: run `slipway deploy %s` again", r.Env)
	case remedy.FollowDeploy:
		return fmt.Sprintf("\nnext: run `slipway status %s` to follow it; `slipway deploy %s` again judges it (a no-op once it is healthy); `slipway rollback %s` undoes it", r.Env, r.Env, r.Env)
	case remedy.RollbackAgain:
		return fmt.Sprintf("\nnext: run `slipway rollback %s` again", r.Env)
	case remedy.FollowRollback:
		return fmt.Sprintf("\nnext: run `slipway status %s` to follow it", r.Env)
	case remedy.SkipGate:
		return "; deploy it there first, or pass --skip-gate --reason \"...\""
	case remedy.BuildFirst:
		if r.Stale {
			return "; run `slipway build` first (or --allow-stale)"
		}
		return "; run slipway build first"
	case remedy.PushFirst:
		return fmt.Sprintf("; push it first: slipway push %s (or promote it to registry %s)", r.Env, r.Registry)
	case remedy.OverwriteInit:
		return "; use --force to overwrite"
	case remedy.GenerateCI:
		return "; make them with `slipway pipeline generate --target T`"
	case remedy.RegenerateCI:
		return "; run `slipway pipeline generate` and commit the result"
	case remedy.SignPromotion:
		return fmt.Sprintf("; promote it from %s with signing.promote in %s (or promote --sign)", r.Env, r.File)
	case remedy.PointKubeconfig:
		return "; point --kubeconfig or KUBECONFIG at a valid kubeconfig file"
	case remedy.PickContext:
		return "; " + r.Hint + " or pick another context with --context"
	case remedy.RunInit:
		return " (create one with `slipway init`)"
	case remedy.ListTasks:
		return "; `slipway tasks` lists them"
	case remedy.MakeKeyPair:
		return "; " + r.Hint + "; `slipway keys generate` makes a pair"
	case remedy.PushOrPromote:
		return fmt.Sprintf("; push it with `slipway push %s`, or copy it from another registry with `slipway promote FROM %s`", r.Env, r.Env)
	case remedy.PushThere:
		return fmt.Sprintf("; push it there first with `slipway push %s`", r.Registry)
	case remedy.KeepKeyPair:
		return "; keep it, or pass --force to replace the pair"
	case remedy.NewKeyPair:
		return "; replace it with the public key made with the private one, or run `slipway keys generate --force` for a new pair"
	}
	return ""
}

// login is how to log in to the registry of r.
func login(r remedy.Remedy) string {
	h := fmt.Sprintf("run `docker login %s`", r.Host)
	if r.Registry != "" {
		u, p := registry.EnvVars(r.Registry)
		h += fmt.Sprintf(" or set %s and %s", u, p)
	}
	return h
}
