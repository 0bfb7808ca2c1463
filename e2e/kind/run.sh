#!/usr/bin/env bash
# make e2e-kind: the e2e suite (e2e/examples.test.ts) against a kind cluster with the Phalanx
# chart installed, the way a user would run it.
#
#   1. checks Docker; finds kind at the pinned version (builds it from its Go module into
#      $PHALANX_CACHE when absent), helm (hack/helm.sh) and kubectl (on PATH, or hack/kube-bins.sh)
#   2. builds the image without Docker (npm run image -- --tar) and creates the cluster from
#      e2e/kind/cluster.yaml (pinned node image, CDI on, the extender wired into kube-scheduler)
#   3. `kind load image-archive`, `helm install` deploy/helm/phalanx with a webhook certificate
#      made here (no cert-manager in kind) and the scheduler Service at the extender's address
#   4. runs the suite with PHALANX_KUBECONFIG (API-only checks) and deletes the cluster on exit
#
# Environment: PHALANX_CACHE (build cache), KIND_CLUSTER_NAME (default phalanx-e2e),
# PHALANX_KIND_KEEP=1 (keep the cluster afterwards), KUBE_BIN_DIR (a directory with kubectl).
set -euo pipefail

# Pinned: kind v0.32.0 and the node image its release publishes for Kubernetes 1.36 (the same
# reference as every node of e2e/kind/cluster.yaml; e2e/kind-static.test.ts checks they agree).
KIND_VERSION=v0.32.0
KIND_NODE_IMAGE=kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5

# Chart values this script sets (names from deploy/helm/phalanx/values.yaml).
IMAGE_REPOSITORY=phalanx
IMAGE_TAG=dev
# The extender address deploy/examples/scheduler-config.yaml gives kube-scheduler: a fixed
# clusterIP in kind's default service range 10.96.0.0/16.
SCHEDULER_CLUSTER_IP=10.96.0.88
RELEASE=phalanx
NAMESPACE=phalanx-system

die() {
	echo "e2e-kind: $*" >&2
	exit 1
}
log() { echo "e2e-kind: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
cache_root=${PHALANX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/phalanx}
cluster=${KIND_CLUSTER_NAME:-phalanx-e2e}

# ---- tools ----------------------------------------------------------------------------------

check_docker() {
	command -v docker >/dev/null ||
		die "docker is not installed: kind runs its nodes as Docker containers; install Docker (https://docs.docker.com/engine/install/) and run make e2e-kind again"
	docker info >/dev/null 2>&1 ||
		die "docker is installed but its daemon does not answer (docker info failed); start Docker or add your user to the docker group, then run make e2e-kind again"
}

# kind on PATH at the pinned version, or built from its Go module into the cache.
find_kind() {
	if command -v kind >/dev/null && [[ $(kind version) == "kind $KIND_VERSION "* ]]; then
		command -v kind
		return
	fi
	local bin=$cache_root/kind-$KIND_VERSION/bin
	if [[ ! -x $bin/kind ]]; then
		command -v go >/dev/null || die "kind $KIND_VERSION is not on PATH and go is not installed to build it"
		log "building kind $KIND_VERSION from its Go module into $bin"
		GOBIN=$bin GOMODCACHE=$cache_root/go/mod GOCACHE=$cache_root/go/build \
			GOFLAGS=-mod=mod CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION" >&2
	fi
	echo "$bin/kind"
}

# A directory with kubectl, for the suite (KUBE_BIN_DIR) and for this script.
find_kubectl_dir() {
	if [[ -n ${KUBE_BIN_DIR:-} && -x ${KUBE_BIN_DIR}/kubectl ]]; then
		echo "$KUBE_BIN_DIR"
	elif command -v kubectl >/dev/null; then
		dirname "$(readlink -f "$(command -v kubectl)")"
	else
		bash hack/kube-bins.sh >&2
		bash hack/kube-bins.sh --print-bin-dir
	fi
}

# ---- steps ----------------------------------------------------------------------------------

# A CA and a serving certificate for the webhook Service, in a Secret; prints the CA (base64).
webhook_tls() {
	local dir=$1 service=phalanx-webhook
	local san="DNS:$service.$NAMESPACE.svc,DNS:$service.$NAMESPACE.svc.cluster.local"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=phalanx-e2e-ca" \
		-keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$service.$NAMESPACE.svc" \
		-keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
	openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 2 -extfile <(echo "subjectAltName=$san") -out "$dir/tls.crt" 2>/dev/null
	"$kubectl" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$kubectl" apply -f - >&2
	"$kubectl" -n "$NAMESPACE" create secret tls phalanx-webhook-tls \
		--cert="$dir/tls.crt" --key="$dir/tls.key" --dry-run=client -o yaml | "$kubectl" apply -f - >&2
	base64 -w0 <"$dir/ca.crt"
}

cleanup() {
	local rc=$?
	if [[ ${PHALANX_KIND_KEEP:-} == 1 ]]; then
		log "keeping cluster $cluster (kubeconfig $work/kubeconfig); delete it with: $kind delete cluster --name $cluster"
	elif [[ -n ${kind:-} ]]; then
		"$kind" delete cluster --name "$cluster" >&2 || true
	fi
	[[ ${PHALANX_KIND_KEEP:-} == 1 ]] || rm -rf "$work"
	exit "$rc"
}

main() {
	check_docker
	kind=$(find_kind)
	helm=$(bash hack/helm.sh)
	local kube_bin_dir
	kube_bin_dir=$(find_kubectl_dir)
	kubectl=$kube_bin_dir/kubectl
	work=$(mktemp -d "${TMPDIR:-/tmp}/phalanx-e2e-kind.XXXXXX")
	trap cleanup EXIT
	export KUBECONFIG=$work/kubeconfig

	log "building the image (no Docker needed for this step)"
	npm run --silent image -- --tar "$work/image.tar" --name "$IMAGE_REPOSITORY:$IMAGE_TAG" >&2

	docker image inspect "$KIND_NODE_IMAGE" >/dev/null 2>&1 || docker pull "$KIND_NODE_IMAGE" >&2
	"$kind" delete cluster --name "$cluster" >/dev/null 2>&1 || true
	"$kind" create cluster --name "$cluster" --config e2e/kind/cluster.yaml \
		--kubeconfig "$KUBECONFIG" --wait 180s >&2
	"$kind" load image-archive "$work/image.tar" --name "$cluster" >&2

	local ca_bundle
	ca_bundle=$(webhook_tls "$work")
	"$helm" install "$RELEASE" deploy/helm/phalanx --namespace "$NAMESPACE" \
		--set image.repository="$IMAGE_REPOSITORY" --set image.tag="$IMAGE_TAG" \
		--set scheduler.service.clusterIP="$SCHEDULER_CLUSTER_IP" \
		--set webhook.tls.mode=secret --set webhook.tls.secretName=phalanx-webhook-tls \
		--set webhook.tls.caBundle="$ca_bundle" \
		--wait --timeout 5m >&2

	local nodes
	nodes=$("$kubectl" get nodes -l phalanx.dev/gpu-node=true -o jsonpath='{.items[*].metadata.name}')
	log "GPU nodes: $nodes"
	PHALANX_KUBECONFIG=$KUBECONFIG KUBE_BIN_DIR=$kube_bin_dir PHALANX_NAMESPACE=$NAMESPACE \
		node_modules/.bin/vitest run --project integration e2e/examples.test.ts
}

main "$@"
