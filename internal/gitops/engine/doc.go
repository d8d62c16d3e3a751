// Package engine adapts the GitOps engines that apply an environment repository: it finds an engine's object for an environment, nudges it, and reads what the engine did with one exact commit.
//
// # Flux
//
// Flux applies a path of a GitRepository through a Kustomization
// (kustomize.toolkit.fluxcd.io/v1, source.toolkit.fluxcd.io/v1). The
// adapter reads and patches both with a dynamic client; it needs get and
// list on both kinds and patch, nothing else.
//
//   - Find returns the Kustomization whose GitRepository source has the
//     environment's repository (URLs compared by host, port and path:
//     scheme, user, a trailing ".git" or "/" and the host's case aside),
//     branch (Flux's default is master) and path ("./envs/dev", "envs/dev"
//     and "envs/dev/" are one; "", "." and "./" are the root), or the one
//     Flux.Object names. None, or more than one, is an error wrapping
//     ErrNotFound or ErrAmbiguous that lists what there is and says what
//     to set.
//   - Nudge sets reconcile.fluxcd.io/requestedAt to the time, with a merge
//     patch, on the GitRepository and then on the Kustomization, as `flux
//     reconcile kustomization --with-source` does. No webhook is needed.
//   - Wait polls both objects until Classify gives a final Outcome, or
//     Flux.Timeout passes.
//
// Only revisions count: Ready=True may be an older commit's, and a
// suspended Kustomization still updates lastHandledReconcileAt. Classify,
// a pure function of the two objects' status, is the specification of the
// outcomes:
//
//   - Applied: lastAttemptedRevision is our commit and Ready is not False
//     (or False only because a newer reconciliation cancelled Flux's
//     health check, HealthCheckCanceled: the nudge of the Kustomization
//     does that to the health check its source's nudge started).
//     Flux records lastAppliedRevision and Ready=True only after its next
//     health poll (every 5 s, fixed); Slipway does not wait for it, the
//     caller judges the pods with deploy's verdict. Outcome.Confirmed says
//     whether Flux had already recorded it.
//   - Failed: lastAttemptedRevision is our commit and Ready is False: the
//     engine could not build or apply it (BuildFailed,
//     ReconciliationFailed, HealthCheckFailed). The engine's message is
//     quoted on one line, cleaned for a terminal, without the temporary
//     directory Flux builds in, and cut.
//   - Superseded: the source or the Kustomization is at a commit that
//     descends from ours (Wait's Descends says so): ours will never
//     be applied alone. Outcome.Commit names that commit; who made it is
//     the environment repository's history's to say.
//   - NotPickedUp: the Kustomization is suspended (at once), or the
//     deadline passed before the engine attempted our commit: the
//     GitRepository's own Ready=False message is quoted when it has one
//     (an authentication failure, an unreachable server).
//
// The verdict on the pods is not here: it stays deploy.Judge's.
package engine
