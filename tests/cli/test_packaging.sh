#!/usr/bin/env bash
# Packaging: `make install` (DESTDIR and prefix) puts binaries, man pages, the systemd unit,
# the sysusers.d entry and the example config in place; the unit passes systemd-analyze
# verify and carries its hardening; the man pages render without warnings and name every
# option --help lists; the example config starts berthd; an edited config survives a
# reinstall and an uninstall; `make dist` ships what a build from the tarball needs.
set -u
: "${BERTHD:?BERTHD must name the berthd binary}"
top=${BERTH_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${BERTH_TEST_TMP:-/tmp}/packaging.XXXXXX")
n=0
fails=0
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
}
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
run() { # run DESC CMD...: ok when CMD succeeds; its output as diagnostics otherwise
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else notok "$d" "$out"; fi
}

# --- make install DESTDIR=... with the configured prefix
dest=$tmp/dest
run "make install DESTDIR=... succeeds" make -s -C "$top" install DESTDIR="$dest"
prefix=$(sed -n 's/^prefix = //p' "$top/Makefile")
sysconf=$(make -s -C "$top" -f - print-sysconfdir <<EOF2 2>/dev/null
include Makefile
print-sysconfdir:
	@echo \$(sysconfdir)
EOF2
)
root=$dest$prefix
for f in bin/berthd bin/berth; do
	check "installs $f (executable)" test -x "$root/$f"
done
for f in share/man/man8/berthd.8 share/man/man1/berth.1 lib/systemd/system/berthd.service lib/sysusers.d/berth.conf; do
	check "installs $f" test -f "$root/$f"
done
conf=$dest$sysconf/berth/berthd.conf
check "installs the example config in sysconfdir/berth" test -f "$conf"
check "the installed berthd is this build" cmp -s "$root/bin/berthd" "$top/berthd"
unit=$root/lib/systemd/system/berthd.service
check "the unit runs the installed binary with the installed config" \
	grep -qx "ExecStart=$prefix/bin/berthd --config $sysconf/berth/berthd.conf" "$unit"
for d in 'User=berth' 'Group=berth' 'StateDirectory=berth' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
	'ProtectHome=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' 'SystemCallFilter=@system-service' \
	'ExecReload=/bin/kill -HUP $MAINPID'; do
	check "the unit has $d" grep -qxF "$d" "$unit"
done
check "sysusers.d creates the berth user" grep -qE '^u berth - ".*" /var/lib/berth$' "$root/lib/sysusers.d/berth.conf"

# --- man pages
for page in "$root/share/man/man8/berthd.8" "$root/share/man/man1/berth.1"; do
	if out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) && [ -z "$out" ]; then
		ok "$(basename "$page") renders without warnings"
	else
		notok "$(basename "$page") renders without warnings" "$out"
	fi
done
check "berthd(8) carries the version" grep -q "Berth $("$BERTHD" --version | cut -d' ' -f2)" "$root/share/man/man8/berthd.8"
missing=
for opt in $("$BERTHD" --help | grep -oE '^  --[a-z-]+' | sed 's/^  //'); do
	grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$root/share/man/man8/berthd.8" || missing="$missing $opt"
done
check "berthd(8) documents every option of berthd --help${missing:+ (missing:$missing)}" test -z "$missing"
missing=
for cmd in $("$top/berth" --help | sed -n '/^Commands:/,$p' | grep -oE '^  [a-z]+' | sed 's/^  //'); do
	grep -qE "^\.B $cmd( |$)" "$root/share/man/man1/berth.1" || missing="$missing $cmd"
