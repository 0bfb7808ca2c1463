#!/usr/bin/env bash
# Install Debian's chromium for the simulator report checks: the headless render
# test (test/integration/report-render.test.ts) and `make report-screenshot`.
#
#   hack/install-chromium.sh            install when missing, then print the path
#   hack/install-chromium.sh --print    print the path of an installed browser, or fail
#
# Idempotent: when a browser is already on PATH it prints its path and changes
# nothing. Otherwise it runs `apt-get install --no-install-recommends chromium`
# (about 25 packages on Debian 12; recommends would add about 115 more, none
# needed headless) plus fonts-dejavu-core so that text renders in screenshots.
# Needs apt-get and root (or sudo). PHALANX_CHROMIUM names a browser binary to
# use instead of searching PATH.
set -euo pipefail

die() { echo "install-chromium: $*" >&2; exit 1; }

find_browser() {
	if [[ -n ${PHALANX_CHROMIUM:-} ]]; then
		[[ -x $PHALANX_CHROMIUM ]] || return 1
		echo "$PHALANX_CHROMIUM"
		return 0
	fi
	local name
	for name in chromium chromium-browser google-chrome-stable google-chrome; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
	done
	return 1
}

if found=$(find_browser); then
	echo "$found"
	exit 0
fi
[[ ${1:-} == --print ]] && die "no chromium on PATH; run hack/install-chromium.sh to install it"
[[ $# -eq 0 ]] || die "usage: hack/install-chromium.sh [--print]"

command -v apt-get >/dev/null 2>&1 ||
	die "apt-get is not available here; install Chromium with your package manager and put it on PATH (or set PHALANX_CHROMIUM to its binary)"

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null 2>&1 ||
		die "installing chromium needs root; run this script as root or install sudo"
	sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null ||
	die "apt-get update failed; check the network and /etc/apt/sources.list, then run this script again"
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null ||
	die "apt-get install chromium failed; run 'apt-get install --no-install-recommends chromium' to see why"

found=$(find_browser) || die "chromium was installed but is not on PATH; add /usr/bin to PATH"
echo "$found"
