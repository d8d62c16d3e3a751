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
//     does that to the health check its source's nudge started), and Flux
//     is past its stages before the apply: Flux records the revision as it
//     starts building it, and its Reconciling condition says "Building
//     manifests", then "Detecting drift" for it until it applies.
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
//
// # Argo CD
//
// Argo CD applies a path of a git repository through an Application
// (argoproj.io/v1alpha1). The adapter reads and patches it with a dynamic
// client; it needs get and list on Applications and patch, nothing else.
// It is tested against Argo CD's own Application CRD on a real API
// server, with a simulated controller in place of Argo CD's (which cannot
// run here): TestArgoCDSimulated.
//
//   - Find returns the Application with a git source (spec.source, or one
//     of spec.sources; Helm charts, OCI artifacts and ref-only sources
//     aside) that has the environment's repository, branch and path,
//     compared as for Flux, or the one ArgoCD.Object names (NAME is looked
//     up in ArgoCD.Namespace, or argocd). The branch is
//     spec.source.targetRevision, "refs/heads/" aside. A targetRevision
//     of "HEAD" or "" follows the repository's default branch, which the
//     adapter does not know: such a source matches any branch, but only
//     when no Application names the branch itself. None, or more than
//     one, is an error wrapping ErrNotFound or ErrAmbiguous, as Flux's.
//   - Nudge sets argocd.argoproj.io/refresh to "normal" (and
//     argocd.argoproj.io/refresh-timestamp to the time) with a merge patch,
//     as `argocd app get --refresh` does. With automated sync, the refresh
//     that finds our commit syncs it.
//   - Wait polls the Application until ClassifyApplication gives a final
//     Outcome, or ArgoCD.Timeout passes.
//
// Only revisions count, of the one source that applies the environment
// (status.sync.revisions[i] for spec.sources[i]); status.health is not
// read. ClassifyApplication, a pure function of the Application's status,
// is the specification of the outcomes:
//
//   - Applied: the last sync operation
//     (status.operationState.syncResult.revision, or its
//     operation.sync.revision) is our commit and ended Succeeded; or
//     status.sync.revision is our commit and status.sync.status Synced
//     (our commit changed nothing of the Application's: Argo CD syncs
//     nothing). Outcome.Confirmed is always true: Argo CD records both
//     only once done. While that operation is Running or Terminating, Wait
//     keeps looking, even past a newer commit.
//   - Failed: that operation ended Failed or Error (Reason SyncFailed or
//     SyncError); its operationState.message is quoted, cleaned and cut as
//     Flux's. A sync of our commit still running at the deadline is Failed
//     too (SyncNotFinished): Argo CD retries a failing apply, and waits
//     for hooks and sync waves, in that phase.
//   - Superseded: status.sync.revision or the last operation's revision is
//     a commit that descends from ours.
//   - NotPickedUp: the Application has no automated sync (its
//     spec.syncPolicy.automated is missing, or enabled: false): Argo CD
//     never syncs it by itself, so this is said at once (Reason
//     AutoSyncOff). Or the deadline passed before a sync of our commit:
//     the Application's first *Error condition (ComparisonError,
//     SyncError, InvalidSpecError, ...) is quoted when it has one.
package engine
