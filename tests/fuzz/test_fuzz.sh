#!/usr/bin/env bash
# TAP: builds the libFuzzer targets (tests/fuzz/run.sh), replays every committed seed and
# every kept crash input (tests/fuzz/regressions/TARGET/), then fuzzes each target for
# FUZZ_SECONDS (default 10) from its committed corpus. Skips if clang or its libFuzzer
# runtime is missing (scripts/deps.sh test installs them).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs="${FUZZ_SECONDS:-10}"
export BERTH_FUZZ_BUILD="${BERTH_TEST_TMP:-/tmp}/build-fuzz.$$"
trap 'rm -rf "$BERTH_FUZZ_BUILD"' EXIT
targets=(reference digest manifest range jwt unpack)

probe=$(mktemp -d)
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' >"$probe/p.c"
if ! command -v clang >/dev/null || ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rm -rf "$probe"
	echo "1..0 # SKIP clang with libFuzzer is not installed"
	exit 0
fi
rm -rf "$probe"

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }

if "$top/tests/fuzz/run.sh" --build >"$BERTH_FUZZ_BUILD.build.log" 2>&1; then
	ok "fuzz targets build (clang, ASan + UBSan)"
else
	notok "fuzz targets build"
	sed 's/^/#   /' "$BERTH_FUZZ_BUILD.build.log" | tail -30
	rm -f "$BERTH_FUZZ_BUILD.build.log"
	echo "1..$n"
	exit 1
fi
rm -f "$BERTH_FUZZ_BUILD.build.log"

for t in "${targets[@]}"; do
	nreg=$(find "$top/tests/fuzz/regressions/$t" -type f 2>/dev/null | wc -l)
	nseed=$(find "$top/tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
	if out=$("$top/tests/fuzz/run.sh" --replay "$t" 2>&1); then
		ok "$t: $nseed seeds and $nreg kept crash inputs replay cleanly"
	else
		notok "$t: replaying seeds and kept crash inputs"
		echo "$out" | sed 's/^/#   /'
		tail -30 "$BERTH_FUZZ_BUILD/replay-$t.log" | sed 's/^/#   /'
	fi
	if out=$("$top/tests/fuzz/run.sh" "$t" "$secs" 2>&1); then
		ok "$t: $(echo "$out" | tail -1 | sed 's/^fuzz [a-z]*: //')"
	else
		notok "$t: fuzzing for $secs s found a crash"
		echo "$out" | sed 's/^/#   /'
		grep -A30 'ERROR\|invariant\|runtime error' "$BERTH_FUZZ_BUILD/fuzz-$t.log" | head -40 | sed 's/^/#   /'
	fi
done
echo "1..$n"
