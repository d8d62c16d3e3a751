#!/usr/bin/env bash
# gitlab-ci-local.sh: runs the .gitlab-ci.yml Slipway generates for
# examples/static-site with gitlab-ci-local (shell executor, no Docker), on
# copies of the example in fresh git repositories whose origin is a local
# bare repository, against registries and a Kubernetes control plane
# (hack/testenv/k8s.sh: kwok nodes, pods turn Ready without running), all on
# 127.0.0.1.
#
#  1. A copy whose ciBuild fails (its command is `exit 1`): the pipeline
#     fails at ciBuild and pushes nothing: no tag in the remote, no
#     repository in either registry, no Deployment.
#  2. The example as committed, plus signing.key env://DOCS_SIGNING_KEY and
#     a verify key for prod in DOCS_VERIFY_KEY, given as CI/CD variables
#     (a gitlab-ci-local variables file): every job from ciBuild to
#     deploy-dev and promote-dev-to-rc passes, deploy-prod waits as a manual
#     job; then it is run by name, as a person pressing play would. Each
#     job's output must hold the step summaries slipway prints on a
#     workstation (push signs, deploy prod verifies); the remote must have tag
#     v0.1.0, both registries 0.1.0 with one digest, docs-dev and docs-prod a
#     Deployment of that digest, and no output or generated file the key or
#     its password.
#  3. The example with prod a GitOps environment (engine none) of an
#     environment repository that hack/testenv/githttp serves over smart
#     HTTP with basic auth: deploy-prod, given SLIPWAY_GITOPS_PROD_TOKEN as
#     a CI/CD variable, commits prod's manifests pinned to the promoted
#     digest, with the deploy's trailers, and ends (--no-wait); the token is
#     in no output or generated file.
#
#   GITLAB_CI_LOCAL_VERSION  the npm package's version (pinned below)
#   PORT                     the dev registry's port (default 15500; rc is
#                            PORT+1)
#   SLIPWAY_APISERVER_PORT and the other k8s.sh ports: defaults below, apart
#                            from k8s.sh's own and the test suite's (make demo
#                            and the testscripts may run beside it)
#   NO_BUILD=1               use bin/slipway as it is, without make build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${GITLAB_CI_LOCAL_VERSION:-4.56.2} # 4.57 and later need Node 22
dev_port=${PORT:-15500}
rc_port=$((dev_port + 1))
export SLIPWAY_APISERVER_PORT=${SLIPWAY_APISERVER_PORT:-24443}
export SLIPWAY_ETCD_PORT=${SLIPWAY_ETCD_PORT:-24379}
export SLIPWAY_ETCD_PEER_PORT=${SLIPWAY_ETCD_PEER_PORT:-24380}
export SLIPWAY_KCM_PORT=${SLIPWAY_KCM_PORT:-24457}
export SLIPWAY_SCHEDULER_PORT=${SLIPWAY_SCHEDULER_PORT:-24459}
export SLIPWAY_KWOK_PORT=${SLIPWAY_KWOK_PORT:-24250}
export SLIPWAY_NODES=${SLIPWAY_NODES:-1}
tools=$root/bin/gitlab-ci-local-$version
glci=$tools/node_modules/.bin/gitlab-ci-local
k8s=$root/hack/testenv/k8s.sh
reg=$root/hack/testenv/registry.sh

script=gitlab-ci-local.sh
# shellcheck source=hack/lib/static-site-ci.sh
source "$root/hack/lib/static-site-ci.sh"
for tool in node npm rsync git curl; do
	command -v "$tool" >/dev/null || fail "needs $tool (apt-get install nodejs npm rsync git curl)"
