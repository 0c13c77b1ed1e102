# Shell helpers sourced by the interop and API test scripts: start and stop berthd and
# Debian's docker-registry on free 127.0.0.1 ports, isolate skopeo from the host's
# configuration, print TAP, and clean up everything on exit, even when interrupted.
#
#   berth_test_init NAME          private scratch dir TEST_DIR under $BERTH_TEST_TMP (default
#                                 $TMPDIR or /tmp), TMPDIR=$TEST_DIR/tmp; isolates skopeo (see
#                                 skopeo_cmd); installs the cleanup trap
#   berthd_start DATA_DIR [ARGS]  start "$BERTHD"; exports BERTHD_PORT BERTHD_PID BERTHD_ADDR
#   berthd_stop                   SIGTERM, wait, SIGKILL after 10 s
#   distribution_start DIR [--htpasswd FILE]   docker-registry; exports DIST_PORT DIST_PID DIST_ADDR
#   distribution_stop
#   rut_start DATA_DIR / rut_stop the registry under test: berthd, or docker-registry when
#                                 TEST_REGISTRY_IMPL=distribution; exports RUT_ADDR RUT_PID
#                                 RUT_NAME (the address changes on each start)
#   skopeo_cmd ARGS...            skopeo with private policy, registries.conf, auth file,
#                                 blob-info cache and tmpdir
#   berth_on_exit CMD...          run CMD during cleanup (in reverse order of registration)
#   tap_ok DESC / tap_fail DESC [DETAILS] / tap_skip DESC REASON / tap_check DESC CMD...
#   tap_diag TEXT / tap_done      TAP; tap_check prints CMD's output as comments on failure
#   ref_digest REF, ref_raw REF, expect_eq WHAT GOT WANT, expect_ref_digest REF DIGEST,
#   layout_blobs DIR, layout_top_digest DIR TAG, expect_same_layout DIR TAG DIR2 TAG2,
#   push_layout SRC DST DIGEST [FLAGS], pull_back REF DIR TAG ORIG_DIR ORIG_TAG [FLAGS]
#                                 digest comparisons through skopeo (see their comments)
#
# Environment: BERTHD (absolute path of the berthd binary), BERTH_TEST_TMP (scratch parent),
# BERTH_KEEP_TMP=1 keeps TEST_DIR after the run (it is always kept when a case failed),
# TEST_REGISTRY_IMPL=berthd|distribution, DOCKER_REGISTRY (default /usr/bin/docker-registry),
# BERTH_TEST_ARGS (extra berthd arguments, split on spaces: e.g. --storage s3 ...).

TEST_REGISTRY_IMPL=${TEST_REGISTRY_IMPL:-berthd}
DOCKER_REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
BERTH_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BERTH_TESTS_DIR

_tap_n=0
_tap_failed=0
_berth_exit_cmds=()
_berth_pids=()
# The traps can fire inside tap_check, whose redirections would swallow their messages: keep
# a copy of the script's stderr for them (daemons do not inherit it).
exec {_BERTH_STDERR}>&2

# ---------------------------------------------------------------- TAP

tap_diag() {
	local line
	while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$*"
}

tap_ok() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# tap_fail DESC [DETAILS]: DETAILS (may be multi-line) is printed as comments.
tap_fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$1"
	[ $# -ge 2 ] && [ -n "$2" ] && tap_diag "$2"
	# A crashed registry explains every later failure: say so once, with its log.
	if [ -n "${RUT_PID:-}" ] && ! _berth_alive "$RUT_PID" && [ -z "${_rut_death_reported:-}" ]; then
		_rut_death_reported=1
		tap_diag "$RUT_NAME (pid $RUT_PID) is no longer running; last lines of $RUT_LOG:"
		tap_diag "$(tail -n 30 "$RUT_LOG" 2>/dev/null)"
	fi
	return 0
}

tap_skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "${2:-}"
}

# tap_check DESC CMD ARGS...: ok if CMD exits 0; otherwise the last 60 lines of its combined
# output are printed as comments. Returns CMD's status so callers can chain on it.
tap_check() {
	local desc=$1 out rc
	shift
	out=$(mktemp "${TEST_DIR:-${TMPDIR:-/tmp}}/tap-check.XXXXXX")
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "$(printf 'command: %s\nexit status: %d\n' "$*" "$rc"; tail -n 60 "$out")"
	fi
	rm -f "$out"
	return $rc
}

