#!/usr/bin/env bash
# github-act.sh: runs the GitHub Actions workflow Slipway generates for
# examples/static-site with nektos/act on the host (-P
# ubuntu-latest=-self-hosted: no Docker, every step runs here, with
# bin/slipway on PATH), on copies of the example in fresh git repositories
# whose origin is a local bare repository, against registries and a
# Kubernetes control plane (hack/testenv/k8s.sh: kwok nodes, pods turn Ready
# without running), all on 127.0.0.1. Nothing is downloaded: for the
# repository's own actions/checkout act copies the local repository (.git
# included) into the job's workspace instead of fetching the action, and
# actions/cache, which the steps installing Slipway use, is mapped to a
# stand-in (hack/act/cache, a cache in a directory of the test's). Generated
# as a release would (--slipway-version 0.0.0-act), each job has those
# steps; in runs 1 and 2, finding bin/slipway on the PATH, it skips the
# cache and the install.
#
#  1. A copy whose ciBuild fails (its command is `exit 1`), run verbose to
#     show act skipping actions/checkout: the run fails at ciBuild and
#     pushes nothing: no tag in the remote, no repository in either
#     registry, no Deployment.
#  2. The example as committed, plus signing.key env://DOCS_SIGNING_KEY and
#     a verify key for prod in DOCS_VERIFY_KEY, given as act gives secrets
#     (--secret-file, a dotenv file; DOCS_KUBECONFIG holds the kubeconfig's
#     content, as the repository secret would): every job passes, deploy
#     prod included. act has no environment protection rules: the job with
#     `environment: prod` runs as soon as the job it needs has passed, where
#     GitHub would wait for a required reviewer. Each step's output must hold
#     the summaries slipway prints on a workstation; the remote must have tag
#     v0.1.0, both registries 0.1.0 with one digest, docs-dev and docs-prod a
#     Deployment of that digest, and no output or generated file the key,
#     its password or the kubeconfig's client key (act masks secrets too).
#  3. A workflow of one task (slipway --version), run twice on a runner
#     without slipway on its PATH, each time with an empty tool cache, as a
#     fresh GitHub runner: cold, the cache misses, go install builds
#     v0.0.0-act (fresh Go caches) from a local module proxy made from this
#     checkout's HEAD, and the cache's post step saves it; warm, the cache
#     restores it and go does not run. Each job must run the installed
#     v0.0.0-act; the script prints the seconds act measured for the steps
#     that install Slipway (Find, Restore and its post step, Install) in
#     each, asserting only which way each took.
#
#   ACT_VERSION   nektos/act's version, built from the Go module proxy into
#                 bin/act-VERSION (pinned below)
#   PORT          the dev registry's port (default 15700; rc is PORT+1)
#   SLIPWAY_APISERVER_PORT and the other k8s.sh ports: defaults below, apart
#                 from k8s.sh's own, the test suite's and gitlab-ci-local.sh's
#   NO_BUILD=1    use bin/slipway as it is, without make build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
act_version=${ACT_VERSION:-v0.2.89}
dev_port=${PORT:-15700}
rc_port=$((dev_port + 1))
export SLIPWAY_APISERVER_PORT=${SLIPWAY_APISERVER_PORT:-30443}
export SLIPWAY_ETCD_PORT=${SLIPWAY_ETCD_PORT:-30379}
export SLIPWAY_ETCD_PEER_PORT=${SLIPWAY_ETCD_PEER_PORT:-30380}
export SLIPWAY_KCM_PORT=${SLIPWAY_KCM_PORT:-30457}
export SLIPWAY_SCHEDULER_PORT=${SLIPWAY_SCHEDULER_PORT:-30459}
export SLIPWAY_KWOK_PORT=${SLIPWAY_KWOK_PORT:-30250}
export SLIPWAY_NODES=${SLIPWAY_NODES:-1}
act=$root/bin/act-$act_version/act
slipway_version=0.0.0-act # no release: only the module proxy of run 3 has it
k8s=$root/hack/testenv/k8s.sh
reg=$root/hack/testenv/registry.sh

script=github-act.sh
# shellcheck source=hack/lib/static-site-ci.sh
source "$root/hack/lib/static-site-ci.sh"
for tool in go git curl node tar; do
	command -v "$tool" >/dev/null || fail "needs $tool"