done
if [ ! -x "$glci" ]; then
	# re2, a dependency, compiles its native module here rather than fetch a
	# prebuilt one from outside the npm registry. node-gyp would download
	# Node's headers from the web unless told where they are: Debian's nodejs
	# installs them under /usr/include/node, so point it there whatever the
	# user's npm settings say.
	nodedir=${npm_config_nodedir:-/usr}
	[ -f "$nodedir/include/node/common.gypi" ] ||
		fail "needs Node's C headers in $nodedir/include/node to build re2 (Debian's nodejs package has them: apt-get install nodejs; or set npm_config_nodedir)"
	npm_config_nodedir=$nodedir DEVELOPMENT_SKIP_GETTING_ASSET=true \
		npm install --prefix "$tools" --no-audit --no-fund "gitlab-ci-local@$version" >/dev/null
fi
[ "${NO_BUILD:-}" = 1 ] || make -C "$root" --no-print-directory build >/dev/null

start_env

# commit DIR: generates .gitlab-ci.yml and commits everything.
commit() {
	(cd "$1" && PATH=$root/bin:$PATH slipway pipeline generate --target gitlab >/dev/null)
	git -C "$1" add -A
	git -C "$1" -c user.name=CI -c user.email=ci@example.com commit -qm "feat: the site"
}

# run NAME [JOB...]: gitlab-ci-local in $work/NAME. The release job points
# origin at $CI_SERVER_URL/$CI_PROJECT_PATH.git, as on GitLab: here that is
# the bare repository. DOCS_KUBECONFIG stands for the File variable ci.yaml's
# credentials name (KUBECONFIG itself is not passed on). State stays outside
# the checkout, which the release must find clean.
run() {
	local name=$1
	shift
	(cd "$work/$name" && env -u KUBECONFIG PATH="$root/bin:$PATH" "$glci" --shell-executor-no-image --no-color \
		--state-dir "../$name-state" \
		--variable "CI_SERVER_URL=file://$work" --variable "CI_PROJECT_PATH=$name-remote" \
		--variable "DOCS_KUBECONFIG=$SLIPWAY_TESTENV/kubeconfig" "$@")
}

## 1. A broken ciBuild: the pipeline fails and nothing is pushed.
broken=$(project broken)
break_ci_build "$broken"
commit "$broken"
if run broken >"$work/broken.log" 2>&1; then
	fail "the pipeline whose ciBuild fails passed:
$(cat "$work/broken.log")"
fi
has "$work/broken.log" '^ FAIL +ciBuild'
! grep -Eq '^(release|build|push-dev) +\$ ' "$work/broken.log" || fail "jobs ran after ciBuild failed:
$(cat "$work/broken.log")"
nothing_pushed broken
echo "gitlab-ci-local.sh: a failing ciBuild fails the pipeline; nothing pushed" >&2

## 2. The example's pipeline, from ciBuild to deploy prod.
cluster_up
# The broken pipeline deployed nothing either.
no_deployments
site=$(project static-site)
# Signed, as a team keeping its keys in CI variables would: push signs with
# the key in DOCS_SIGNING_KEY (its password in DOCS_SIGNING_KEY_PASSWORD),
# and deploy prod verifies with the public key in DOCS_VERIFY_KEY.
make_keys
echo 'signing: {key: env://DOCS_SIGNING_KEY}' >>"$site/slipway.yaml"
sed -i 's/^\(  prod: {.*\)}$/\1, verify: {key: env:\/\/DOCS_VERIFY_KEY}}/' "$site/slipway.yaml"
grep -q 'verify: {key: env://DOCS_VERIFY_KEY}}$' "$site/slipway.yaml" || fail "could not add verify to prod in slipway.yaml"
{
	echo 'DOCS_SIGNING_KEY: |'
	sed 's/^/  /' "$work/keys/cosign.key"
	echo 'DOCS_VERIFY_KEY: |'
	sed 's/^/  /' "$work/keys/cosign.pub"
	echo "DOCS_SIGNING_KEY_PASSWORD: $password"
} >"$work/variables.yml"
commit "$site"
has "$site/.gitlab-ci.yml" '^#   DOCS_SIGNING_KEY: ' '^#   DOCS_SIGNING_KEY_PASSWORD: ' '^#   DOCS_VERIFY_KEY: ' \
	"^    SLIPWAY_SIGNING_PASSWORD: \\\$DOCS_SIGNING_KEY_PASSWORD\$"
