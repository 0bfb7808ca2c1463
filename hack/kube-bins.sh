#!/usr/bin/env bash
# Build the upstream binaries of the Phalanx test cluster from the Go module
# proxy: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kubectl, and fakecri (the recording fake container runtime).
#
#   hack/kube-bins.sh                  build (or reuse) the default versions
#   hack/kube-bins.sh --print-bin-dir  print where the binaries are and exit
#
#   K8S_VERSION=1.37.2 ETCD_VERSION=3.6.16 hack/kube-bins.sh
#   PHALANX_CACHE=/var/cache/phalanx hack/kube-bins.sh
#
# Output: $PHALANX_CACHE/kube/k8s-<k8s>-etcd-<etcd>/bin, with PHALANX_CACHE
# defaulting to ${XDG_CACHE_HOME:-$HOME/.cache}/phalanx. The Go module and
# build caches live in $PHALANX_CACHE/go. A stamp file next to bin/ records
# the versions and the hashes of the wrapper modules; when it matches, the
# script only prints the directory. Needs Go (see hack/k8sbins/go.mod for the
# minimum) and a Go module proxy; nothing else. See hack/README.md.
set -euo pipefail

# Defaults: newest 1.36 patch and newest etcd 3.6 patch that the module proxy
# and the checksum database serve (checked with `go list -m -versions`).
DEFAULT_K8S_VERSION=1.36.4
DEFAULT_ETCD_VERSION=3.6.16

# Bump when the way binaries are built changes, so old caches are rebuilt.
STAMP_FORMAT=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "kube-bins: $*" >&2
	exit 1
}

