# Upstream Kubernetes binaries for the local test cluster, built from the Go
# module proxy into a cache outside the repository (see hack/README.md).
# Included from the top-level Makefile.
#
#   make kube-bins                        default versions (hack/kube-bins.sh)
#   make kube-bins K8S_VERSION=1.37.2     another Kubernetes release
#   make print-kube-bin-dir               where the binaries are
#
# K8S_VERSION, ETCD_VERSION and PHALANX_CACHE may also come from the
# environment; empty means the script's default.

export K8S_VERSION ETCD_VERSION PHALANX_CACHE

.PHONY: kube-bins print-kube-bin-dir

kube-bins:
	bash hack/kube-bins.sh

print-kube-bin-dir:
	@bash hack/kube-bins.sh --print-bin-dir
