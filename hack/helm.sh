#!/usr/bin/env bash
# Build helm from its Go module through the Go module proxy and print the
# path of the binary. The chart in deploy/helm/phalanx is linted, rendered and
# checked for drift with it (hack/render-manifests.ts, the integration suite).
#
#   hack/helm.sh                  build (or reuse) the pinned version; prints the binary's path
#   hack/helm.sh --print-path     print where the binary is (built or not) and exit
#
#   HELM_VERSION=4.3.0 hack/helm.sh
#   PHALANX_CACHE=/var/cache/phalanx hack/helm.sh
#
# Output: $PHALANX_CACHE/helm-<version>/bin/helm, with PHALANX_CACHE defaulting
# to ${XDG_CACHE_HOME:-$HOME/.cache}/phalanx. The Go module and build caches
# are shared with hack/kube-bins.sh ($PHALANX_CACHE/go). A stamp file next to
# bin/ records the version and the Go toolchain; when it matches, the script
# only says "helm: cached at ..." (on stderr) and prints the path. Needs Go and
# a Go module proxy; nothing else.
set -euo pipefail

# Newest stable helm release the module proxy serves (`go list -m -versions
# helm.sh/helm/v4`, 2026-11-21: v4.3.1). helm.sh/helm/v4 has no replace
# directives, so `go install <module>/cmd/helm@<version>` builds it as released.
DEFAULT_HELM_VERSION=4.3.1

# Bump when the way the binary is built changes, so old caches are rebuilt.
STAMP_FORMAT=1

die() {
	echo "helm: $*" >&2
	exit 1
}

version=${HELM_VERSION:-$DEFAULT_HELM_VERSION}
version=${version#v}
[[ $version =~ ^4\.[0-9]+\.[0-9]+$ ]] ||
	die "HELM_VERSION=$version is not a helm 4 release like $DEFAULT_HELM_VERSION"

cache_root=${PHALANX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/phalanx}
out=$cache_root/helm-$version
bin=$out/bin/helm
stamp=$out/stamp

if [[ ${1:-} == --print-path ]]; then
	echo "$bin"
	exit 0
elif [[ $# -gt 0 ]]; then
	die "unknown argument \"$1\"; use no argument to build, or --print-path"
fi

command -v go >/dev/null || die "go is not on PATH; install Go 1.26 or newer"

export GOMODCACHE=$cache_root/go/mod
export GOCACHE=$cache_root/go/build
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

stamp_text() {
	echo "format=$STAMP_FORMAT"
	echo "helm=$version"
	echo "go=$(go env GOVERSION)"
}

want_stamp=$(stamp_text)
if [[ -f $stamp ]] && [[ $(<"$stamp") == "$want_stamp" ]] && [[ -x $bin ]]; then
	echo "helm: cached at $bin" >&2
	echo "$bin"
	exit 0
fi

mkdir -p "$out/bin" "$GOMODCACHE" "$GOCACHE"
# One build per output directory at a time.
if command -v flock >/dev/null; then
	exec 9>"$out/lock"
	flock 9
fi
rm -f "$stamp"

# helm's own release builds stamp the version into internal/version; the module
# proxy carries no commit, so the commit reads go-module-proxy.
pkg=helm.sh/helm/v4/internal/version
ldflags="-s -w -X $pkg.version=v$version -X $pkg.metadata= -X $pkg.gitCommit=go-module-proxy -X $pkg.gitTreeState=clean"

started=$(date +%s)
echo "helm: building helm v$version (modules in $GOMODCACHE) ..." >&2
if ! GOBIN=$out/bin nice -n 10 go install -p 2 -trimpath -ldflags "$ldflags" \
	"helm.sh/helm/v4/cmd/helm@v$version" >&2; then
	die "go install helm.sh/helm/v4/cmd/helm@v$version failed; check that the module proxy serves this version (go list -m -versions helm.sh/helm/v4)"
fi
[[ -x $bin ]] || die "no binary at $bin after the build"
printf '%s\n' "$want_stamp" >"$stamp"
echo "helm: built in $(($(date +%s) - started))s: $("$bin" version --short 2>/dev/null || echo "v$version")" >&2
echo "$bin"