# deploy prod is a manual job that holds the pipeline (allow_failure false).
run static-site --list >"$work/list.log" 2>&1 || fail "gitlab-ci-local --list failed: $(cat "$work/list.log")"
has "$work/list.log" '^deploy-prod +deploy-prod +manual +false'
run static-site --variables-file ../variables.yml >"$work/pipeline.log" 2>&1 || fail "the pipeline failed:
$(cat "$work/pipeline.log")"
cat "$work/pipeline.log"
for job in ciBuild ciLint release build push-dev deploy-dev promote-dev-to-rc; do
	has "$work/pipeline.log" "^ PASS +$job *\$"
done
# deploy prod is manual: the pipeline waits for it, and nothing is in prod.
! grep -Eq '^deploy-prod +\$ ' "$work/pipeline.log" || fail "the manual job deploy-prod ran by itself"
[ -z "$(kubectl get deployments -n docs-prod -o name 2>/dev/null)" ] || fail "docs-prod has a Deployment before anyone approved"
# The step summaries, as slipway prints them on a workstation.
has "$work/pipeline.log" \
	'^release +> ✓ push +pushed v0\.1\.0 to origin$' \
	'^release +> ✓ release +tagged [0-9a-f]+ as v0\.1\.0 \(first release\)$' \
	'^build +> ✓ build +built docs 0\.1\.0 for linux/amd64, linux/arm64$' \
	"^push-dev +> ✓ push +pushed 127\\.0\\.0\\.1:$dev_port/web/docs:0\\.1\\.0" \
	"^push-dev +> ✓ push +signed 127\\.0\\.0\\.1:$dev_port/web/docs@sha256:[0-9a-f]{64} as 127\\.0\\.0\\.1:$dev_port/web/docs:sha256-[0-9a-f]{64}\\.sig\$" \
	"^deploy-dev +> ✓ deploy +docs 0\\.1\\.0 runs in dev \\(revision 1" \
	"^promote-dev-to-rc +> ✓ promote +promoted sha256:[0-9a-f]{12} from dev to rc"

# Someone presses play on deploy-prod.
run static-site --variables-file ../variables.yml deploy-prod >"$work/prod.log" 2>&1 || fail "deploy-prod failed:
$(cat "$work/prod.log")"
cat "$work/prod.log"
has "$work/prod.log" '^ PASS +deploy-prod *$' \
	"^deploy-prod +> ✓ deploy +signature verified with env://DOCS_VERIFY_KEY: 127\\.0\\.0\\.1:$rc_port/web/docs@sha256:" \
	"^deploy-prod +> ✓ deploy +docs 0\\.1\\.0 runs in prod \\(revision 1"

# End state: the tag, one digest in both registries, Deployments of it.
pushed=$(grep -Eo "^push-dev +> 127\\.0\\.0\\.1:$dev_port/web/docs@sha256:[0-9a-f]{64}\$" "$work/pipeline.log" | sed 's/.*@//')
[ -n "$pushed" ] || fail "push-dev printed no digest"
end_state static-site "$pushed"
# No secret reaches the output or the generated file.
key_line=$(sed -n 2p "$work/keys/cosign.key")
for f in "$work/pipeline.log" "$work/prod.log" "$site/.gitlab-ci.yml"; do
	! grep -qF -e "$password" -e "$key_line" "$f" || fail "$f holds the signing key or its password"
done
echo "gitlab-ci-local.sh: tag $tag pushed; $pushed in 127.0.0.1:$dev_port and :$rc_port, deployed to docs-dev and docs-prod" >&2