done
if [ ! -x "$act" ]; then
	GOBIN=$root/bin/act-$act_version go install "github.com/nektos/act@$act_version" ||
		fail "could not build nektos/act $act_version from the Go module proxy"
fi
[ "${NO_BUILD:-}" = 1 ] || make -C "$root" --no-print-directory build >/dev/null

start_env

# origin_hook NAME: act's actions/checkout copies the local repository of
# project NAME at the start of each job; GitHub's fetches the repository,
# with the tags earlier jobs pushed (fetch-depth: 0). So that a later job's
# copy holds the release tag, as it would on GitHub, the origin passes the
# tags pushed to it on to the local repository.
origin_hook() {
	local dir=$work/$1
	cat >"$work/$1-remote.git/hooks/post-receive" <<-HOOK
		#!/bin/sh
		exec env -u GIT_DIR git -C '$dir' fetch -q origin '+refs/tags/*:refs/tags/*'
	HOOK
	chmod +x "$work/$1-remote.git/hooks/post-receive"
}

# commit DIR: generates the workflow and commits everything. bin/slipway is
# no release: --slipway-version stands for the release that would generate
# the file, so each job has the steps that install Slipway on a runner
# without it (Find Slipway, actions/cache, go install of that version). In
# runs 1 and 2 Find Slipway finds bin/slipway on the PATH and the other two
# are skipped.
commit() {
	(cd "$1" && PATH=$root/bin:$PATH slipway pipeline generate --target github --slipway-version "$slipway_version" >/dev/null)
	git -C "$1" add -A
	git -C "$1" -c user.name=CI -c user.email=ci@example.com commit -qm "feat: the site"
}

# run NAME [ARG...]: act's push event in $work/NAME, every job on the host.
# act reads no configuration of the user's (HOME and XDG_CONFIG_HOME are
# ours), asks no server for notices (ACT_DISABLE_VERSION_CHECK), and keeps
# its action cache in $work/NAME-act, where whatever it downloaded would be.
# Steps inherit act's environment: KUBECONFIG is not passed on, bin/ leads
# PATH so jobs find slipway, and a proxy where nothing listens fails any
# download from outside 127.0.0.1 (Go and git never proxy loopback).
# act runs each step on a pseudo-terminal, where GitHub gives none:
# NO_COLOR keeps slipway's output as plain as on GitHub. actions/cache, which
# act would download even for a step it skips, is mapped to a stand-in
# (hack/act/cache), only for this offline test; its entries are in
# $work/actions-cache. The array run_env (VAR=VALUE ...) adds to or
# overrides that environment.
run_env=()
run() {
	local name=$1
	shift
	mkdir -p "$work/home"
	(cd "$work/$name" && env -u KUBECONFIG NO_COLOR=1 HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" \
		ACT_DISABLE_VERSION_CHECK=1 HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost \
		SLIPWAY_ACT_CACHE="$work/actions-cache" PATH="$root/bin:$PATH" ${run_env[@]+"${run_env[@]}"} "$act" push -P ubuntu-latest=-self-hosted \
		--action-cache-path "$work/$name-act" --no-cache-server --container-daemon-socket - \
		--local-repository "actions/cache@v4=$root/hack/act/cache" "$@" </dev/null)
}

# fetched NAME: fails if act's cache for NAME holds an action it fetched
# (ORG-REPO@REF, or ORG-REPO.git with --local-repository); beside them are
# only its job directories (16 hex digits) and tool_cache.
fetched() {
	local got
	got=$(find "$work/$1-act" -mindepth 1 -maxdepth 1 -regextype posix-extended ! -regex '.*/[0-9a-f]{16}' ! -name tool_cache 2>/dev/null)
	[ -z "$got" ] || fail "act fetched actions: $got"
}

# goproxy: $work/goproxy, a Go module proxy in GOPROXY's file:// form
# holding github.com/slipwayhq/slipway v$slipway_version: go mod download
# makes the module's .info, .mod and .zip from a clone of this checkout's
# HEAD tagged with that version (git reads the clone for
# https://github.com/slipwayhq/slipway), so a job's go install builds that
# version as it would from proxy.golang.org. Dependencies come from the
# host's module cache, which go reads as a file:// proxy too.
goproxy() {
	git clone -q --bare --depth 1 "file://$root" "$work/slipway.git"
	git -C "$work/slipway.git" tag "v$slipway_version" HEAD
	printf '[url "file://%s"]\n\tinsteadOf = https://github.com/slipwayhq/slipway\n' "$work/slipway.git" >"$work/goproxy.gitconfig"
	(cd "$work" && env GIT_CONFIG_GLOBAL="$work/goproxy.gitconfig" GIT_CONFIG_NOSYSTEM=1 GOPROXY=direct \
		GONOSUMDB=github.com/slipwayhq/slipway GOMODCACHE="$work/goproxy" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
		go mod download "github.com/slipwayhq/slipway@v$slipway_version") ||
		fail "could not make the module proxy of github.com/slipwayhq/slipway v$slipway_version"
}

# seconds LOG STEP...: the seconds act measured for the steps of LOG's job
# named STEP ("Main Find Slipway"), added up. act ends a step's
# "✅  Success - STEP" line with its time as Go prints durations (1m2.5s,
# 3.2s, 15.1ms, 870µs).
seconds() {
	local log=$1 step d total=0
	shift
	for step in "$@"; do
		d=$(grep -F "✅  Success - $step [" "$log" | sed -n 's/.*\[\([^]]*\)\]$/\1/p')
		[ "$(echo "$d" | wc -w)" = 1 ] || fail "no time for step '$step' in $log"
		total=$(echo "$d" | awk -v t="$total" '{
			s = $0
			while (match(s, /^[0-9.]+(h|m|s|ms|µs|us|ns)/)) {
				n = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1); u = n; sub(/^[0-9.]+/, "", u)
				t += n * (u == "h" ? 3600 : u == "m" ? 60 : u == "s" ? 1 : u == "ms" ? 1e-3 : u == "ns" ? 1e-9 : 1e-6)
			}
			print t
		}')
	done
	printf '%.2f' "$total"
}

