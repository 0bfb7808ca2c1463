# Thin wrapper over the npm scripts (the single source of truth) and the cluster scripts.
# Every target installs what it needs first, so a fresh clone runs `make demo` / `make test` directly.

SHELL := /bin/bash
NPM ?= npm

include hack/kube-bins.mk

.PHONY: all deps demo simulate test test-unit test-integration check lint format typecheck \
	bench-plugin bench chromium report-screenshot cluster-up cluster-down cluster-logs clean help \
	helm manifests image e2e-kind

all: check test

help:
	@echo "make simulate      replay the embedded gang workload through the scheduling core (no cluster needed)"
	@echo "make demo          run the fake-GPU demo of the kubelet plugin (no cluster needed)"
	@echo "make test          install dependencies, type-check, lint, run every test"
	@echo "make bench-plugin  NodePrepareResources latency benchmark"
	@echo "make bench         every benchmark in sequence, then one table of headline numbers vs targets"
	@echo "make helm          build helm from its Go module (cached)"
	@echo "make manifests     render deploy/helm/phalanx into deploy/manifests"
	@echo "make image         build the OCI image layout without Docker"
	@echo "make e2e-kind      kind cluster + image + chart + the e2e suite (needs Docker)"
	@echo "make report-screenshot  openb replay of every policy as an HTML report plus a PNG of it"
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

simulate: deps
	$(NPM) run --silent simulate

check: deps
	$(NPM) run --silent typecheck
	$(NPM) run --silent lint

typecheck: deps
	$(NPM) run --silent typecheck

lint: deps
	$(NPM) run --silent lint

format: deps
	$(NPM) run --silent format

# Headless Chromium renders the simulator's HTML report in the integration tests.
chromium:
	@bash hack/install-chromium.sh >/dev/null

test: check kube-bins chromium helm
	$(NPM) run --silent test

test-unit: deps
	$(NPM) run --silent test:unit

bench-plugin: deps
	$(NPM) run --silent bench:plugin

bench: deps kube-bins
	$(NPM) run --silent bench

helm:
	@bash hack/helm.sh >/dev/null

manifests: deps helm
	$(NPM) run --silent gen:manifests

image: deps
	$(NPM) run --silent image

e2e-kind: deps
	bash e2e/kind/run.sh

clean:
	rm -rf node_modules .cache dist coverage

cluster-up: deps kube-bins
	node_modules/.bin/node test/cluster/cli.ts up

cluster-down: deps
	node_modules/.bin/node test/cluster/cli.ts down

cluster-logs: deps
	node_modules/.bin/node test/cluster/cli.ts logs

# Unit tests need nothing; integration tests bring the local real cluster up themselves.
test-integration: deps kube-bins chromium
	$(NPM) run --silent test:integration

# Simulation report with a screenshot: replay the openb trace with every policy (same seed), write
# the self-contained HTML report, and take a PNG of the whole page with headless Chromium
# (installed by hack/install-chromium.sh when missing). OPENB_DIR points at the trace CSVs.
OPENB_DIR ?= ../shared/traces/openb
REPORT_DIR ?= .cache/report
REPORT_POLICIES ?= all
REPORT_WINDOW ?= 1280,7000

report-screenshot: deps
	node_modules/.bin/node src/cmd/phalanx.ts simulate \
		--nodes $(OPENB_DIR)/openb_node_list_gpu_node.csv \
		--pods $(OPENB_DIR)/openb_pod_list_default.csv \
		--policy $(REPORT_POLICIES) --report $(REPORT_DIR)/openb.html
	@rm -f $(REPORT_DIR)/openb.png
	@browser=$$(bash hack/install-chromium.sh) && \
		"$$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
			--window-size=$(REPORT_WINDOW) --screenshot=$(abspath $(REPORT_DIR))/openb.png \
			file://$(abspath $(REPORT_DIR))/openb.html >/dev/null 2>&1; \
		test -s $(REPORT_DIR)/openb.png || { echo "report-screenshot: chromium wrote no screenshot; run $$browser --headless --screenshot by hand to see why" >&2; exit 1; }
	@echo "report: $(REPORT_DIR)/openb.html  screenshot: $(REPORT_DIR)/openb.png"