# tap_done: prints the plan; exits 1 if any case failed (the EXIT trap then cleans up).
tap_done() {
	printf '1..%d\n' "$_tap_n"
	[ "$_tap_failed" -eq 0 ] || { tap_diag "$_tap_failed of $_tap_n failed"; exit 1; }
	exit 0
}

# ---------------------------------------------------------------- cleanup

berth_on_exit() {
	_berth_exit_cmds+=("$(printf '%q ' "$@")")
}

_berth_cleanup() {
	local i
	trap - EXIT INT TERM HUP
	[ -n "${BERTHD_PID:-}" ] && berthd_stop
	[ -n "${DIST_PID:-}" ] && distribution_stop
	[ -n "${RUT_PID:-}" ] && rut_stop
	for ((i = ${#_berth_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_berth_exit_cmds[i]}" >/dev/null 2>&1
	done
	for i in "${_berth_pids[@]}"; do
		_berth_kill "$i"
	done
	if [ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ]; then
		if [ "${BERTH_KEEP_TMP:-0}" = 1 ] || [ "$_tap_failed" -gt 0 ]; then
			echo "# kept $TEST_DIR" >&"$_BERTH_STDERR"
		else
			rm -rf "$TEST_DIR"
		fi
	fi
}

_berth_on_signal() {
	echo "# interrupted by SIG$1, cleaning up" >&"$_BERTH_STDERR"
	_berth_cleanup
	exit $((128 + $2))
}

# berth_test_init NAME: creates TEST_DIR, installs the traps, isolates skopeo.
berth_test_init() {
	local parent=${BERTH_TEST_TMP:-${TMPDIR:-/tmp}}
	mkdir -p "$parent" || return 1
	TEST_DIR=$(mktemp -d "$parent/${1:-berth-test}.XXXXXX") || return 1
	TEST_DIR=$(cd "$TEST_DIR" && pwd)
	mkdir -p "$TEST_DIR/tmp"
	export TEST_DIR TMPDIR="$TEST_DIR/tmp"
	trap _berth_cleanup EXIT
	trap '_berth_on_signal INT 2' INT
	trap '_berth_on_signal TERM 15' TERM
	trap '_berth_on_signal HUP 1' HUP
	_berth_client_env
}

# _berth_client_env: containers/image configuration private to TEST_DIR, so nothing reads
# /etc/containers, ~/.docker or ~/.config, nothing writes /var/lib/containers, and no
# unqualified name can resolve to a registry on the internet.
_berth_client_env() {
	local c="$TEST_DIR/containers"
	mkdir -p "$c/registries.d" "$c/tmp" "$c/home" "$c/xdg"
	cat >"$c/policy.json" <<-'EOF'
	{"default": [{"type": "insecureAcceptAnything"}]}
	EOF
	cat >"$c/registries.conf" <<-'EOF'
	unqualified-search-registries = []
	short-name-mode = "enforcing"
	EOF
	echo '{"auths": {}}' >"$c/auth.json"
	chmod 0600 "$c/auth.json"
	export CONTAINERS_REGISTRIES_CONF="$c/registries.conf"
	export REGISTRY_AUTH_FILE="$c/auth.json"
	export BERTH_CONTAINERS_DIR="$c"
	unset DOCKER_CONFIG CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}

# skopeo_cmd ARGS...: skopeo with the private configuration, and a time limit per command
# (SKOPEO_TIMEOUT, default 60s) so a hung registry fails a case instead of the whole run. skopeo (as root) keeps its
# blob-info cache in /var/lib/containers/cache and has no flag to move it; containers/image
# takes the euid from _CONTAINERS_ROOTLESS_UID, so a non-zero value there moves the cache to
# $XDG_DATA_HOME/containers/cache. Every other path is given explicitly.
skopeo_cmd() {
	local c=$BERTH_CONTAINERS_DIR
	_CONTAINERS_ROOTLESS_UID=4242 XDG_DATA_HOME="$c/xdg" HOME="$c/home" TMPDIR="$c/tmp" \
		skopeo --policy "$c/policy.json" --registries.d "$c/registries.d" --tmpdir "$c/tmp" \
		--command-timeout "${SKOPEO_TIMEOUT:-60s}" "$@"
}

# ---------------------------------------------------------------- processes

# berth_free_port: prints a TCP port on 127.0.0.1 that was free a moment ago.
berth_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# _berth_alive PID: the process exists and is not a zombie waiting to be reaped.
_berth_alive() {
	kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# _berth_kill PID: SIGTERM, wait up to 10 s, then SIGKILL. Reaps it if it is our child.
_berth_kill() {
	local pid=$1 i p keep=()
	if _berth_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_berth_alive "$pid" || break
			sleep 0.1
		done
		if _berth_alive "$pid"; then
			echo "# pid $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	for p in "${_berth_pids[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	_berth_pids=("${keep[@]}")
	return 0
}

# _berth_wait_ready PID URL LOG OKCODES: polls URL for up to 10 s until the HTTP status is one
# of OKCODES (space separated). Fails early if PID exits.
_berth_wait_ready() {
	local pid=$1 url=$2 log=$3 okcodes=$4 i code
	for ((i = 0; i < 100; i++)); do
		if ! _berth_alive "$pid"; then
			echo "# process $pid exited before $url was ready; last lines of $log:" >&2
			tail -n 20 "$log" 2>/dev/null | sed 's/^/#   /' >&2
			wait "$pid" 2>/dev/null
			return 1
		fi
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)
		case " $okcodes " in *" $code "*) return 0 ;; esac
		sleep 0.1
	done
	echo "# $url not ready after 10 s (last status $code); last lines of $log:" >&2
	tail -n 20 "$log" 2>/dev/null | sed 's/^/#   /' >&2
	return 1
}

# _berthd_spawn DATA_DIR [ARGS...]: sets _SPAWN_PORT and _SPAWN_PID; retries on port races.
_berthd_spawn() {
	local data=$1 port pid log
	shift
	[ -n "${BERTHD:-}" ] && [ -x "$BERTHD" ] || { echo "# BERTHD is not set to an executable" >&2; return 1; }
	mkdir -p "$data" || return 1
	data=$(cd "$data" && pwd)
	for _ in 1 2 3; do
		port=$(berth_free_port) || return 1
		log="$(dirname "$data")/berthd-$port.log"
		# shellcheck disable=SC2086 # BERTH_TEST_ARGS is a list of words
		"$BERTHD" --listen "127.0.0.1:$port" --data "$data" --log-level warn --auth "${BERTH_TEST_AUTH:-none}" \
			${BERTH_TEST_ARGS:-} "$@" \
			</dev/null >>"$log" 2>&1 {_BERTH_STDERR}>&- &
		pid=$!
		_berth_pids+=("$pid")
		# 401: ready, asking for credentials (--auth token).
		if _berth_wait_ready "$pid" "http://127.0.0.1:$port/v2/" "$log" "200 401"; then
			_SPAWN_PORT=$port _SPAWN_PID=$pid _SPAWN_LOG=$log
			return 0
		fi
		_berth_kill "$pid"
	done
	return 1
}

berthd_start() {
	[ $# -ge 1 ] || { echo "usage: berthd_start DATA_DIR [ARGS...]" >&2; return 2; }
	_berthd_spawn "$@" || return 1
	export BERTHD_PORT=$_SPAWN_PORT BERTHD_PID=$_SPAWN_PID BERTHD_ADDR=127.0.0.1:$_SPAWN_PORT
	export BERTHD_LOG=$_SPAWN_LOG
}

berthd_stop() {
	[ -n "${BERTHD_PID:-}" ] || return 0
	_berth_kill "$BERTHD_PID"
	unset BERTHD_PID
}

# _dist_spawn DIR [--htpasswd FILE]: writes DIR/../distribution-PORT.yml and starts
# docker-registry on it; sets _SPAWN_PORT and _SPAWN_PID.
_dist_spawn() {
	local dir=$1 htpasswd='' port pid cfg log okcodes=200
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--htpasswd) htpasswd=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); okcodes=401; shift 2 ;;
		*) echo "# distribution_start: unknown argument $1" >&2; return 2 ;;
		esac
	done
	[ -x "$DOCKER_REGISTRY" ] || { echo "# $DOCKER_REGISTRY not found" >&2; return 1; }
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	for _ in 1 2 3; do
		port=$(berth_free_port) || return 1
		cfg="$(dirname "$dir")/distribution-$port.yml"
		log="$(dirname "$dir")/distribution-$port.log"
		{
			echo "version: 0.1"
			echo "log:"
			echo "  level: warn"
			echo "  accesslog:"
			echo "    disabled: true"
			echo "storage:"
			echo "  filesystem:"
			echo "    rootdirectory: $dir"
			echo "  delete:"
			echo "    enabled: true"
			echo "  maintenance:"
			echo "    uploadpurging:"
			echo "      enabled: false"
			echo "http:"
			echo "  addr: 127.0.0.1:$port"
			echo "  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
			echo "  headers:"
			echo "    X-Content-Type-Options: [nosniff]"
			if [ -n "$htpasswd" ]; then
				echo "auth:"
				echo "  htpasswd:"
				echo "    realm: berth-test"
				echo "    path: $htpasswd"
			fi
		} >"$cfg"
		chmod 0600 "$cfg"
		# REGISTRY_* variables would override the file; keep the environment out of it.
		env $(env | sed -n 's/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/-u \1/p') \
			"$DOCKER_REGISTRY" serve "$cfg" </dev/null >>"$log" 2>&1 {_BERTH_STDERR}>&- &
		pid=$!
		_berth_pids+=("$pid")
		if _berth_wait_ready "$pid" "http://127.0.0.1:$port/v2/" "$log" "$okcodes"; then
			_SPAWN_PORT=$port _SPAWN_PID=$pid _SPAWN_LOG=$log
			return 0
		fi
		_berth_kill "$pid"
	done
	return 1
}

distribution_start() {
	[ $# -ge 1 ] || { echo "usage: distribution_start DIR [--htpasswd FILE]" >&2; return 2; }
	_dist_spawn "$@" || return 1
	export DIST_PORT=$_SPAWN_PORT DIST_PID=$_SPAWN_PID DIST_ADDR=127.0.0.1:$_SPAWN_PORT
	export DIST_LOG=$_SPAWN_LOG
}

distribution_stop() {
	[ -n "${DIST_PID:-}" ] || return 0
	_berth_kill "$DIST_PID"
	unset DIST_PID
}

# rut_start DATA_DIR [ARGS...]: the registry under test. ARGS go to berthd only.
rut_start() {
	case $TEST_REGISTRY_IMPL in
	berthd) _berthd_spawn "$@" || return 1 ;;
	distribution) _dist_spawn "$1" || return 1 ;;
	*) echo "# unknown TEST_REGISTRY_IMPL=$TEST_REGISTRY_IMPL" >&2; return 2 ;;
	esac
	export RUT_NAME=$TEST_REGISTRY_IMPL RUT_PORT=$_SPAWN_PORT RUT_PID=$_SPAWN_PID
	export RUT_ADDR=127.0.0.1:$_SPAWN_PORT RUT_LOG=$_SPAWN_LOG
}

