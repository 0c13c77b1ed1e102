#!/usr/bin/env bash
# TAP: builds Berth with -fsanitize=address,undefined (configure --enable-sanitizers) in its
# own folder, a copy of the source tree (BERTH_ASAN_BUILD, default build-asan/ at the top;
# the main build is untouched and later runs rebuild only what changed), then runs every
# unit test and every API test (tests/api/*.py) against the instrumented berthd. Any ASan
# or UBSan report stops the program at once (halt_on_error) and fails its test; leaks are
# reported when berthd exits, so the suites' "exits on SIGTERM with status 0" case fails
# on a leak. Cases bounded by wall-clock time are left to the normal build.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BERTH_ASAN_BUILD:-$top/build-asan}"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ $# -ge 2 ] && printf '%s\n' "$2" | sed 's/^/#   /'
}
done_tap() { echo "1..$n"; [ "$failed" -eq 0 ]; exit $?; }

command -v git >/dev/null || { echo "1..0 # SKIP git is needed to list the source files"; exit 0; }
mkdir -p "$build/src"
# Copy the tracked and new (not ignored) files, keeping their times so make rebuilds only
# what changed since the last run.
(cd "$top" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$build/src" ||
	{ notok "copy the source tree to $build/src"; done_tap; }
log="$build/build.log"
if (
	cd "$build/src" &&
		{ [ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] ||
			autoreconf -fi; } &&
		{ [ -f Makefile ] && [ Makefile -nt configure ] ||
			./configure -q --enable-sanitizers --enable-werror CFLAGS="-g -O1"; } &&
		make -s -j"$(nproc)" && make -s -j"$(nproc)" check TESTS=
) >"$log" 2>&1; then
	ok "build with -fsanitize=address,undefined"
else
	notok "build with -fsanitize=address,undefined" "$(tail -40 "$log")"
	done_tap
fi

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
export LSAN_OPTIONS="exitcode=88"
out="$build/out"
rm -rf "$out"
mkdir -p "$out"

for t in "$build/src"/tests/unit/test_*; do
	[[ "$t" == *.c ]] && continue
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if (cd "$build/src" && timeout 300 "$t") >"$out/$name.log" 2>&1 && ! grep -q '^not ok' "$out/$name.log"; then
		ok "unit $name under ASan+UBSan ($(grep -c '^ok' "$out/$name.log") cases)"
	else
		notok "unit $name under ASan+UBSan" "$(grep -E '^not ok|ERROR|runtime error' "$out/$name.log" | head -20)"
	fi
done

export BERTHD="$build/src/berthd"
# Cases that time the server against a wall-clock bound ("... within 100 ms") measure the
# sanitizers' overhead, not berthd: they run in the normal build only.
export BERTH_TEST_ONLY='^(?!.*within [0-9]+ ms)'
# Three suites at a time: most of their time is spent waiting (timeouts, throttling), and
# each starts its own berthd on its own port and data folder.
api_tests=("$top"/tests/api/test_*.py)
running=0
for t in "${api_tests[@]}"; do
	name=$(basename "$t")
	(timeout 900 python3 "$t" >"$out/$name.log" 2>&1; echo $? >"$out/$name.rc") &
	running=$((running + 1))
	if [ "$running" -ge 3 ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for t in "${api_tests[@]}"; do
	name=$(basename "$t")
	if [ "$(cat "$out/$name.rc" 2>/dev/null)" = 0 ]; then
		ok "api $name against berthd under ASan+UBSan ($(grep -c '^ok' "$out/$name.log") cases)"
	else
		notok "api $name against berthd under ASan+UBSan" \
			"$(grep -E '^not ok|ERROR: AddressSanitizer|runtime error|LeakSanitizer|SUMMARY' "$out/$name.log" | head -30)"
	fi
done
done_tap