## 1. A broken ciBuild: the run fails and nothing is pushed.
broken=$(project broken)
origin_hook broken
break_ci_build "$broken"
commit "$broken"
# Verbose, to show how act handles actions/checkout: it copies this local
# repository into the job's workspace instead of running the action.
if run broken --verbose >"$work/broken.log" 2>&1; then
	fail "the run whose ciBuild fails passed:
$(cat "$work/broken.log")"
fi
has "$work/broken.log" 'Skipping local actions/checkout because workdir was already copied' '❌  Failure - Main ciBuild' "Error: Job 'ciBuild \.\.\. promote dev to rc' failed"
! grep -Eq '⭐ Run Main (release|build|push dev)$' "$work/broken.log" || fail "steps ran after ciBuild failed"
! grep -Eq '\[docs/deploy prod\]' "$work/broken.log" || fail "deploy prod ran after ciBuild failed"
nothing_pushed broken
fetched broken
echo "github-act.sh: a failing ciBuild fails the run; nothing pushed" >&2

## 2. The example's workflow, from ciBuild to deploy prod.
cluster_up
# The broken run deployed nothing either.
no_deployments
site=$(project static-site)
origin_hook static-site
# Signed, as a team keeping its keys in repository secrets would: push signs
# with the key in DOCS_SIGNING_KEY (its password in
# DOCS_SIGNING_KEY_PASSWORD), and deploy prod verifies with the public key in
# DOCS_VERIFY_KEY.
make_keys
echo 'signing: {key: env://DOCS_SIGNING_KEY}' >>"$site/slipway.yaml"
sed -i 's/^\(  prod: {.*\)}$/\1, verify: {key: env:\/\/DOCS_VERIFY_KEY}}/' "$site/slipway.yaml"
grep -q 'verify: {key: env://DOCS_VERIFY_KEY}}$' "$site/slipway.yaml" || fail "could not add verify to prod in slipway.yaml"
# The secrets, as act reads them: a dotenv file whose single-quoted values
# span lines as written. DOCS_KUBECONFIG holds the kubeconfig's content, as
# the repository secret the header names does on GitHub.
! grep -q "'" "$SLIPWAY_TESTENV/kubeconfig" "$work/keys/cosign.key" "$work/keys/cosign.pub" ||
	fail "a secret holds a single quote, which the secrets file cannot carry"
{
	printf "DOCS_KUBECONFIG='%s'\n" "$(cat "$SLIPWAY_TESTENV/kubeconfig")"
	printf "DOCS_SIGNING_KEY='%s'\n" "$(cat "$work/keys/cosign.key")"
	printf "DOCS_VERIFY_KEY='%s'\n" "$(cat "$work/keys/cosign.pub")"
	printf "DOCS_SIGNING_KEY_PASSWORD='%s'\n" "$password"
} >"$work/secrets.env"
commit "$site"
wf=$site/.github/workflows/slipway.yml
has "$wf" '^#   DOCS_KUBECONFIG: ' '^#   DOCS_SIGNING_KEY: ' '^#   DOCS_SIGNING_KEY_PASSWORD: ' '^#   DOCS_VERIFY_KEY: ' \
	'^    environment: prod$'
