#!/usr/bin/env bash
# berth run: containers from images the test builds (tests/fixtures/mkimage.sh and a python
# layout writer), pushed to berthd and to Debian's docker-registry. Output and exit codes
# (0, 3, 126, 127, 137 on OOM), the image config (Entrypoint/Cmd, Env, WorkingDir, User),
# env/workdir/user flags, bind mounts (ro too), --network none/host, --pids-limit against a
# fork bomb, whiteouts and opaque directories, a multi-platform index, -d with
# ps/logs/stop/rm, --rm leaving nothing behind, signal forwarding, -t/-i, --read-only,
# capabilities and seccomp, the copied-rootfs fallback, and bad flags.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_client_run.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

rut_require
berth_test_init client-run || { echo "Bail out! cannot create a scratch directory"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "Bail out! berth run needs root"; exit 1; }

ROOT=$TEST_DIR/root
IMG=$TEST_DIR/images
export BERTH_CONFIG_DIR=$TEST_DIR/berth-config
unset BERTH_INSECURE_REGISTRIES BERTH_ROOT BERTH_ROOTFS
mkdir -p "$IMG" "$BERTH_CONFIG_DIR"

# berth ARGS...: the client on the test's store, with a time limit.
berth() {
	timeout 60 "$BERTH_BIN" --root "$ROOT" "$@"
}
# Detached containers still running when the test ends are killed and removed.
berth_on_exit bash -c 'for c in $("$0" --root "$1" ps -aq); do "$0" --root "$1" rm -f "$c"; done' "$BERTH_BIN" "$ROOT"

case $(uname -m) in
x86_64) HOST_ARCH=amd64 OTHER_ARCH=arm64 ;;
aarch64) HOST_ARCH=arm64 OTHER_ARCH=amd64 ;;
*) HOST_ARCH=$(uname -m) OTHER_ARCH=amd64 ;;
esac

# expect_out WANT CMD...: CMD succeeds and prints exactly WANT.
expect_out() {
	local want=$1 out
	shift
	out=$("$@") || { echo "failed: $out"; return 1; }
	expect_eq "output of $*" "$out" "$want"
}

# expect_status WANT CMD...: CMD exits with status WANT.
expect_status() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	expect_eq "exit status of $*" "$rc" "$want"
}

# ---------------------------------------------------------------- fixtures

# custom.py BASE OUT: an image on top of BASE's busybox layer with a user, groups, an
# Entrypoint/Cmd/Env/WorkingDir/User config, and a layer with an opaque directory and a
# whiteout over the layer below.
cat >"$TEST_DIR/custom.py" <<'PY'
import gzip, hashlib, io, json, os, shutil, sys, tarfile
base, out, outside = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(d): return f"{base}/blobs/sha256/{d.split(':')[1]}"
top = json.load(open(base + "/index.json"))["manifests"][0]["digest"]
man = json.load(open(blob(top)))
cfg = json.load(open(blob(man["config"]["digest"])))
l1 = man["layers"][0]
shutil.copy(blob(l1["digest"]), f"{out}/blobs/sha256/{l1['digest'].split(':')[1]}")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.uid, ti.gid = 1704067200, 0, 0
            if mode == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            elif data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, mode
                t.addfile(ti)
            else:
                ti.mode, ti.size = mode, len(data)
                t.addfile(ti, io.BytesIO(data.encode()))
    raw = buf.getvalue()
    return "sha256:" + hashlib.sha256(raw).hexdigest(), dict(
        mediaType="application/vnd.oci.image.layer.v1.tar+gzip", **put(gzip.compress(raw, mtime=0)))
d2, L2 = layer([("etc", None, 0o755),
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n", 0o644),
    ("etc/group", "root:x:0:\nwheel:x:10:app\nstaff:x:50:app\napp:x:1000:\n", 0o644),
    ("home", None, 0o755), ("home/app", None, 0o755),
    ("data", None, 0o755), ("data/old1", "old\n", 0o644), ("data/old2", "old\n", 0o644),
    ("keep.txt", "keep\n", 0o644), ("gone.txt", "gone\n", 0o644)])
