#!/usr/bin/env bash
# Installs the Debian packages Berth needs that are not installed yet.
# usage: scripts/deps.sh build|test
#   build: what building berthd needs
#   test:  that plus the real peers the test suite drives (skopeo, podman, Distribution...)
set -euo pipefail

build_pkgs=(build-essential autoconf automake libtool pkg-config
	libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libpq-dev libssl-dev libjansson-dev libargon2-dev libcurl4-openssl-dev
	libarchive-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libseccomp-dev)
test_pkgs=(python3 curl jq openssl skopeo podman runc docker-registry busybox-static
	uidmap iptables sqlite3 apache2-utils python3-prometheus-client python3-psycopg2 systemd man-db
	chromium ceph-mon ceph-osd radosgw clang libclang-rt-dev valgrind
	postgresql-15 postgresql-client-15)
# The scale-out cluster tests (tests/scaleout/cluster.sh): haproxy in front of the nodes.
test_pkgs+=(haproxy)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
*)
	echo "usage: $0 build|test" >&2
	exit 2
	;;
esac

# The UI tests drive Chromium with playwright-core from npm (tests/ui/package-lock.json).
# Any Node.js with npm does; Debian's are installed only when there is none.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null; then
	want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm ci in tests/ui when its node_modules is missing or older than the lock file.
ui_modules() {
	local ui
	ui="$(cd "$(dirname "$0")/.." && pwd)/tests/ui"
	[ "${1:-build}" = test ] && [ -f "$ui/package-lock.json" ] || return 0
	if [ ! -d "$ui/node_modules/playwright-core" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules" ]; then
		echo "deps: npm ci in tests/ui" >&2
		(cd "$ui" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && touch "$ui/node_modules"
	fi
}

if [ ${#missing[@]} -eq 0 ]; then
	ui_modules "${1:-build}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]}" >&2
	echo "deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Recommends too: the tests were written against podman with its usual companions
# (uidmap, slirp4netns, fuse-overlayfs), and runc is listed because crun, podman's first
# choice, refuses hybrid cgroup layouts.
apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian's docker-registry package starts a service on port 5000, the port `./run serve`
# gives berthd; the tests start their own instances, so the packaged service stays off.
if printf '%s\n' "${missing[@]}" | grep -qx docker-registry && command -v systemctl >/dev/null &&
	[ -d /run/systemd/system ]; then
	systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
ui_modules "${1:-build}"