run static-site --list >"$work/list.log" 2>&1 || fail "act --list failed: $(cat "$work/list.log")"
cat "$work/list.log"
run static-site --secret-file "$work/secrets.env" >"$work/run.log" 2>&1 || fail "the run failed:
$(cat "$work/run.log")"
cat "$work/run.log"

# act runs deploy prod, the job with environment: prod, as soon as the job it
# needs has passed: no one approves. GitHub would hold it until a required
# reviewer of the environment prod approves (docs/ci/github.md).
job='\[docs/ciBuild \.\.\. promote dev to rc\] +'
prod='\[docs/deploy prod *\] +'
has "$work/run.log" \
	"${job}✅  Success - Main actions/checkout@v4" \
	"${job}\| ✓ push +pushed v0\.1\.0 to origin\$" \
	"${job}\| ✓ release +tagged [0-9a-f]+ as v0\.1\.0 \(first release\)\$" \
	"${job}\| ✓ build +built docs 0\.1\.0 for linux/amd64, linux/arm64\$" \
	"${job}\| ✓ push +pushed 127\.0\.0\.1:$dev_port/web/docs:0\.1\.0" \
	"${job}\| ✓ push +signed 127\.0\.0\.1:$dev_port/web/docs@sha256:[0-9a-f]{64} as 127\.0\.0\.1:$dev_port/web/docs:sha256-[0-9a-f]{64}\.sig\$" \
	"${job}\| ✓ deploy +docs 0\.1\.0 runs in dev \(revision 1" \
	"${job}\| ✓ promote +promoted sha256:[0-9a-f]{12} from dev to rc" \
	"${job}🏁  Job succeeded" \
	"${prod}✅  Success - Main actions/checkout@v4" \
	"${prod}\| ✓ deploy +signature verified with env://DOCS_VERIFY_KEY: 127\.0\.0\.1:$rc_port/web/docs@sha256:" \
	"${prod}\| ✓ deploy +docs 0\.1\.0 runs in prod \(revision 1" \
	"${prod}🏁  Job succeeded"
# Each job found bin/slipway on the PATH, so it restored and installed none;
# act read actions/cache from the stand-in, fetching nothing.
for j in "$job" "$prod"; do
	has "$work/run.log" "${j}⭐ Run Main Find Slipway\$" "${j}\\| slipway on the PATH: $root/bin/slipway\$" \
		"${j}LocalRepositoryCache matched https://github.com/actions/cache with ref v4 to $root/hack/act/cache\$"
done
! grep -Eq '⭐ Run (Main|Post) (Restore|Install) Slipway' "$work/run.log" || fail "a job restored or installed Slipway, though bin/slipway is on the PATH"
fetched static-site

# End state: the tag, one digest in both registries, Deployments of it.
pushed=$(grep -Eo "${job}\| 127\.0\.0\.1:$dev_port/web/docs@sha256:[0-9a-f]{64}\$" "$work/run.log" | sed 's/.*@//' | sort -u)
# push dev and deploy dev print it.
[ -n "$pushed" ] && [ "$(echo "$pushed" | wc -l)" = 1 ] || fail "push dev and deploy dev printed digests '$pushed', want one"
end_state static-site "$pushed"
# No secret reaches the output or the generated file: not the key, its
# password, nor the kubeconfig's client key.
key_line=$(sed -n 2p "$work/keys/cosign.key")
client_key=$(sed -n 's/^ *client-key-data: //p' "$SLIPWAY_TESTENV/kubeconfig" | head -n 1)
for f in "$work/run.log" "$work/list.log" "$wf"; do
	! grep -qF -e "$password" -e "$key_line" ${client_key:+-e "${client_key:0:40}"} "$f" || fail "$f holds a secret"
