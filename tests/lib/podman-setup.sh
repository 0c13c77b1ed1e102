# Sourced by tests that drive podman: a podman whose configuration, image store, run state,
# locks, events, runc state and temp files all live in one private directory, so tests never
# read or write /etc/containers, /var/lib/containers or /run, and never reach the internet.
#
#   podman_setup [DIR]     default DIR: $TEST_DIR/podman (or a mktemp -d); sets PODMAN_DIR,
#                          PODMAN_STORAGE_DRIVER, PODMAN_CMD (array) and podman_cmd (function)
#   podman_cmd ARGS...     podman with that configuration. Use --tls-verify=false for the
#                          plain-HTTP registries on 127.0.0.1. Calling podman_setup again with
#                          another DIR switches podman_cmd to a second, empty store.
#   podman_run ARGS...     podman run, with containers' cgroups below PODMAN_CGROUP_PARENT
#   podman_teardown [DIR]  removes containers and images, unmounts, removes our cgroups
#                          (registered with berth_on_exit when tests/lib/berthd.sh is loaded)
#   podman_allow_http ADDR registries.conf entry: plain HTTP to ADDR for the current store
#   podman_can_run         0 if `podman run` works here; otherwise prints why on stdout
#
# Environment: PODMAN_STORAGE_DRIVER=overlay|vfs forces a driver (default: overlay when the
# kernel's overlayfs works on DIR, else vfs). PODMAN (default podman).

PODMAN=${PODMAN:-podman}

# podman refuses a runroot longer than 50 characters, so the runroot of the store in DIR is
# a short folder named after DIR's path, not a folder inside DIR.
_podman_runroot() {
	printf '/tmp/bpr-%s' "$(printf %s "$1" | md5sum | cut -c1-12)"
}

podman_setup() {
	local d=${1:-}
	if [ -z "$d" ]; then
		if [ -n "${TEST_DIR:-}" ]; then d=$TEST_DIR/podman; else d=$(mktemp -d); fi
	fi
	mkdir -p "$d" || return 1
	PODMAN_DIR=$(cd "$d" && pwd)
	d=$PODMAN_DIR
	mkdir -p "$(_podman_runroot "$d")"
	mkdir -p "$d/root" "$d/tmp" "$d/libpod-tmp" "$d/networks" "$d/runc" \
		"$d/volumes" "$d/home" "$d/xdg-runtime"
	chmod 0700 "$d/xdg-runtime"

	cat >"$d/containers.conf" <<-EOF
	[containers]
	default_ulimits = ["nofile=16384:16384", "nproc=32768:32768"]
	# No network namespace setup: netavark would otherwise edit the host's firewall.
	netns = "none"
	log_driver = "k8s-file"
	pids_limit = 0

	[engine]
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$d/events.log"
	tmp_dir = "$d/libpod-tmp"
	volume_path = "$d/volumes"
	image_copy_tmp_dir = "$d/tmp"
	# file locks live under tmp_dir; the default shm segment (/dev/shm/libpod_lock) is
	# shared with every other root podman on the machine.
	lock_type = "file"

	[network]
	network_config_dir = "$d/networks"
	EOF

	cat >"$d/registries.conf" <<-'EOF'
	unqualified-search-registries = []
	short-name-mode = "enforcing"
	EOF
	echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$d/policy.json"
	[ -f "$d/auth.json" ] || { echo '{"auths": {}}' >"$d/auth.json"; chmod 0600 "$d/auth.json"; }

	if [ -z "${PODMAN_STORAGE_DRIVER:-}" ]; then
		if _podman_overlay_works "$d"; then PODMAN_STORAGE_DRIVER=overlay; else PODMAN_STORAGE_DRIVER=vfs; fi
	fi
	cat >"$d/storage.conf" <<-EOF
	[storage]
	driver = "$PODMAN_STORAGE_DRIVER"
	graphroot = "$d/root"
	runroot = "$(_podman_runroot "$d")"
	EOF

	export CONTAINERS_CONF="$d/containers.conf"
	export CONTAINERS_STORAGE_CONF="$d/storage.conf"
	export CONTAINERS_REGISTRIES_CONF="$d/registries.conf"
	export REGISTRY_AUTH_FILE="$d/auth.json"
	# Containers' cgroups go below a parent of our own, which podman_teardown removes.
	PODMAN_CGROUP_PARENT=${PODMAN_CGROUP_PARENT:-/berth-test-$(basename "$(dirname "$d")")-$$}
	export PODMAN_DIR PODMAN_STORAGE_DRIVER PODMAN_CGROUP_PARENT
	_podman_argv "$d" "$PODMAN_STORAGE_DRIVER"
	PODMAN_CMD=("${_PODMAN_ARGV[@]}")
	if declare -F berth_on_exit >/dev/null; then
		berth_on_exit podman_teardown "$d"
	fi
}

