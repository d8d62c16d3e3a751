// Package gitops owns the environment repository of GitOps mode: a bounded shallow fetch of one branch, commits of Slipway's own files under an environment's path with trailers, fast-forward pushes that rebase once over a concurrent push, reverts, restores and the history of the path.
//
// The repository is held in memory, never in a work tree: an environment
// repository holds small text files, a shallow fetch of one branch takes
// well under a second, and with nothing on disk a run killed at any moment
// leaves nothing half-written behind, and two runs never share a cache.
//
// # What Slipway owns
//
// Slipway owns exactly the files a Change names, relative to the
// environment's path: by convention one file per app, AppFile(app), that
// holds every manifest of the app. Other files under the path (a
// kustomization.yaml, other apps' files, anything a person added) are
// never read into a commit, changed or removed. Two apps deploying to one
// environment therefore never touch the same file, and a push that lost a
// race is made again on the new head without a merge. A file Slipway owns
// that someone else changed between Slipway's fetch and its push is a
// conflict Slipway refuses (ErrConflict) rather than overwrite unseen;
// a file changed before the fetch is simply replaced.
//
// # Layouts
//
// Both layouts are an Options.Branch and an Options.Path: a directory per
// environment on one branch (Branch "main", Path "envs/prod"), or a branch
// per environment (Branch "env/prod", Path "." or a directory). A branch
// that does not exist yet starts with Slipway's first commit, with no
// parent.
//
// The verdict on what an engine did with a commit is not here: it stays
// deploy.Judge's.
package gitops