done
echo "github-act.sh: tag $tag pushed; $pushed in 127.0.0.1:$dev_port and :$rc_port, deployed to docs-dev and docs-prod; deploy prod ran with no approval under act" >&2

## 3. Slipway installed on a runner without it, cold and then warm.
# The runner's PATH: ours without bin/ (make puts it first).
runner_path=$(echo "$PATH" | tr ':' '\n' | grep -Fvx -e "$root/bin" -e "$root/bin/" | paste -sd: -)
found=$(PATH=$runner_path && command -v slipway) &&
	fail "slipway is on the PATH without bin/ ($found), so the jobs would run it instead of installing one"
goproxy
modcache=$(go env GOMODCACHE)
key="slipway-$slipway_version-[A-Za-z]+-[A-Za-z0-9]+"
install_steps=("Main Find Slipway" "Main Restore Slipway $slipway_version" "Main Install Slipway $slipway_version" "Post Restore Slipway $slipway_version")
dir=$(project install)
printf 'apiVersion: slipway/v1\ntasks:\n  ciVersion: command -v slipway && slipway --version\npipeline:\n  - ciVersion\n' >"$dir/ci.yaml"
commit "$dir"
ij='\[docs/ciVersion\] +'
for phase in cold warm; do
	# Each run on a fresh runner: no tool cache, bin/ off the PATH, the
	# job's Go (GOPATH, GOMODCACHE, GOCACHE) fresh, whatever the host's
	# environment sets, reading the proxy goproxy made and the host's module
	# cache. Offline, the Go checksum database cannot be reached:
	# GOSUMDB=off. GOTOOLCHAIN=local: this Go, no other downloaded.
	rm -rf "$work/install-act/tool_cache"
	run_env=(PATH="$runner_path" GOPATH="$work/go-$phase" GOMODCACHE="$work/go-$phase/pkg/mod" GOCACHE="$work/go-$phase/cache" GOTOOLCHAIN=local GOSUMDB=off
		GOPROXY="file://$work/goproxy/cache/download,file://$modcache/cache/download")
	run install >"$work/install-$phase.log" 2>&1 || fail "the $phase install run failed:
$(cat "$work/install-$phase.log")"
	run_env=()
	cat "$work/install-$phase.log"
	has "$work/install-$phase.log" "${ij}⭐ Run Main Find Slipway\$" \
		"${ij}✅  Success - Main Install Slipway $slipway_version \[" \
		"${ij}\| $work/install-act/tool_cache/slipway/$slipway_version/slipway\$" \
		"${ij}\| slipway version v$slipway_version\$" \
		"${ij}🏁  Job succeeded"
	! grep -q 'slipway on the PATH' "$work/install-$phase.log" || fail "the $phase job found slipway on the PATH"
done
chmod -R u+w "$work/go-cold" # go's module cache is read-only; cleanup removes it
fetched install
# Cold: a miss, go install of the version from the proxy, the entry saved.
has "$work/install-cold.log" "${ij}\| Cache not found for input keys: $key\$" "${ij}⚙  ::set-output:: cache-hit=false\$" \
	"${ij}\| Cache saved with key: $key\$"
[ -d "$work/go-cold/pkg/mod/github.com/slipwayhq/slipway@v$slipway_version" ] || fail "the cold job did not go install v$slipway_version"
# Warm: a hit (cache-hit true), nothing saved, and go never ran: it would
# have made the job's GOPATH or GOCACHE.
has "$work/install-warm.log" "${ij}\| Cache restored from key: $key\$" "${ij}⚙  ::set-output:: cache-hit=true\$" \
	"${ij}\| Cache hit occurred on the primary key $key, not saving cache\.\$"
[ ! -e "$work/go-warm" ] || fail "go ran in the warm job: $(ls "$work/go-warm")"
cold=$(seconds "$work/install-cold.log" "${install_steps[@]}")
warm=$(seconds "$work/install-warm.log" "${install_steps[@]}")
echo "github-act.sh: installing Slipway took a job ${cold} s cold (go install, the cache saved) and ${warm} s warm (restored from the cache)" >&2
echo "github-act.sh: ok"