# _podman_argv DIR DRIVER: sets _PODMAN_ARGV to the podman command line for the store in DIR.
# The environment is passed explicitly too, so a command built for one store keeps working
# after podman_setup has been called again for another.
#
# podman 4.3 (as root) keeps its blob-info cache in /var/lib/containers/cache whatever the
# store paths are, so each podman command runs in a private mount namespace in which
# DIR/var-lib-containers is mounted on /var/lib/containers (on a tmpfs /var/lib when that
# directory does not exist on the host). Mounts podman makes (layers, container rootfs) live
# and die with that namespace, so detached containers (run -d) are not supported.
_podman_argv() {
	local d=$1
	mkdir -p "$d/var-lib-containers"
	# runc keeps container state in /run/runc unless told otherwise (--runtime-flag root=).
	_PODMAN_ARGV=(unshare --mount --propagation private -- /bin/sh -c "$_PODMAN_NS_SCRIPT" berth-podman "$d"
		env CONTAINERS_CONF="$d/containers.conf" CONTAINERS_STORAGE_CONF="$d/storage.conf"
		CONTAINERS_REGISTRIES_CONF="$d/registries.conf" REGISTRY_AUTH_FILE="$d/auth.json"
		TMPDIR="$d/tmp" HOME="$d/home" XDG_RUNTIME_DIR="$d/xdg-runtime"
		"$PODMAN" --root "$d/root" --runroot "$(_podman_runroot "$d")" --storage-driver "$2"
		--tmpdir "$d/libpod-tmp" --cgroup-manager cgroupfs --events-backend file
		--network-config-dir "$d/networks" --runtime runc --runtime-flag "root=$d/runc")
}

_PODMAN_NS_SCRIPT='d=$1; shift
if [ -d /var/lib/containers ]; then
	mount -n --bind "$d/var-lib-containers" /var/lib/containers || exit 125
else
	mount -n -t tmpfs -o mode=0755,size=1m berth-var-lib /var/lib &&
		mkdir /var/lib/containers &&
		mount -n --bind "$d/var-lib-containers" /var/lib/containers || exit 125
fi
exec "$@"'

podman_cmd() {
	"${PODMAN_CMD[@]}" "$@"
}

# podman_run ARGS...: podman run with the test's cgroup parent.
podman_run() {
	podman_cmd run --cgroup-parent "$PODMAN_CGROUP_PARENT" "$@"
}

# podman_allow_http ADDR: lets podman commands that have no --tls-verify flag (such as
# `podman manifest inspect`) talk plain HTTP to ADDR (host:port) from the current store.
podman_allow_http() {
	printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$1" >>"$PODMAN_DIR/registries.conf"
}

# podman_policy_args: --signature-policy is a hidden podman flag; it keeps pulls off
# /etc/containers/policy.json.
podman_policy_args() {
	echo --signature-policy "$PODMAN_DIR/policy.json"
}

# _podman_overlay_works DIR: mounts a throwaway overlay below DIR.
_podman_overlay_works() {
	local t=$1/overlay-probe rc
	mkdir -p "$t/l" "$t/u" "$t/w" "$t/m" || return 1
	mount -n -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null
	rc=$?
	[ $rc -eq 0 ] && umount "$t/m"
	rm -rf "$t"
	return $rc
}

# podman_can_run: tries `podman run` of a tiny image made from /bin/busybox; prints the
# reason when it cannot.
podman_can_run() {
	local ctx=$PODMAN_DIR/probe-ctx out
	mkdir -p "$ctx/bin"
	cp /bin/busybox "$ctx/bin/busybox"
	tar -C "$ctx" -cf "$PODMAN_DIR/probe.tar" bin
	rm -rf "$ctx"
	if ! out=$(podman_cmd import --quiet "$PODMAN_DIR/probe.tar" localhost/berth-probe:latest 2>&1); then
		echo "podman import failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		rm -f "$PODMAN_DIR/probe.tar"
		return 1
	fi
	rm -f "$PODMAN_DIR/probe.tar"
	if ! out=$(podman_run --rm localhost/berth-probe:latest /bin/busybox echo probe-ok 2>&1) ||
		[ "$(tail -n 1 <<<"$out")" != probe-ok ]; then
		echo "podman run failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		podman_cmd rmi -f localhost/berth-probe:latest >/dev/null 2>&1
		return 1
	fi
	podman_cmd rmi -f localhost/berth-probe:latest >/dev/null 2>&1
	return 0
}

# podman_teardown [DIR]: removes containers and images of the store in DIR (default
# PODMAN_DIR), unmounts whatever is left below DIR and removes the cgroups its containers
# left behind (runc on cgroup v1 leaves empty libpod-<id> directories after --rm).
podman_teardown() {
	local d=${1:-${PODMAN_DIR:-}} drv m
	[ -n "$d" ] && [ -f "$d/storage.conf" ] || return 0
	drv=$(sed -n 's/^driver = "\(.*\)"/\1/p' "$d/storage.conf")
	_podman_argv "$d" "$drv"
	"${_PODMAN_ARGV[@]}" rm -a -f -t 0 >/dev/null 2>&1
	"${_PODMAN_ARGV[@]}" rmi -a -f >/dev/null 2>&1
	while read -r m; do
		umount -l "$m" 2>/dev/null
	done < <(awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
	while read -r m; do
		umount -l "$m" 2>/dev/null
	done < <(awk -v p="$(_podman_runroot "$d")/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf "$(_podman_runroot "$d")"
	if [ -n "${PODMAN_CGROUP_PARENT:-}" ]; then
		find /sys/fs/cgroup -depth -type d -path "*/${PODMAN_CGROUP_PARENT#/}*" \
			-exec rmdir {} + 2>/dev/null
	fi
	return 0
}