rut_stop() {
	[ -n "${RUT_PID:-}" ] || return 0
	_berth_kill "$RUT_PID"
	unset RUT_PID
}

# rut_require: prints a TAP bail-out and exits when the registry under test cannot run.
rut_require() {
	if [ "$TEST_REGISTRY_IMPL" = berthd ]; then
		if [ -z "${BERTHD:-}" ] || [ ! -x "$BERTHD" ]; then
			echo "Bail out! BERTHD must be the absolute path of the berthd binary (or set TEST_REGISTRY_IMPL=distribution)"
			exit 1
		fi
		case $BERTHD in /*) ;; *) BERTHD=$(cd "$(dirname "$BERTHD")" && pwd)/$(basename "$BERTHD") ;; esac
		export BERTHD
	fi
}

# ---------------------------------------------------------------- image comparisons
# These print what differs and return 1, so they read well under tap_check.

# ref_digest REF: "sha256:HEX" of the raw manifest (or index) bytes at REF, any transport.
ref_digest() {
	local f rc
	f=$(mktemp "${TEST_DIR:-${TMPDIR:-/tmp}}/raw.XXXXXX")
	skopeo_cmd inspect --raw --tls-verify=false "$1" >"$f"
	rc=$?
	[ $rc -eq 0 ] && echo "sha256:$(sha256sum <"$f" | cut -d' ' -f1)"
	rm -f "$f"
	return $rc
}

# ref_raw REF: the raw manifest bytes at REF on stdout.
ref_raw() {
	skopeo_cmd inspect --raw --tls-verify=false "$1"
}

# expect_fail_with TEXT CMD...: CMD fails and its output mentions TEXT (an extended regex,
# case-insensitive). Its last line goes to fd $TAP_OUT (the test's stdout: `exec {TAP_OUT}>&1`)
# as a TAP comment, "#   client said: ..." (FAIL_SAID names another speaker), so the report
# shows what the user was told even when the case passes.
expect_fail_with() {
	local text=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ] || { echo "succeeded but should have failed:"; echo "$out"; return 1; }
	grep -qiE -- "$text" <<<"$out" || { echo "output does not mention '$text':"; echo "$out"; return 1; }
	tail -n 1 <<<"$out" | cut -c1-300 | sed "s/^/#   ${FAIL_SAID:-client} said: /" >&"${TAP_OUT:-1}"
}

# berth_fails_with TEXT CMD...: CMD (the berth client) fails with exactly one "berth:" error
# line, and its output contains TEXT (a fixed string); prints the last line.
berth_fails_with() {
	local text=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ] || { echo "succeeded but should have failed:"; echo "$out"; return 1; }
	grep -qF -- "$text" <<<"$out" || { echo "error does not mention '$text':"; echo "$out"; return 1; }
	[ "$(grep -c '^berth:' <<<"$out")" -eq 1 ] || { echo "not one error line:"; echo "$out"; return 1; }
	echo "$out" | tail -n 1
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] && return 0
	printf '%s differs\n  got:  %s\n  want: %s\n' "$1" "$2" "$3"
	return 1
}

# layout_blobs DIR: the sorted blob file names (sha256:HEX) of an OCI layout.
layout_blobs() {
	(cd "$1/blobs/sha256" && ls) | sed 's/^/sha256:/' | sort
}

# expect_same_layout SRC_DIR SRC_TAG DST_DIR DST_TAG: same top manifest digest at both tags
# and the same set of blob files in both layouts.
expect_same_layout() {
	local a b d
	a=$(ref_digest "oci:$1:$2") || { echo "cannot read oci:$1:$2"; return 1; }
	b=$(ref_digest "oci:$3:$4") || { echo "cannot read oci:$3:$4"; return 1; }
	expect_eq "manifest digest of oci:$3:$4 vs oci:$1:$2" "$b" "$a" || return 1
	if ! d=$(diff <(layout_blobs "$1") <(layout_blobs "$3")); then
		echo "blob files differ (< $1, > $3):"
		echo "$d"
		return 1
	fi
	echo "same manifest $a and $(layout_blobs "$1" | wc -l) blobs"
}

# expect_ref_digest REF WANT: the raw manifest at REF hashes to WANT.
expect_ref_digest() {
	local got
	got=$(ref_digest "$1") || { echo "cannot read $1"; return 1; }
	expect_eq "manifest digest of $1" "$got" "$2"
}

# layout_top_digest DIR TAG: the digest index.json gives for TAG.
layout_top_digest() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

# push_layout SRC DST WANT [skopeo copy flags...]: skopeo copy SRC to DST, then check that the
# digest skopeo reports and the manifest now at DST both equal WANT.
push_layout() {
	local src=$1 dst=$2 want=$3 df
	shift 3
	df=$(mktemp "${TEST_DIR:-${TMPDIR:-/tmp}}/digest.XXXXXX")
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false --digestfile "$df" "$@" "$src" "$dst" ||
		{ rm -f "$df"; return 1; }
	expect_eq "digest reported by skopeo for $dst" "$(cat "$df")" "$want" || { rm -f "$df"; return 1; }
	rm -f "$df"
	expect_ref_digest "$dst" "$want"
}

# pull_back REF DIR TAG ORIG_DIR ORIG_TAG [skopeo copy flags...]: copies REF into a new OCI
# layout DIR:TAG and checks it is identical to ORIG_DIR:ORIG_TAG (expect_same_layout).
pull_back() {
	local ref=$1 dir=$2 tag=$3 orig=$4 otag=$5
	shift 5
	rm -rf "$dir"
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false "$@" "$ref" "oci:$dir:$tag" || return 1
	expect_same_layout "$orig" "$otag" "$dir" "$tag"
}