## 3. prod as a GitOps environment: deploy-prod commits to an environment
## repository served over smart HTTP with basic auth, with the token the
## generated job hands it (SLIPWAY_GITOPS_PROD_TOKEN as SLIPWAY_GIT_TOKEN).
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/githttp" ./hack/testenv/githttp)
mkdir -p "$work/git"
git init -q --bare -b main "$work/git/env.git"
seed=$work/env-seed
git init -q -b main "$seed"
echo "resources: []" >"$seed/kustomization.yaml"
git -C "$seed" add -A
git -C "$seed" -c user.name=Ops -c user.email=ops@example.com commit -qm "the environment repository"
git -C "$seed" push -q "$work/git/env.git" main
git_token=tok-$RANDOM$RANDOM$RANDOM
GITHTTP_PASS=$git_token "$work/githttp" -root "$work/git" -user x-access-token -addr-file "$work/githttp.addr" \
	>/dev/null 2>"$work/githttp.log" </dev/null &
git_pid=$!
trap 'kill "$git_pid" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do [ -s "$work/githttp.addr" ] && break; sleep 0.05; done
[ -s "$work/githttp.addr" ] || fail "the git server did not start: $(cat "$work/githttp.log")"
env_url=http://$(cat "$work/githttp.addr")/env.git
ops=$(project gitops)
# Its own repositories and namespaces, apart from run 2's.
sed -i -e "s|/web, insecure|/ops, insecure|" -e "s/docs-dev/docs-ops-dev/" \
	-e "s|^\(  prod: {.*\)}\$|\1, gitops: {repo: \"$env_url\", path: envs/prod}}|" "$ops/slipway.yaml"
grep -q "gitops: {repo: \"$env_url\", path: envs/prod}}\$" "$ops/slipway.yaml" || fail "could not make prod a GitOps environment in slipway.yaml"
commit "$ops"
has "$ops/.gitlab-ci.yml" '^#   SLIPWAY_GITOPS_PROD_TOKEN: ' '^ +SLIPWAY_GIT_TOKEN: \$SLIPWAY_GITOPS_PROD_TOKEN$' \
	'deploy prod --no-deps --no-wait'
echo "SLIPWAY_GITOPS_PROD_TOKEN: $git_token" >"$work/ops-variables.yml"
run gitops --variables-file ../ops-variables.yml >"$work/ops.log" 2>&1 || fail "the GitOps pipeline failed:
$(cat "$work/ops.log")"
run gitops --variables-file ../ops-variables.yml deploy-prod >"$work/ops-prod.log" 2>&1 || fail "deploy-prod (GitOps) failed:
$(cat "$work/ops-prod.log")"
cat "$work/ops-prod.log"
has "$work/ops-prod.log" '^ PASS +deploy-prod *$' '^deploy-prod +> committed, verdict pending [0-9a-f]{40}$'
ops_pushed=$(grep -Eo "^push-dev +> 127\.0\.0\.1:$dev_port/ops/docs@sha256:[0-9a-f]{64}\$" "$work/ops.log" | sed 's/.*@//')
[ -n "$ops_pushed" ] || fail "push-dev printed no digest"
# The environment repository holds the commit: prod's manifests pinned to the
# promoted digest in rc, with the deploy's trailers.
git -C "$work/git/env.git" show main:envs/prod/docs.yaml | grep -q "image: 127\.0\.0\.1:$rc_port/ops/docs@$ops_pushed\$" ||
	fail "envs/prod/docs.yaml does not pin 127.0.0.1:$rc_port/ops/docs@$ops_pushed: $(git -C "$work/git/env.git" show main:envs/prod/docs.yaml | grep image:)"
msg=$(git -C "$work/git/env.git" log -1 --format=%B main)
for want in "Slipway-Version: 0.1.0" "Slipway-Digest: $ops_pushed" "Slipway-Env: prod"; do
	grep -qxF "$want" <<<"$msg" || fail "the commit's message lacks '$want':
$msg"
done
for f in "$work/ops.log" "$work/ops-prod.log" "$ops/.gitlab-ci.yml"; do
	! grep -qF "$git_token" "$f" || fail "$f holds the git token"
done
echo "gitlab-ci-local.sh: ok (run 2: tag $tag, $pushed deployed to docs-dev and docs-prod; run 3: prod committed to the environment repository at $(git -C "$work/git/env.git" rev-parse --short main))"
