# Thin wrapper over the npm scripts (the single source of truth) and the cluster scripts.
# Every target installs what it needs first, so a fresh clone runs `make demo` / `make test` directly.

SHELL := /bin/bash
NPM ?= npm

include hack/kube-bins.mk

.PHONY: all deps demo test test-unit test-integration check lint format typecheck bench-plugin \
	cluster-up cluster-down cluster-logs clean help

all: check test

help:
	@echo "make demo          run the fake-GPU demo of the kubelet plugin (no cluster needed)"
	@echo "make test          install dependencies, type-check, lint, run every test"
	@echo "make bench-plugin  NodePrepareResources latency benchmark"
	@echo "make kube-bins     build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl, fakecri"
	@echo "make cluster-up    start the local real cluster (3 kubelets on a fake CRI, a plugin per node)"
	@echo "make cluster-down  stop it and remove its state"

# Reinstall when the lockfile changed since the last install. `npm install` (not `npm ci`) with
# the committed lockfile: some registries serve only a platform's own optional binaries (Biome's
# other-platform packages answer 404), which `npm ci` rejects as an out-of-sync lockfile while
# `npm install` skips them as the optional packages they are. The lockfile stays unchanged.
node_modules/.package-lock.json: package-lock.json package.json
	$(NPM) install --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

demo: deps
	$(NPM) run --silent demo

check: deps
	$(NPM) run --silent typecheck
	$(NPM) run --silent lint

typecheck: deps
	$(NPM) run --silent typecheck

lint: deps
	$(NPM) run --silent lint

format: deps
	$(NPM) run --silent format

test: check kube-bins
	$(NPM) run --silent test

test-unit: deps
	$(NPM) run --silent test:unit

bench-plugin: deps
	$(NPM) run --silent bench:plugin

clean:
	rm -rf node_modules .cache dist coverage

cluster-up: deps kube-bins
	node_modules/.bin/node test/cluster/cli.ts up

cluster-down: deps
	node_modules/.bin/node test/cluster/cli.ts down

cluster-logs: deps
	node_modules/.bin/node test/cluster/cli.ts logs

# Unit tests need nothing; integration tests bring the local real cluster up themselves.
test-integration: deps kube-bins
	$(NPM) run --silent test:integration