done
for opt in $("$top/berth" --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
	grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$root/share/man/man1/berth.1" || missing="$missing $opt"
done
check "berth(1) documents every command and option of berth --help${missing:+ (missing:$missing)}" test -z "$missing"

# --- the example config starts berthd (flags override its listen and data)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$root/bin/berthd" --config "$conf" --listen "127.0.0.1:$port" --data "$tmp/data" >"$tmp/berthd.log" 2>&1 &
pid=$!
code=
for _ in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")
	[ "$code" = 401 ] && break
	sleep 0.1
done
check "berthd starts with the example config (token auth: 401 on /v2/)" test "$code" = 401
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "and stops cleanly" test "$rc" -eq 0

# --- systemd-analyze verify, on an install whose ExecStart exists (prefix, no DESTDIR)
p2=$tmp/prefix
run "make install prefix=... succeeds" make -s -C "$top" install prefix="$p2"
if command -v systemd-analyze >/dev/null; then
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$p2/lib/systemd/system/berthd.service" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify accepts the unit, without warnings"
	else
		notok "systemd-analyze verify accepts the unit, without warnings" "exit $rc: $out"
	fi
	sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$p2/lib/systemd/system/berthd.service" >"$tmp/bad.service"
	out=$(systemd-analyze verify --man=no "$tmp/bad.service" 2>&1)
	check "systemd-analyze verify does notice a broken unit (the check can fail)" grep -qiE 'protect ?system' <<<"$out"
else
	notok "systemd-analyze verify accepts the unit" "systemd-analyze is not installed (scripts/deps.sh test installs systemd)"
fi

# --- reinstall and uninstall keep an edited config, remove an unchanged one
echo "log-level = warn # edited" >>"$conf"
make -s -C "$top" install DESTDIR="$dest" >/dev/null 2>&1
check "a reinstall keeps the edited config" grep -q "# edited" "$conf"
run "make uninstall DESTDIR=... succeeds" make -s -C "$top" uninstall DESTDIR="$dest"
check "uninstall keeps the edited config" test -f "$conf"
left=$(cd "$dest" && find . -type f ! -path "*/berth/berthd.conf" | sort)
check "uninstall removes everything else${left:+ (left: $left)}" test -z "$left"
run "make uninstall prefix=... succeeds" make -s -C "$top" uninstall prefix="$p2"
left=$(cd "$p2" && find . -type f | sort)
check "uninstall of an unchanged install leaves no file${left:+ (left: $left)}" test -z "$left"

# --- make dist ships what a build from the tarball needs
version=$("$BERTHD" --version | cut -d' ' -f2)
if make -s -C "$top" dist >/dev/null 2>&1 && mv "$top/berth-$version.tar.gz" "$tmp/"; then
	ok "make dist makes berth-$version.tar.gz"
	list=$(tar tzf "$tmp/berth-$version.tar.gz")
	missing=
	for f in configure Makefile.in Dockerfile packaging/berthd.service.in packaging/berthd.conf.in \
		packaging/berth.sysusers docs/man/berthd.8.in docs/man/berth.1.in docs/install.md docs/upgrade.md \
		docs/configuration.md docs/operations.md $(cd "$top" && ls schema/*.sql schema/postgres/*.sql server/*.c common/*.c client/*.c tests/cli/*.sh tests/unit/test_*.py); do
		grep -qx "berth-$version/$f" <<<"$list" || missing="$missing $f"
	done
	check "the tarball has the build system, sources, schema, packaging, docs and tests${missing:+ (missing:$missing)}" \
		test -z "$missing"
else
	notok "make dist makes berth-$version.tar.gz"
fi

# --- the Dockerfile: two stages from Debian 12, the runtime stage runs berthd as berth
df=$top/Dockerfile
check "Dockerfile builds in a debian:12 stage and runs in a Debian 12 one" \
	test "$(grep -cE '^FROM debian:12(-slim)?( |$)' "$df")" -eq 2
check "Dockerfile copies berthd from the build stage and runs as the berth user" \
	bash -c "grep -q '^COPY --from=build .*/usr/bin/berthd /usr/bin/berthd' '$df' && grep -qx 'USER berth' '$df'"
# Every library berthd links (but libc) comes from a Debian package the runtime stage installs,
# and every -dev package the build needs (scripts/deps.sh build) is in the build stage.
runtime=$(sed -n '/^FROM debian:12-slim/,$p' "$df")
for so in $(objdump -p "$BERTHD" | awk '$1 == "NEEDED" {print $2}' | grep -v '^libc\.so'); do
	path=$(ldd "$BERTHD" | awk -v so="$so" '$1 == so {print $3}')
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
	check "the runtime stage installs ${pkg:-?}, which gives berthd's $so" \
		bash -c "[ -n '$pkg' ] && grep -qw -- '$pkg' <<<'$runtime'"
done
# So does every library berthd loads with dlopen when a feature needs it (libpq for a
# PostgreSQL database, libcurl for S3, mirrors, replication and webhooks): the sonames among
# its strings that it does not link.
needed=$(objdump -p "$BERTHD" | awk '$1 == "NEEDED" {print $2}')
dlopened=$(strings "$BERTHD" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$' | sort -u | grep -vxF -f <(echo "$needed"))
check "berthd loads libpq.so.5 and libcurl.so.4 on demand, not linked (loaded: $(echo $dlopened))" \
	bash -c "grep -qx libpq.so.5 <<<'$dlopened' && grep -qx libcurl.so.4 <<<'$dlopened'"
for so in $dlopened; do
	path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ {print $NF; exit}')
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
	check "the runtime stage installs ${pkg:-?}, which gives the $so berthd loads on demand" \
		bash -c "[ -n '$pkg' ] && grep -qw -- '$pkg' <<<'$runtime'"
done
buildstage=$(sed -n '/^FROM debian:12 AS build/,/^FROM debian:12-slim/p' "$df")
for dev in $(sed -n '/^build_pkgs=(/,/)/p' "$top/scripts/deps.sh" | tr -d '()' | sed 's/build_pkgs=//'); do
	check "the build stage installs $dev (scripts/deps.sh build)" bash -c "grep -qw -- '$dev' <<<'$buildstage'"
done

# --- the source layout (STYLE.md, "Which part may know which"): server/ and client/ never
# include each other, common/ includes nothing of ours but common/, storage/ nothing of the
# binaries'; berthd does not link berth's library and libcommon.a needs no libcurl.
includes_of() { # includes_of DIR PART...: files under DIR including "PART/..." (or <PART/...>)
	local dir=$1
	shift
	local alt
	alt=$(
		IFS='|'
		echo "$*"
	)
	grep -rlE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]($alt)/" "$dir" --include='*.c' --include='*.h' 2>/dev/null | sort
}
mkdir -p "$tmp/layout/server"
printf '#include <stdio.h>\n  #  include "client/copy.h"\n' >"$tmp/layout/server/planted.c"
check "the layout check notices a planted include (the check can fail)" \
	test "$(includes_of "$tmp/layout/server" client)" = "$tmp/layout/server/planted.c"
bad=$(includes_of "$top/server" client)
check "no file under server/ includes client/${bad:+ (offending: $(echo $bad))}" test -z "$bad"
bad=$(includes_of "$top/client" server storage)
check "no file under client/ includes server/ or storage/${bad:+ (offending: $(echo $bad))}" test -z "$bad"
bad=$(includes_of "$top/common" server client storage)
check "no file under common/ includes server/, client/ or storage/${bad:+ (offending: $(echo $bad))}" test -z "$bad"
bad=$(includes_of "$top/storage" server client)
check "no file under storage/ includes server/ or client/${bad:+ (offending: $(echo $bad))}" test -z "$bad"
berthd_libs=$(make -s -C "$top" -f - print-berthd-libs <<EOF2 2>/dev/null
include Makefile
print-berthd-libs:
	@echo \$(berthd_LDADD) \$(berthd_DEPENDENCIES)
EOF2
)
berthd_libs=$(tr ' ' '\n' <<<"$berthd_libs" | grep -E '\.a$' | sort -u | tr '\n' ' ')
check "berthd links libregistry_client.a, not libclient.a (its libraries: ${berthd_libs% })" \
	bash -c "grep -qw 'libregistry_client.a' <<<'$berthd_libs' && ! grep -qw 'libclient.a' <<<'$berthd_libs'"
curl_refs=$(nm -u "$top/libcommon.a" 2>/dev/null | grep -cE ' curl_' || true)
check "libcommon.a needs no libcurl (undefined curl_ symbols: $curl_refs)" \
	bash -c "[ -s '$top/libcommon.a' ] && [ '$curl_refs' = 0 ]"

echo "1..$n"
[ "$fails" -eq 0 ]