k8s_version=${K8S_VERSION:-$DEFAULT_K8S_VERSION}
k8s_version=${k8s_version#v}
etcd_version=${ETCD_VERSION:-$DEFAULT_ETCD_VERSION}
etcd_version=${etcd_version#v}
[[ $k8s_version =~ ^1\.([0-9]+)\.([0-9]+)$ ]] ||
	die "K8S_VERSION=$k8s_version is not a Kubernetes release like $DEFAULT_K8S_VERSION"
k8s_minor=${BASH_REMATCH[1]}
[[ $etcd_version =~ ^3\.[0-9]+\.[0-9]+$ ]] ||
	die "ETCD_VERSION=$etcd_version is not an etcd release like $DEFAULT_ETCD_VERSION"

cache_root=${PHALANX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/phalanx}
out=$cache_root/kube/k8s-$k8s_version-etcd-$etcd_version
bin=$out/bin
stamp=$out/stamp

if [[ ${1:-} == --print-bin-dir ]]; then
	echo "$bin"
	exit 0
elif [[ $# -gt 0 ]]; then
	die "unknown argument \"$1\"; use no argument to build, or --print-bin-dir"
fi

command -v go >/dev/null || die "go is not on PATH; install Go (see hack/k8sbins/go.mod for the version)"

export GOMODCACHE=$cache_root/go/mod
export GOCACHE=$cache_root/go/build
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

k8s_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
all_binaries=(etcd fakecri "${k8s_binaries[@]}")

# Everything a build depends on besides the Go toolchain.
stamp_text() {
	echo "format=$STAMP_FORMAT"
	echo "k8s=$k8s_version"
	echo "etcd=$etcd_version"
	echo "go=$(go env GOVERSION)"
	(cd "$here" && sha256sum \
		k8sbins/go.mod k8sbins/go.sum k8sbins/cmd/fakecri/main.go \
		etcdbin/go.mod etcdbin/go.sum etcdbin/main.go gen-replaces.sh)
}

binaries_present() {
	local b
	for b in "${all_binaries[@]}"; do
		[[ -x $bin/$b ]] || return 1
	done
}

want_stamp=$(stamp_text)
if [[ -f $stamp ]] && [[ $(<"$stamp") == "$want_stamp" ]] && binaries_present; then
	echo "kube-bins: cached at $bin"
	exit 0
fi

# Run a command; on failure name it and stop.
run() {
	local rc=0 cmd
	cmd=$(printf '%q ' "$@")
	echo "+ (cd $PWD && $cmd)" >&2
	"$@" || rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "kube-bins: FAILED (exit $rc) in $PWD: $cmd" >&2
		exit "$rc"
	fi
}

mkdir -p "$out" "$GOMODCACHE" "$GOCACHE"
# One build per output directory at a time.
if command -v flock >/dev/null; then
	exec 9>"$out/lock"
	flock 9
fi
rm -f "$stamp"
mkdir -p "$bin"

started=$(date +%s)
# Build one binary at low priority (other work shares the cores) and time it.
timed() {
	local name=$1 t0
	shift
	t0=$(date +%s)
	echo "kube-bins: building $name ..."
	run nice -n 10 "$@"
	echo "kube-bins: $name built in $(($(date +%s) - t0))s"
}

# Module directories: the committed wrappers when the versions are theirs,
# otherwise generated copies under $out/src (the committed ones stay as is).
committed_k8s=$(sed -n 's/^[[:space:]]*k8s\.io\/kubernetes v\([0-9.]*\).*/\1/p' "$here/k8sbins/go.mod" | head -n1)
committed_etcd=$(sed -n 's/^[[:space:]]*\(require \)\{0,1\}go\.etcd\.io\/etcd\/server\/v3 v\([0-9.]*\).*/\2/p' "$here/etcdbin/go.mod" | head -n1)

k8s_mod=$here/k8sbins
if [[ $k8s_version != "$committed_k8s" ]]; then
	k8s_mod=$out/src/k8sbins
	echo "kube-bins: generating a wrapper module for Kubernetes v$k8s_version in $k8s_mod"
	rm -rf "$k8s_mod"
	mkdir -p "$k8s_mod"
	cp -R "$here/k8sbins/cmd" "$here/k8sbins/go.mod" "$k8s_mod/"
	run bash "$here/gen-replaces.sh" "$k8s_version" "$k8s_mod"
fi

etcd_mod=$here/etcdbin
if [[ $etcd_version != "$committed_etcd" ]]; then
	etcd_mod=$out/src/etcdbin
	echo "kube-bins: generating a wrapper module for etcd v$etcd_version in $etcd_mod"
	rm -rf "$etcd_mod"
	mkdir -p "$etcd_mod"
	cp "$here/etcdbin/main.go" "$here/etcdbin/go.mod" "$etcd_mod/"
	(
		cd "$etcd_mod"
		run go mod edit -require="go.etcd.io/etcd/server/v3@v$etcd_version"
		run env GOFLAGS=-mod=mod go mod tidy
	)
fi

echo "kube-bins: downloading modules (Kubernetes v$k8s_version, etcd v$etcd_version) into $GOMODCACHE"
t0=$(date +%s)
(cd "$k8s_mod" && run go mod download)
(cd "$etcd_mod" && run go mod download)
echo "kube-bins: modules ready in $(($(date +%s) - t0))s"

# Version stamping as Kubernetes release builds do it. The module proxy does
# not carry the git commit; the build date is the release's publication time,
# so rebuilds of one version are byte-identical.
build_date=$(cd "$k8s_mod" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes) ||
	die "cannot read the release time of k8s.io/kubernetes (go list -m in $k8s_mod)"
[[ -n $build_date ]] || build_date=1970-01-01T00:00:00Z
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=v$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
	ldflags+=" -X $pkg.gitCommit=go-module-proxy -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

(cd "$k8s_mod" && timed fakecri go build -p 2 -trimpath -ldflags "-s -w" -o "$bin/fakecri" ./cmd/fakecri)
(cd "$etcd_mod" && timed etcd go build -p 2 -trimpath \
	-ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-proxy" -o "$bin/etcd" .)
for b in "${k8s_binaries[@]}"; do
	(cd "$k8s_mod" && timed "$b" go build -p 2 -trimpath -ldflags "$ldflags" -o "$bin/$b" "k8s.io/kubernetes/cmd/$b")
done

binaries_present || die "a binary is missing from $bin after the build"
printf '%s\n' "$want_stamp" >"$stamp"
echo "kube-bins: all binaries built in $(($(date +%s) - started))s"
echo "kube-bins: bin dir $bin"