d3, L3 = layer([("data", None, 0o755), ("data/.wh..wh..opq", "", 0o644), ("data/new", "new\n", 0o644),
    (".wh.gone.txt", "", 0o644), ("etc", None, 0o755),
    ("etc/hostname", outside + "/hostname-target", "symlink"),
    ("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf", "symlink")])
cfg["rootfs"]["diff_ids"] = [cfg["rootfs"]["diff_ids"][0], d2, d3]
cfg["config"] = {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "IMG_VAR=from-image"],
                 "Entrypoint": ["/bin/echo", "entry:"], "Cmd": ["default-cmd"],
                 "WorkingDir": "/data", "User": "app"}
cdesc = dict(mediaType="application/vnd.oci.image.config.v1+json", **put(json.dumps(cfg).encode()))
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": cdesc, "layers": [l1, L2, L3]}
mdesc = dict(mediaType="application/vnd.oci.image.manifest.v1+json", **put(json.dumps(m).encode()))
mdesc["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
json.dump({"schemaVersion": 2, "manifests": [mdesc]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 3 --tag v1 --seed client-run >/dev/null &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms "linux/$HOST_ARCH,linux/$OTHER_ARCH" --tag multi \
			--seed client-run-multi >/dev/null &&
		mkdir -p "$TEST_DIR/outside" && echo host-file >"$TEST_DIR/outside/hostname-target" &&
		python3 "$TEST_DIR/custom.py" "$IMG/app" "$IMG/custom" "$TEST_DIR/outside"
}
tap_check "fixtures: mkimage.sh images and a custom config/whiteout image" build_fixtures ||
	{ echo "Bail out! no fixtures"; exit 1; }

tap_check "start berthd" berthd_start "$TEST_DIR/berthd" || { echo "Bail out! berthd did not start"; exit 1; }
B=$BERTHD_ADDR
push() {
	skopeo_cmd copy --dest-tls-verify=false --preserve-digests "$@" >/dev/null
}
push_all() {
	push "oci:$IMG/app:v1" "docker://$B/test/app:v1" &&
		push --all "oci:$IMG/multi:multi" "docker://$B/test/multi:multi" &&
		push "oci:$IMG/custom:v1" "docker://$B/test/custom:v1"
}
tap_check "push the fixtures to berthd with skopeo" push_all
APP=$B/test/app:v1
CUSTOM=$B/test/custom:v1

# ---------------------------------------------------------------- basics

first_run() {
	local out
	out=$(berth run --rm "$APP" echo hello from berth) || return 1
	expect_eq output "$out" "hello from berth" && berth images | grep -q "$B/test/app"
}
tap_check "run pulls a missing image and prints the command's output" first_run
tap_check "exit status 0" expect_status 0 berth run --rm "$APP" true
tap_check "exit status 3 is berth run's" expect_status 3 berth run --rm "$APP" sh -c 'exit 3'
tap_check "a command not in PATH exits 127 with docker's message" \
	bash -c 'out=$("$@" 2>&1); rc=$?; echo "$out"; [ $rc -eq 127 ] && grep -q "executable file not found in \$PATH" <<<"$out"' \
	_ "$BERTH_BIN" --root "$ROOT" run --rm "$APP" no-such-command
tap_check "a file that is not executable exits 126" expect_status 126 berth run --rm "$APP" /etc/passwd
tap_check "--pull never with an image that is not local fails clearly" \
	berth_fails_with "no such image" berth run --rm --pull never "$B/test/nothing:v1" true
pull_always() {
	local out
	out=$(berth run --rm --pull always "$APP" true 2>&1) || { echo "$out"; return 1; }
	grep -q "Image is up to date\|Already exists" <<<"$out" || grep -q "Pulling" <<<"$out"
}
tap_check "--pull always asks the registry again" pull_always

# ---------------------------------------------------------------- the image config

tap_check "Entrypoint + Cmd from the image" expect_out "entry: default-cmd" berth run --rm "$CUSTOM"
tap_check "arguments replace Cmd, Entrypoint stays" expect_out "entry: a b" berth run --rm "$CUSTOM" a b
tap_check "--entrypoint replaces Entrypoint and drops Cmd" \
	expect_out "from-image /data" berth run --rm --entrypoint /bin/sh "$CUSTOM" -c 'echo $IMG_VAR $PWD'
user_ok() {
	expect_eq "image User app" "$(berth run --rm --entrypoint id "$CUSTOM")" \
		"uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),1000(app)" &&
		expect_eq "HOME of app" "$(berth run --rm --entrypoint /bin/sh "$CUSTOM" -c 'echo $HOME')" /home/app &&
		expect_eq "-u root" "$(berth run --rm -u root --entrypoint id "$CUSTOM")" \
			"uid=0(root) gid=0(root) groups=0(root)" &&
		expect_eq "-u app:staff" "$(berth run --rm -u app:staff --entrypoint id "$CUSTOM")" \
			"uid=1000(app) gid=50(staff) groups=50(staff)" &&
		expect_eq "-u 4242:77" "$(berth run --rm -u 4242:77 "$APP" id)" "uid=4242 gid=77 groups=77"
}
tap_check "User: image default, names and groups from /etc/passwd and /etc/group, uid:gid" user_ok
tap_check "an unknown user name fails clearly" \
	berth_fails_with "unable to find user nobody" berth run --rm -u nobody "$APP" true

env_ok() {
	local out
	printf '# a comment\nFROM_FILE=file value\n\nBARE_FROM_HOST\n' >"$TEST_DIR/env.list"
	out=$(BARE_FROM_HOST=host-val berth run --rm -e IMG_VAR=overridden -e NEW=1 --env-file "$TEST_DIR/env.list" \
		-e BARE_FROM_HOST --hostname boxname --entrypoint /bin/sh "$CUSTOM" \
		-c 'echo "$IMG_VAR|$NEW|$FROM_FILE|$BARE_FROM_HOST|$HOSTNAME|$(hostname)|$PATH"') || return 1
	expect_eq env "$out" "overridden|1|file value|host-val|boxname|boxname|/usr/sbin:/usr/bin:/sbin:/bin"
}
tap_check "env: image Env, -e K=V, bare -e K, --env-file, HOSTNAME" env_ok
workdir_ok() {
	expect_eq "image WorkingDir" "$(berth run --rm --entrypoint /bin/sh "$CUSTOM" -c pwd)" /data &&
		expect_eq "-w (created when missing)" "$(berth run --rm -w /new/dir "$APP" sh -c pwd)" /new/dir
}
tap_check "WorkingDir from the image and -w" workdir_ok

# ---------------------------------------------------------------- filesystem

layers_ok() {
	local out
	out=$(berth run --rm -u root --entrypoint /bin/sh "$CUSTOM" -c 'ls /data; ls / | grep txt') || return 1
	expect_eq "opaque data/ and whiteout gone.txt" "$(echo $out)" "new keep.txt" &&
		expect_eq "whiteout in a mkimage layer" "$(berth run --rm "$APP" ls /etc | grep berth | tr '\n' ' ')" \
			"berth-arch berth-fixture.txt berth-layer3.txt berth-seed "
}
tap_check "whiteout and opaque directory: only the right files are visible" layers_ok
symlinks_ok() {
	# etc/hostname is an absolute symlink naming a host file; etc/resolv.conf dangles.
	local out
	out=$(berth run --rm --hostname linked --entrypoint /bin/sh "$CUSTOM" -c 'cat /etc/hostname; test -f /etc/resolv.conf && echo resolv-ok') ||
		return 1
	echo "$out"
	expect_eq "inside" "$(echo $out)" "linked resolv-ok" &&
		expect_eq "host file untouched" "$(cat "$TEST_DIR/outside/hostname-target")" host-file &&
		! grep -q "$TEST_DIR/outside" /proc/self/mountinfo
}
tap_check "image symlinks on /etc/hostname (to a host path) and /etc/resolv.conf (dangling) stay inside" symlinks_ok
copy_ok() {
	local out
	out=$(BERTH_ROOTFS=copy berth run --rm -u root --entrypoint /bin/sh "$CUSTOM" -c 'ls /data; ls / | grep txt; grep " / " /proc/mounts') ||
		return 1
	echo "$out"
	expect_eq "copied rootfs" "$(head -2 <<<"$out" | tr '\n' ' ')" "new keep.txt " && ! grep -q overlay <<<"$out"
}
tap_check "BERTH_ROOTFS=copy: a copied rootfs shows the same files" copy_ok
volumes_ok() {
	mkdir -p "$TEST_DIR/vol" && echo host-data >"$TEST_DIR/vol/in.txt" || return 1
	local out
	out=$(berth run --rm -v "$TEST_DIR/vol:/mnt/rw" -v "$TEST_DIR/vol:/mnt/ro:ro" "$APP" sh -c \
		'cat /mnt/rw/in.txt; echo written >/mnt/rw/out.txt && echo rw-ok; echo x >/mnt/ro/no.txt || echo ro-refused') ||
		return 1
	echo "$out"
	expect_eq volumes "$(echo $out)" "host-data rw-ok ro-refused" &&
		expect_eq "file written through the volume" "$(cat "$TEST_DIR/vol/out.txt")" written &&
		[ ! -e "$TEST_DIR/vol/no.txt" ]
}
tap_check "bind mounts -v SRC:DST and SRC:DST:ro" volumes_ok
readonly_ok() {
	local out
	out=$(berth run --rm --read-only "$APP" sh -c 'touch /x 2>&1 || echo refused; touch /tmp/y 2>&1 || echo refused') || true
	expect_eq "writes refused" "$(grep -c refused <<<"$out")" 2 &&
		expect_eq "writable without --read-only" "$(berth run --rm "$APP" sh -c 'touch /x && echo ok')" ok
}
tap_check "--read-only root filesystem" readonly_ok
dev_ok() {
	local out
	out=$(berth run --rm "$APP" sh -c 'ls /dev | tr "\n" " "; echo; echo x >/dev/null && echo null-ok; grep -c " /sys .*ro," /proc/mounts; echo x >/proc/sys/kernel/hostname 2>/dev/null || echo procsys-ro') ||
		return 1
	echo "$out"
	grep -q "^fd full null ptmx pts random shm stderr stdin stdout tty urandom zero $" <<<"$(head -1 <<<"$out")" &&
		grep -qx null-ok <<<"$out" && grep -qx 1 <<<"$out" && grep -qx procsys-ro <<<"$out"
}
tap_check "minimal /dev, read-only /sys and /proc/sys" dev_ok

# ---------------------------------------------------------------- isolation

net_ok() {
	local none host
	none=$(berth run --rm "$APP" sh -c "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '") || return 1
	host=$(berth run --rm --network host "$APP" sh -c "tail -n +3 /proc/net/dev | wc -l") || return 1
	expect_eq "--network none interfaces" "$none" lo &&
		expect_eq "lo is up" "$(berth run --rm "$APP" cat /sys/class/net/lo/operstate)" unknown &&
		expect_eq "host's interface count" "$host" "$(tail -n +3 /proc/net/dev | wc -l)"
}
tap_check "--network none sees only lo (up); --network host sees the host's interfaces" net_ok
pid_ok() {
	expect_eq "processes (a shell glob: no child)" "$(berth run --rm "$APP" sh -c 'echo $$ /proc/[0-9]*')" \
		"2 /proc/1 /proc/2"
}
tap_check "new PID namespace: the process is PID 2 under berth's init" pid_ok
zombies_ok() {
	# The shell's child double-forks; the orphan is re-parented to the init, which reaps it.
	local out
	out=$(berth run --rm "$APP" sh -c '(sleep 0.2 &) ; sleep 1; grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l') ||
		return 1
	expect_eq "zombies" "$out" 0
}
tap_check "the container's init reaps orphaned zombies" zombies_ok
caps_ok() {
	expect_eq "default CapEff" "$(berth run --rm "$APP" sh -c 'grep CapEff /proc/self/status | cut -f2')" \
		00000000a80425fb &&
		expect_eq "--cap-drop ALL --cap-add NET_ADMIN" \
			"$(berth run --rm --cap-drop ALL --cap-add NET_ADMIN "$APP" sh -c 'grep CapEff /proc/self/status | cut -f2')" \
			0000000000001000 &&
		expect_eq "non-root has none" "$(berth run --rm -u 1000 "$APP" sh -c 'grep CapEff /proc/self/status | cut -f2')" \
			0000000000000000 &&
		expect_eq "no_new_privs and seccomp" "$(berth run --rm "$APP" sh -c 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status | cut -f2 | tr "\n" " "')" \
			"1 2 " &&
		expect_eq "--privileged: no seccomp" "$(berth run --rm --privileged "$APP" sh -c 'grep ^Seccomp: /proc/self/status | cut -f2')" 0
}
tap_check "capabilities: docker's default set, --cap-add/--cap-drop, no_new_privs, seccomp, --privileged" caps_ok
seccomp_ok() {
	local out
	out=$(berth run --rm "$APP" sh -c 'mkdir /m; busybox mount -t tmpfs x /m 2>&1; busybox unshare -n true 2>&1; echo end') || return 1
	echo "$out"
	[ "$(grep -Ec "Operation not permitted|permission denied" <<<"$out")" -eq 2 ] &&
		grep -qx end <<<"$out"
}
tap_check "seccomp and capabilities refuse mount and unshare" seccomp_ok

# ---------------------------------------------------------------- limits

oom_ok() {
	local rc
	berth run --rm -m 16m "$APP" sh -c 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'
	rc=$?
	expect_eq "exit status over --memory" "$rc" 137
}
tap_check "a process exceeding --memory is killed: exit 137" oom_ok
pids_ok() {
	local out rc
	out=$(berth run --rm --pids-limit 20 "$APP" sh -c 'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; echo all-forked' 2>&1)
	rc=$?
	echo "$out"
	[ $rc -ne 0 ] && ! grep -q all-forked <<<"$out" && grep -q "can't fork" <<<"$out" || return 1
	# Without the limit the same loop completes.
	out=$(berth run --rm "$APP" sh -c 'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; echo all-forked') &&
		grep -q all-forked <<<"$out"
}
tap_check "--pids-limit stops a fork bomb" pids_ok
cgroup_ok() {
	local out
	out=$(berth run -d --name limits -m 64m --cpus 0.5 --pids-limit 33 "$APP" sleep 30) || return 1
	local id=$out v
	if [ -f /sys/fs/cgroup/cgroup.controllers ] || grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
		v=/sys/fs/cgroup
		[ -f $v/cgroup.controllers ] || v=/sys/fs/cgroup/unified
		expect_eq memory.max "$(cat $v/berth/$id/memory.max)" 67108864 &&
			expect_eq pids.max "$(cat $v/berth/$id/pids.max)" 33 &&
			expect_eq cpu.max "$(cat $v/berth/$id/cpu.max)" "50000 100000"
	else
		expect_eq memory.limit_in_bytes "$(cat /sys/fs/cgroup/memory/berth/$id/memory.limit_in_bytes)" 67108864 &&
			expect_eq pids.max "$(cat /sys/fs/cgroup/pids/berth/$id/pids.max)" 33 &&
			expect_eq cfs_quota_us "$(cat /sys/fs/cgroup/cpu/berth/$id/cpu.cfs_quota_us)" 50000 &&
			grep -qx "$(berth ps -q)" <<<"${id:0:12}" &&
			[ -n "$(cat /sys/fs/cgroup/memory/berth/$id/cgroup.procs)" ]
	fi || return 1
	berth rm -f limits >/dev/null
}
tap_check "--memory, --cpus, --pids-limit land in the container's cgroup" cgroup_ok

# ---------------------------------------------------------------- lifecycle

nothing_left() {
	local n
	n=$(ls "$ROOT/containers" | grep -cv '^\.lock$')
	[ "$n" -eq 0 ] || { echo "container directories left: $(ls "$ROOT/containers")"; return 1; }
	! grep -q "$ROOT" /proc/self/mountinfo || { echo "mounts left:"; grep "$ROOT" /proc/self/mountinfo; return 1; }
	local left
	left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path '*/berth/*' -type d 2>/dev/null | head)
	[ -z "$left" ] || { echo "cgroups left: $left"; return 1; }
}
tap_check "--rm leaves no container directory, mount or cgroup behind" nothing_left
detach_ok() {
	local id out
	id=$(berth run -d --name web "$APP" sh -c 'echo started; trap "echo got TERM; exit 7" TERM; while true; do sleep 0.1; done') ||
		return 1
	[[ $id =~ ^[0-9a-f]{64}$ ]] || { echo "not an id: $id"; return 1; }
	sleep 0.5
	out=$(berth ps) && echo "$out" && grep -E "^${id:0:12} +$APP +.*Up .* web$" <<<"$out" >/dev/null || return 1
	berth_fails_with "already in use" berth run -d --name web "$APP" true || return 1
	berth_fails_with "is running" berth rm web || return 1
	expect_out web berth stop web || return 1
	out=$(berth ps) && ! grep -q web <<<"$out" || { echo "still listed: $out"; return 1; }
	out=$(berth ps -a) && grep -E "Exited \(7\) .* web$" <<<"$out" >/dev/null || { echo "$out"; return 1; }
	expect_eq logs "$(berth logs web)" "$(printf 'started\ngot TERM')" || return 1
	expect_out web berth rm web && berth_fails_with "no such container" berth logs web
}
tap_check "-d: ps lists it, logs shows its output, stop forwards SIGTERM (exit 7), rm removes it" detach_ok
rm_force_ok() {
	berth run -d --name victim "$APP" sleep 100 >/dev/null && berth rm -f victim && ! berth ps -a | grep -q victim
}
tap_check "rm -f kills and removes a running container" rm_force_ok
tap_check "after -d/stop/rm nothing is left either" nothing_left
signal_ok() {
	local sig=$1 want=$2 pid rc
	timeout 60 "$BERTH_BIN" --root "$ROOT" run --rm "$APP" sh -c \
		'trap "echo got INT; exit 9" INT; trap "echo got TERM; exit 8" TERM; echo ready; while true; do sleep 0.1; done' \
		>"$TEST_DIR/sig.out" &
	pid=$!
	for _ in $(seq 50); do grep -q ready "$TEST_DIR/sig.out" && break; sleep 0.1; done
	# timeout passes the signal on to berth run.
	kill -"$sig" $pid
	wait $pid
	rc=$?
	cat "$TEST_DIR/sig.out"
	expect_eq "status after SIG$sig" "$rc" "$want" && grep -q "got $sig" "$TEST_DIR/sig.out"
}
tap_check "SIGTERM to berth run reaches the container's process; its status is berth's" signal_ok TERM 8
tap_check "SIGINT to berth run reaches the container's process; its status is berth's" signal_ok INT 9
tty_ok() {
	local out
	out=$(berth run --rm -t "$APP" sh -c 'test -t 0 && test -t 1 && echo "tty $TERM"' | tr -d '\r') || return 1
	expect_eq "-t" "$out" "tty xterm" &&
		expect_eq "-i pipes stdin" "$(printf 'line1\nline2\n' | berth run --rm -i "$APP" cat)" "$(printf 'line1\nline2')" &&
		expect_eq "no -i: stdin is empty" "$(echo ignored | berth run --rm "$APP" cat)" ""
}
tap_check "-t gives a pty, -i keeps stdin open, without -i stdin is /dev/null" tty_ok

# ---------------------------------------------------------------- platforms, registries

multi_ok() {
	expect_eq "etc/berth-arch" "$(berth run --rm "$B/test/multi:multi" cat /etc/berth-arch)" "linux/$HOST_ARCH"
}
tap_check "a two-platform index runs the host's linux/$HOST_ARCH image" multi_ok
if [ -x "$DOCKER_REGISTRY" ]; then
	dist_ok() {
		distribution_start "$TEST_DIR/dist" || return 1
		push "oci:$IMG/custom:v1" "docker://$DIST_ADDR/dist/custom:v1" || return 1
		expect_out "entry: from docker-registry" berth run --rm "$DIST_ADDR/dist/custom:v1" from docker-registry
	}
	tap_check "run an image from Debian's docker-registry" dist_ok
	distribution_stop
else
	tap_skip "run an image from Debian's docker-registry" "$DOCKER_REGISTRY not installed"
fi

# ---------------------------------------------------------------- bad input

tap_check "unknown flag" berth_fails_with "unknown option '--bogus'" berth run --bogus "$APP" true
tap_check "bad --network" berth_fails_with "unsupported --network 'bridge'" berth run --network bridge "$APP" true
tap_check "bad --memory" berth_fails_with "invalid size '12q'" berth run -m 12q "$APP" true
tap_check "too small --memory" berth_fails_with "minimum memory limit" berth run -m 1k "$APP" true
tap_check "bad --cpus" berth_fails_with "invalid --cpus" berth run --cpus lots "$APP" true
tap_check "bad --pids-limit" berth_fails_with "invalid --pids-limit" berth run --pids-limit x "$APP" true
tap_check "bad --pull" berth_fails_with "invalid --pull" berth run --pull sometimes "$APP" true
tap_check "relative volume source" berth_fails_with "absolute host path" berth run -v data:/data "$APP" true
tap_check "volume on /" berth_fails_with "DST must be an absolute path" berth run -v /tmp:/ "$APP" true
tap_check "bad volume mode" berth_fails_with "unknown mode 'rx'" berth run -v /tmp:/x:rx "$APP" true
tap_check "unknown capability" berth_fails_with "unknown capability 'FLY'" berth run --cap-add FLY "$APP" true
tap_check "relative workdir" berth_fails_with "needs to be an absolute path" berth run -w rel "$APP" true
tap_check "bad env-file line" bash -c 'printf "OK=1\nNOT OK=2\n" >"$1/bad.env"; shift; out=$("$@" 2>&1); rc=$?; echo "$out"; [ $rc -eq 125 ] && grep -q "bad.env:2: variable .NOT OK. contains whitespaces" <<<"$out"' \
	_ "$TEST_DIR" "$BERTH_BIN" --root "$ROOT" run --env-file "$TEST_DIR/bad.env" "$APP" true
tap_check "bad container name" berth_fails_with "invalid container name" berth run --name 'no/slash' "$APP" true
tap_check "missing image argument" bash -c '! "$0" --root "$1" run 2>&1 | grep -q . || "$0" --root "$1" run 2>&1 | grep -q usage' "$BERTH_BIN" "$ROOT"
tap_check "stop/rm/logs of an unknown container" bash -c 'for c in stop rm logs; do out=$("$0" --root "$1" $c nosuch 2>&1) && exit 1; grep -q "no such container: nosuch" <<<"$out" || exit 1; done' "$BERTH_BIN" "$ROOT"
tap_check "nothing is left after the failures" nothing_left

tap_done
