#!/usr/bin/env bash
# Builds Berth's libFuzzer targets with clang (ASan + UBSan) and runs them.
# usage: tests/fuzz/run.sh TARGET|all [SECONDS]      fuzz each for SECONDS (default 60)
#        tests/fuzz/run.sh --build                   only build
#        tests/fuzz/run.sh --replay TARGET|all       run every committed seed and regression once
# Targets: reference digest manifest range jwt unpack (tests/fuzz/fuzz_TARGET.c).
# The committed seeds are tests/fuzz/corpus/TARGET/; fuzzing works on a copy under the build
# folder (BERTH_FUZZ_BUILD, default build-fuzz/), so the tree is untouched. A crash is
# written there as crash-*; keep it as tests/fuzz/regressions/TARGET/NAME once fixed: the
# TAP program tests/fuzz/test_fuzz.sh replays every one. Prints one line per target:
# "fuzz TARGET: N executions in S s, corpus C inputs, ok|CRASH".
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fuzzdir="$top/tests/fuzz"
build="${BERTH_FUZZ_BUILD:-$top/build-fuzz}"
all_targets=(reference digest manifest range jwt unpack)
CC="${FUZZ_CC:-clang}"

die() { echo "fuzz: $*" >&2; exit 2; }

# Source files each target links besides common/.
extra_sources() {
	case "$1" in
	jwt) echo "server/token.c" ;;
	unpack) echo "client/unpack.c" ;;
	*) echo "" ;;
	esac
}

build_one() {
	local t=$1 out="$build/fuzz_$1"
	local srcs=("$fuzzdir/fuzz_$t.c")
	for f in "$top"/common/*.c $(extra_sources "$t"); do
		case "$f" in
		# libregistry_client.a's sources need libcurl; no target reaches them.
		"$top"/common/registry_client.c | "$top"/common/copy.c) ;;
		/*) srcs+=("$f") ;;
		*) srcs+=("$top/$f") ;;
		esac
	done
	local newest
	newest=$(ls -t "${srcs[@]}" "$top"/common/*.h "$top"/server/token.h "$top"/client/unpack.h "$fuzzdir/fuzz.h" | head -1)
	if [ -x "$out" ] && [ "$out" -nt "$newest" ]; then
		return 0
	fi
	# shellcheck disable=SC2046
	"$CC" -g -O1 -std=gnu11 -D_GNU_SOURCE -I"$top" -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$(pkg-config --cflags libcrypto jansson libarchive) \
		"${srcs[@]}" -o "$out" \
		$(pkg-config --libs libcrypto jansson libarchive) -lpthread
}

build_all() {
	command -v "$CC" >/dev/null || die "$CC is not installed (scripts/deps.sh test installs clang)"
	mkdir -p "$build"
	for t in "$@"; do
		build_one "$t" || die "building fuzz_$t failed"
	done
}

max_len() {
	case "$1" in
	manifest | unpack) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

# replay TARGET: every committed seed and regression input, once each.
replay() {
	local t=$1 files=()
	for d in "$fuzzdir/corpus/$t" "$fuzzdir/regressions/$t"; do
		[ -d "$d" ] && for f in "$d"/*; do [ -f "$f" ] && files+=("$f"); done
	done
	[ ${#files[@]} -gt 0 ] || return 0
	"$build/fuzz_$t" -runs=1 "${files[@]}" >"$build/replay-$t.log" 2>&1
}

# fuzz TARGET SECONDS
fuzz() {
	local t=$1 secs=$2 work="$build/corpus-$t" log="$build/fuzz-$t.log"
	mkdir -p "$work" "$build/crashes-$t"
	cp -n "$fuzzdir/corpus/$t"/* "$work"/ 2>/dev/null || true
	local rc=0
	"$build/fuzz_$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/crashes-$t/" "$work" >"$log" 2>&1 || rc=$?
	local execs corp
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	corp=$(find "$work" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $t: ${execs:-0} executions in $secs s, corpus $corp inputs, ok"
	else
		echo "fuzz $t: ${execs:-0} executions in $secs s, corpus $corp inputs, CRASH (see $log, $build/crashes-$t/)"
	fi
	return "$rc"
}

case "${1:-}" in
--build)
	build_all "${all_targets[@]}"
	;;
--replay)
	[ -n "${2:-}" ] || die "usage: $0 --replay TARGET|all"
	if [ "$2" = all ]; then targets=("${all_targets[@]}"); else targets=("$2"); fi
	build_all "${targets[@]}"
	rc=0
	for t in "${targets[@]}"; do
		if replay "$t"; then echo "replay $t: ok"; else echo "replay $t: FAILED (see $build/replay-$t.log)"; rc=1; fi
	done
	exit $rc
	;;
"" | -h | --help)
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	[ -n "${1:-}" ] || exit 2
	;;
*)
	if [ "$1" = all ]; then targets=("${all_targets[@]}"); else targets=("$1"); fi
	for t in "${targets[@]}"; do
		[ -f "$fuzzdir/fuzz_$t.c" ] || die "unknown target '$t' (one of: ${all_targets[*]} all)"
	done
	secs="${2:-60}"
	[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || die "SECONDS must be a positive number, not '$secs'"
	build_all "${targets[@]}"
	rc=0
	for t in "${targets[@]}"; do fuzz "$t" "$secs" || rc=1; done
	exit $rc
	;;
esac
