# Slipway's build, test and demo entry points. `make test` and `make demo`
# install what they need (Debian packages, Go tools from the module proxy).
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOBIN := $(BIN)

STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
COSIGN_VERSION := v2.6.5
ORAS_VERSION := v1.3.6
# axe-core, the fleet page's accessibility checker in its browser test,
# from the npm registry (npm checks the tarball's integrity).
AXE_VERSION := 4.14.1
APT_PACKAGES := docker-registry git curl openssl groovy jq rsync nodejs npm chromium
# The demo's own: its registries, git, curl, and openssl for the cluster's
# certificates (as root hack/testenv/node.sh installs the node's).
DEMO_APT_PACKAGES := docker-registry git curl openssl

.PHONY: all build dist image image-test gitlab-test test unit lint fuzz faults deps demo demo-deps demo-down demo-gitops demo-gitops-down clean

all: build

build: ## build bin/slipway
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/slipway ./cmd/slipway

CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

dist: ## static Linux binaries and a CA bundle in dist/, for Slipway's own image
	@for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -o dist/linux_$$arch/slipway ./cmd/slipway || exit 1; \
	done
	@test -f $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): apt-get install ca-certificates"; exit 1; }
	install -m 0644 $(CA_BUNDLE) dist/ca-certificates.crt

image: build dist ## Slipway's own image, built by Slipway from slipway.yaml
	$(BIN)/slipway build

image-test: ## build Slipway's own image and check what it holds
	@hack/self-image.sh

gitlab-test: deps ## run an example's generated .gitlab-ci.yml with gitlab-ci-local (shell executor)
	@hack/gitlab-ci-local.sh

.PHONY: github-test
github-test: deps ## run an example's generated GitHub Actions workflow with nektos/act (on the host, no Docker)
	@hack/github-act.sh

deps: ## install what the test suite needs, when missing
	@hack/install-deps.sh $(APT_PACKAGES)
	@hack/testenv/k8s.sh install
	@test -x $(BIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@test -x $(BIN)/actionlint || $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	@test -x $(BIN)/cosign || $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)
	@test -x $(BIN)/oras || $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)
	@test -f $(BIN)/axe-core-$(AXE_VERSION)/node_modules/axe-core/axe.min.js || \
		npm install --prefix $(BIN)/axe-core-$(AXE_VERSION) --no-audit --no-fund --no-save axe-core@$(AXE_VERSION) >/dev/null

lint: deps ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# The real-node tests need root (network namespace, cgroups, mounts): as
# root make test runs them, elsewhere they skip. SLIPWAY_REALNODE=0 skips
# them as root too.
REALNODE := $(shell [ "$$(id -u)" = 0 ] && [ "$${SLIPWAY_REALNODE:-1}" != 0 ] && echo 1 || echo 0)

node-deps: ## as root: build what the real node needs (kubelet, kube-proxy, containerd) and install Prometheus, when missing
	@if [ "$(REALNODE)" = 1 ]; then hack/testenv/node.sh install && hack/testenv/prometheus.sh install; \
	else echo "make: not root (or SLIPWAY_REALNODE=0): the real-node tests (TestRealNode*) skip"; fi

# Flux CD's source-controller and kustomize-controller for the GitOps tests,
# built from Go modules and cached by version (a cold build of both takes
# 8 to 14 minutes on 2 shared cores; hack/testenv/flux.sh install).
flux-deps: ## build the Flux controllers the GitOps tests run, when missing
	@hack/testenv/flux.sh install

test: deps lint image-test gitlab-test github-test node-deps flux-deps ## the whole suite, with real registries, control plane and (as root) a real node: what CI runs
	SLIPWAY_E2E=1 SLIPWAY_REALNODE=$(REALNODE) $(GO) test -count=1 -timeout 30m ./...

fuzz: ## run every fuzz target for FUZZTIME (30s) each; the seed corpus runs in make test
	@hack/fuzz.sh

faults: deps build ## kill, restart and race the real parts; print the fault table
	@hack/faults.sh

unit: ## tests that need no servers
	$(GO) test ./...

# Only what the demo uses, none of the test tools: as root the control plane
# without kwok, and the real node; otherwise the control plane with kwok.
demo-deps: ## install and build what make demo needs, when missing
	@hack/install-deps.sh $(DEMO_APT_PACKAGES)
	@hack/demo.sh deps

# hack/demo.sh runs demo-deps in the background while it builds bin/slipway
# (make build) and takes the steps that need no cluster, and waits for it
# before the first deploy; a failed demo-deps fails the demo with its log.
demo: ## walk an example project through Slipway on local defaults (demo-deps and build on the way)
	@hack/install-deps.sh $(DEMO_APT_PACKAGES)
	@hack/demo.sh

demo-down: ## stop what the demo started (registries and control plane)
	@hack/demo.sh down

# As root only: hello-go to dev and prod through Flux CD on the real node.
# hack/demo-gitops.sh runs make demo-deps flux-deps in the background while
# it builds bin/slipway and the image, as make demo does; its own state is
# in .demo-gitops/, apart from make demo's (one real node at a time).
demo-gitops: ## as root: hello-go to dev and prod through Flux CD (GitOps mode) on the real node
	@hack/install-deps.sh $(DEMO_APT_PACKAGES)
	@hack/demo-gitops.sh

demo-gitops-down: ## stop what make demo-gitops started (git server, Flux, node, registries, control plane)
	@hack/demo-gitops.sh down

.PHONY: test-node node-deps flux-deps
test-node: ## as root: only the tests on a real node (hack/testenv/node.sh), verbose, with their timings
	@hack/install-deps.sh $(APT_PACKAGES)
	@hack/testenv/node.sh install
	@hack/testenv/prometheus.sh install
	SLIPWAY_REALNODE=1 $(GO) test -count=1 -timeout 30m -v -run 'RealNode' ./internal/testenv/

clean:
	rm -rf $(BIN) .slipway
