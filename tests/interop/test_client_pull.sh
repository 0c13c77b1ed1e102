#!/usr/bin/env bash
# berth, the runtime client, pulling: from berthd and from Debian's docker-registry (with and
# without htpasswd auth), from a small fake registry (Bearer tokens, a blob whose content does
# not match its digest), multi-platform indexes, whiteouts and opaque directories in overlay
# form, layers that try to write outside their directory, resumed downloads, and the local
# commands (images, inspect, tag, rmi, login, logout).
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_client_pull.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

rut_require
berth_test_init client-pull || { echo "Bail out! cannot create a scratch directory"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }

ROOT=$TEST_DIR/root
IMG=$TEST_DIR/images
export BERTH_CONFIG_DIR=$TEST_DIR/berth-config
unset BERTH_INSECURE_REGISTRIES BERTH_ROOT
mkdir -p "$IMG" "$BERTH_CONFIG_DIR"

# berth ARGS...: the client on the test's store, with a time limit.
berth() {
	timeout 60 "$BERTH_BIN" --root "$ROOT" "$@"
}

case $(uname -m) in
x86_64) HOST_ARCH=amd64 OTHER_ARCH=arm64 ;;
aarch64) HOST_ARCH=arm64 OTHER_ARCH=amd64 ;;
*) HOST_ARCH=$(uname -m) OTHER_ARCH=amd64 ;;
esac

# ---------------------------------------------------------------- helpers in python

# mklayout.py OUTDIR TAG SPEC_JSON: an OCI layout whose layers are tarballs built entry by
# entry with tarfile, so they can hold what no well-behaved tool writes.
cat >"$TEST_DIR/mklayout.py" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, tag, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
layers, diffids = [], []
for entries in spec["layers"]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mtime, ti.mode, ti.uid, ti.gid = 1704067200, e.get("mode", 0o644), 0, 0
            data = e.get("data", "").encode()
            kind = e.get("type", "file")
            if kind == "dir": ti.type, ti.mode = tarfile.DIRTYPE, e.get("mode", 0o755)
            elif kind == "symlink": ti.type, ti.linkname = tarfile.SYMTYPE, e["target"]
            elif kind == "hardlink": ti.type, ti.linkname = tarfile.LNKTYPE, e["target"]
            elif kind == "chardev": ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    raw = buf.getvalue()
    diffids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    layers.append(dict(mediaType="application/vnd.oci.image.layer.v1.tar+gzip",
                       **put(gzip.compress(raw, mtime=0))))
config = {"created": "2024-01-01T00:00:00Z", "architecture": spec.get("arch", "amd64"), "os": "linux",
          "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diffids}}
cdesc = dict(mediaType="application/vnd.oci.image.config.v1+json", **put(json.dumps(config).encode()))
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": cdesc, "layers": layers}
mdesc = dict(mediaType="application/vnd.oci.image.manifest.v1+json", **put(json.dumps(manifest).encode()))
mdesc["annotations"] = {"org.opencontainers.image.ref.name": tag}
json.dump({"schemaVersion": 2, "manifests": [mdesc]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print(mdesc["digest"])
PY

# fakereg.py LAYOUT PORTFILE [--corrupt DIGEST] [--bearer USER:PASS]: a read-only v2 registry
# serving an OCI layout; --corrupt serves that blob with its bytes changed (same length);
# --bearer demands a token from its /token realm, which demands USER:PASS.
cat >"$TEST_DIR/fakereg.py" <<'PY'
import base64, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
layout, portfile, args = sys.argv[1], sys.argv[2], sys.argv[3:]
corrupt = args[args.index("--corrupt") + 1] if "--corrupt" in args else None
bearer = args[args.index("--bearer") + 1] if "--bearer" in args else None
TOKEN = "berth-test-token"
def blob(d):
    p = f"{layout}/blobs/sha256/{d.split(':', 1)[1]}"
    return open(p, "rb").read() if os.path.exists(p) else None
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", headers={}):
        self.send_response(code)
        for k, v in headers.items(): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.do_GET()
    def do_GET(self):
        port = self.server.server_address[1]
        path = self.path.split("?")[0]
        if path == "/token":
            want = "Basic " + base64.b64encode(bearer.encode()).decode()
            if self.headers.get("Authorization") != want: return self.send(401)
            return self.send(200, json.dumps({"token": TOKEN}).encode(), {"Content-Type": "application/json"})
        if bearer and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}',
                             {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:x:pull"'})
        if path == "/v2/": return self.send(200, b"{}")
        parts = path.split("/")
        if len(parts) >= 5 and parts[-2] == "manifests":
            ref = parts[-1]
            if not ref.startswith("sha256:"):
                idx = json.load(open(layout + "/index.json"))
                ref = next((m["digest"] for m in idx["manifests"]
                            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref), None)
            data = blob(ref) if ref else None
            if data is None: return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}')
            return self.send(200, data, {"Content-Type": json.loads(data)["mediaType"], "Docker-Content-Digest": ref})
        if len(parts) >= 5 and parts[-2] == "blobs":
            data = blob(parts[-1])
            if data is None: return self.send(404)
            if parts[-1] == corrupt: data = bytes(b ^ 0x5a for b in data)
            return self.send(200, data, {"Content-Type": "application/octet-stream"})
        self.send(404)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY

# fakereg_start NAME LAYOUT [ARGS]: starts fakereg.py; sets FAKE_ADDR.
fakereg_start() {
	local name=$1 layout=$2 pf="$TEST_DIR/$1.port" i
	shift 2
	python3 "$TEST_DIR/fakereg.py" "$layout" "$pf" "$@" >"$TEST_DIR/$name.log" 2>&1 &
	local pid=$!
	_berth_pids+=("$pid")
	for ((i = 0; i < 50; i++)); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || { echo "fake registry $name did not start"; return 1; }
	FAKE_ADDR=127.0.0.1:$(cat "$pf")
}

mklayout() {
	python3 "$TEST_DIR/mklayout.py" "$@"
}

# layer_dir DIFFID: the directory berth unpacked a layer into.
layer_dir() {
	echo "$ROOT/layers/sha256/${1#sha256:}"
}

# nothing_escaped: no trace of the malicious layers anywhere outside their directories.
nothing_escaped() {
	local f
	for f in "$ROOT/escape" "$ROOT/tmp/escape" "$ROOT/layers/escape" "$TEST_DIR/escape" "$TEST_DIR/outside/pwned" \
		"$ROOT/layers/sha256/pwned"; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || { echo "found $f"; return 1; }
	done
	[ "$(sha256sum </etc/passwd)" = "$PASSWD_SUM" ] || { echo "/etc/passwd changed"; return 1; }
	if ls "$ROOT/tmp" | grep -q '^layer-'; then
		echo "scratch layer directories left: $(ls "$ROOT/tmp")"
		return 1
	fi
}

# ---------------------------------------------------------------- fixtures and registries

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 3 --tag v1 --seed client-app >/dev/null &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms "linux/$HOST_ARCH,linux/$OTHER_ARCH" --tag multi \
			--seed client-multi >/dev/null &&
		"$MKIMAGE" "$IMG/big" --layers 2 --tag big --extra-kb 2048 --seed client-big >/dev/null &&
		mklayout "$IMG/opaque" v1 '{"layers": [
			[{"name": "data", "type": "dir"}, {"name": "data/old1", "data": "old"}, {"name": "data/old2", "data": "old"},
			 {"name": "keep.txt", "data": "keep"}, {"name": "gone.txt", "data": "gone"}],
			[{"name": "data", "type": "dir"}, {"name": "data/.wh..wh..opq"}, {"name": "data/new", "data": "new"},
			 {"name": ".wh.gone.txt"}]]}' >/dev/null &&
		mklayout "$IMG/dotdot" v1 '{"layers": [[{"name": "ok.txt", "data": "ok"},
			{"name": "../../escape", "data": "escaped"}]]}' >/dev/null &&
		mklayout "$IMG/symlink" v1 '{"layers": [[{"name": "evil", "type": "symlink", "target": "'"$TEST_DIR/outside"'"},
			{"name": "evil/pwned", "data": "written through a symlink"}]]}' >/dev/null &&
		mklayout "$IMG/hardlink" v1 '{"layers": [[{"name": "passwd", "type": "hardlink", "target": "/etc/passwd"},
			{"name": "passwd", "data": "pwned::0:0::/:/bin/sh"}]]}' >/dev/null &&
		mklayout "$IMG/device" v1 '{"layers": [[{"name": "dev", "type": "dir"},
			{"name": "dev/mem", "type": "chardev"}]]}' >/dev/null
}
tap_check "fixtures: mkimage.sh and python tarfile layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
mkdir -p "$TEST_DIR/outside"
PASSWD_SUM=$(sha256sum </etc/passwd)

tap_check "start berthd" berthd_start "$TEST_DIR/berthd" || { echo "Bail out! berthd did not start"; exit 1; }
B=$BERTHD_ADDR
push() {
	skopeo_cmd copy --dest-tls-verify=false --preserve-digests "$@" >/dev/null
}
push_all() {
	local n
	push "oci:$IMG/app:v1" "docker://$B/test/app:v1" &&
		push --all "oci:$IMG/multi:multi" "docker://$B/test/multi:multi" &&
		push "oci:$IMG/big:big" "docker://$B/test/big:big" &&
		for n in opaque dotdot symlink hardlink device; do
			push "oci:$IMG/$n:v1" "docker://$B/evil/$n:v1" || return 1
		done
}
tap_check "push the fixtures to berthd with skopeo" push_all

# ---------------------------------------------------------------- pull, images, inspect

APP_MANIFEST=$(layout_top_digest "$IMG/app" v1)
APP_CONFIG=$(jq -r .config.digest "$IMG/app/blobs/sha256/${APP_MANIFEST#sha256:}")
APP_DIFFIDS=($(jq -r '.rootfs.diff_ids[]' "$IMG/app/blobs/sha256/${APP_CONFIG#sha256:}"))

pull_app() {
	local out
	out=$(berth pull "$B/test/app:v1") || { echo "$out"; return 1; }
	echo "$out"
	grep -qx "$B/test/app:v1" <<<"$out" && grep -q "Digest: $APP_MANIFEST" <<<"$out" &&
		[ -d "$(layer_dir "${APP_DIFFIDS[0]}")/bin" ] && [ -x "$(layer_dir "${APP_DIFFIDS[0]}")/bin/busybox" ] &&
		[ -f "$(layer_dir "${APP_DIFFIDS[1]}")/etc/berth-fixture.txt" ] &&
		[ -f "$ROOT/blobs/sha256/${APP_CONFIG#sha256:}" ]
}
tap_check "pull a 3-layer image from berthd: layers unpacked by DiffID, blobs stored" pull_app

whiteout_ok() {
	local w
	w=$(layer_dir "${APP_DIFFIDS[2]}")/etc/berth-removed.txt
	[ "$(stat -c '%F %t:%T' "$w")" = "character special file 0:0" ] || { stat "$w"; return 1; }
	[ ! -e "$(layer_dir "${APP_DIFFIDS[2]}")/etc/.wh.berth-removed.txt" ] || { echo ".wh. file left"; return 1; }
}
tap_check "whiteout .wh.berth-removed.txt became a 0/0 character device" whiteout_ok

images_lists() {
	local out
	out=$(berth images) || return 1
	echo "$out"
	grep -E "^$B/test/app +v1 +${APP_CONFIG:7:12} " <<<"$out" >/dev/null &&
		[ "$(berth images -q)" = "${APP_CONFIG:7:12}" ]
}
tap_check "images lists the pulled image with its ID" images_lists

inspect_ok() {
	local out
	out=$(berth inspect "$B/test/app:v1") || return 1
	expect_eq Id "$(jq -r '.[0].Id' <<<"$out")" "$APP_CONFIG" &&
		expect_eq RepoTags "$(jq -c '.[0].RepoTags' <<<"$out")" "[\"$B/test/app:v1\"]" &&
		expect_eq Layers "$(jq -r '.[0].RootFS.Layers | join(" ")' <<<"$out")" "${APP_DIFFIDS[*]}" &&
		expect_eq Cmd "$(jq -c '.[0].Config.Cmd' <<<"$out")" '["/bin/sh"]' &&
		expect_eq "inspect by ID" "$(berth inspect "${APP_CONFIG:7:12}" | jq -r '.[0].Id')" "$APP_CONFIG"
}
tap_check "inspect prints the image as JSON (by name and by ID)" inspect_ok

pull_again() {
	local before after out
	before=$(stat -c '%i %Y' "$ROOT"/blobs/sha256/* | sort)
	out=$(berth pull "$B/test/app:v1") || { echo "$out"; return 1; }
	echo "$out"
	after=$(stat -c '%i %Y' "$ROOT"/blobs/sha256/* | sort)
	grep -q "Image is up to date" <<<"$out" && ! grep -q "Pull complete" <<<"$out" &&
		[ "$(grep -c 'Already exists' <<<"$out")" -eq 3 ] && expect_eq "blob files" "$after" "$before"
}
tap_check "pulling again downloads nothing" pull_again

tag_ok() {
	berth tag "$B/test/app:v1" mine/app:copy && berth images &&
		expect_eq "tag's ID" "$(berth inspect mine/app:copy | jq -r '.[0].Id')" "$APP_CONFIG" &&
		expect_eq "names of the image" "$(berth inspect "$B/test/app:v1" | jq -c '.[0].RepoTags | sort')" \
			"$(jq -cn --arg a "$B/test/app:v1" '[$a, "docker.io/mine/app:copy"] | sort')"
}
tap_check "tag gives the image a second name" tag_ok

rmi_ok() {
	berth rmi mine/app:copy && ! berth inspect mine/app:copy >/dev/null 2>&1 &&
		berth inspect "$B/test/app:v1" >/dev/null && [ -d "$(layer_dir "${APP_DIFFIDS[0]}")" ] &&
		berth_fails_with "no such image" berth rmi mine/app:copy
}
tap_check "rmi removes that name only; the image stays for its other name" rmi_ok

# ---------------------------------------------------------------- platforms

MULTI_INDEX=$(layout_top_digest "$IMG/multi" multi)
platform_pull() {
	local want=$1 name=$2 out
	shift 2
	out=$(berth pull "$@" "$B/test/multi:multi") || { echo "$out"; return 1; }
	berth tag "$B/test/multi:multi" "$name" || return 1
	expect_eq architecture "$(berth inspect "$name" | jq -r '.[0].Architecture')" "$want" &&
		expect_eq "index digest" "$(berth inspect "$name" | jq -r '.[0].Digest')" "$MULTI_INDEX" &&
		expect_eq "etc/berth-arch" "$(cat "$(layer_dir "$(berth inspect "$name" | jq -r '.[0].RootFS.Layers[1]')")/etc/berth-arch")" \
			"linux/$want"
}
tap_check "two-platform index: the host's linux/$HOST_ARCH is picked" platform_pull "$HOST_ARCH" local/multi:host
tap_check "two-platform index: --platform linux/$OTHER_ARCH picks the other" \
	platform_pull "$OTHER_ARCH" local/multi:other --platform "linux/$OTHER_ARCH"
tap_check "a platform the index lacks fails clearly" \
	berth_fails_with "no image for platform linux/s390x" berth pull --platform linux/s390x "$B/test/multi:multi"

# ---------------------------------------------------------------- opaque dirs and safety

opaque_ok() {
	berth pull "$B/evil/opaque:v1" || return 1
	local l2
	l2=$(layer_dir "$(berth inspect "$B/evil/opaque:v1" | jq -r '.[0].RootFS.Layers[1]')")
	expect_eq "opaque xattr" "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$l2/data")" y &&
		[ -f "$l2/data/new" ] && [ ! -e "$l2/data/.wh..wh..opq" ] &&
		[ "$(stat -c '%F %t:%T' "$l2/gone.txt")" = "character special file 0:0" ]
}
tap_check "opaque directory .wh..wh..opq became xattr trusted.overlay.opaque=y" opaque_ok

tap_check "a layer with ../../escape is refused, naming the entry" \
	berth_fails_with "'../../escape': path contains '..'" berth pull "$B/evil/dotdot:v1"
tap_check "a write through an absolute symlink leading outside is refused" \
	berth_fails_with "'evil/pwned': its path leads outside the layer" berth pull "$B/evil/symlink:v1"
tap_check "a hard link to /etc/passwd is refused" \
	berth_fails_with "'passwd': hard link to '/etc/passwd'" berth pull "$B/evil/hardlink:v1"
tap_check "a device node is refused" \
	berth_fails_with "'dev/mem': device nodes are not allowed" berth pull "$B/evil/device:v1"
tap_check "nothing was written outside the layer directories, no scratch left" nothing_escaped
refused_not_recorded() {
	local n
	for n in dotdot symlink hardlink device; do
		! berth inspect "$B/evil/$n:v1" >/dev/null 2>&1 || { echo "evil/$n was recorded"; return 1; }
	done
}
tap_check "refused images are not recorded" refused_not_recorded

# ---------------------------------------------------------------- corrupt blobs, resume

BIG_MANIFEST=$(layout_top_digest "$IMG/big" big)
BIG_LAYER=$(jq -r '.layers[1].digest' "$IMG/big/blobs/sha256/${BIG_MANIFEST#sha256:}")
corrupt_refused() {
	fakereg_start corrupt "$IMG/big" --corrupt "$BIG_LAYER" || return 1
	berth_fails_with "does not match its digest" berth pull "$FAKE_ADDR/test/big:big" || return 1
	[ ! -e "$ROOT/blobs/sha256/${BIG_LAYER#sha256:}" ] || { echo "corrupt blob stored"; return 1; }
	if ls "$ROOT/tmp" | grep -q "${BIG_LAYER#sha256:}"; then
		echo "scratch copy of the corrupt blob left: $(ls "$ROOT/tmp")"
		return 1
	fi
	! berth inspect "$FAKE_ADDR/test/big:big" >/dev/null 2>&1
}
tap_check "a blob whose content does not match its digest is refused and nothing is stored" corrupt_refused

resume_ok() {
	local hex=${BIG_LAYER#sha256:} size
	size=$(stat -c %s "$IMG/big/blobs/sha256/$hex")
	# An interrupted download left the first half of the layer.
	head -c $((size / 2)) "$IMG/big/blobs/sha256/$hex" >"$ROOT/tmp/sha256-$hex.partial"
	berth pull "$B/test/big:big" || return 1
	cmp "$ROOT/blobs/sha256/$hex" "$IMG/big/blobs/sha256/$hex" && [ ! -e "$ROOT/tmp/sha256-$hex.partial" ]
}
tap_check "an interrupted download is resumed (Range) and verified" resume_ok

restart_ok() {
	local hex=${BIG_LAYER#sha256:}
	berth rmi "$B/test/big:big" >/dev/null || return 1
	[ ! -e "$ROOT/blobs/sha256/$hex" ] || { echo "rmi left the unused blob"; return 1; }
	# A partial file whose bytes are wrong: the pull fails the digest check, drops it, and the
	# next pull starts over and succeeds.
	head -c 100000 /dev/urandom >"$ROOT/tmp/sha256-$hex.partial"
	berth pull "$B/test/big:big" >/dev/null 2>&1
	[ ! -e "$ROOT/tmp/sha256-$hex.partial" ] || { echo "bad partial kept"; return 1; }
	berth pull "$B/test/big:big" && cmp "$ROOT/blobs/sha256/$hex" "$IMG/big/blobs/sha256/$hex"
}
tap_check "a corrupt partial download is dropped and the pull starts over cleanly" restart_ok

# ---------------------------------------------------------------- docker-registry, auth

if [ -x "$DOCKER_REGISTRY" ]; then
	dist_pull() {
		distribution_start "$TEST_DIR/dist" || return 1
		push "oci:$IMG/app:v1" "docker://$DIST_ADDR/dist/app:v1" || return 1
		berth pull "$DIST_ADDR/dist/app:v1" &&
			expect_eq Id "$(berth inspect "$DIST_ADDR/dist/app:v1" | jq -r '.[0].Id')" "$APP_CONFIG" &&
			expect_eq "RepoDigests" "$(berth inspect "$DIST_ADDR/dist/app:v1" | jq -r '.[0].RepoDigests | length')" 2
	}
	tap_check "pull from Debian's docker-registry" dist_pull
	distribution_stop

	htpasswd_file() {
		if command -v htpasswd >/dev/null; then
			htpasswd -Bbn berthuser 's3cret pass' >"$TEST_DIR/htpasswd"
		else
			python3 -c 'import crypt; print("berthuser:" + crypt.crypt("s3cret pass", crypt.mksalt(crypt.METHOD_BLOWFISH)))' >"$TEST_DIR/htpasswd"
		fi
	}
	auth_setup() {
		htpasswd_file && distribution_start "$TEST_DIR/dist-auth" --htpasswd "$TEST_DIR/htpasswd" &&
			push --dest-creds 'berthuser:s3cret pass' "oci:$IMG/app:v1" "docker://$DIST_ADDR/private/app:v1"
	}
	if tap_check "docker-registry with htpasswd auth holds a private image" auth_setup; then
		A=$DIST_ADDR
		tap_check "pull without credentials fails clearly" \
			berth_fails_with "berth login $A" berth pull "$A/private/app:v1"
		tap_check "login with a wrong password fails and stores nothing" \
			bash -c '! echo wrong | "$0" --root "$1" login "$2" -u berthuser --password-stdin && [ ! -e "$3/config.json" ]' \
			"$BERTH_BIN" "$ROOT" "$A" "$BERTH_CONFIG_DIR"
		login_ok() {
			printf 's3cret pass\n' | berth login "$A" -u berthuser --password-stdin | grep -qx 'Login Succeeded' &&
				expect_eq mode "$(stat -c %a "$BERTH_CONFIG_DIR/config.json")" 600 &&
				expect_eq "stored user" "$(jq -r --arg a "$A" '.auths[$a].auth' "$BERTH_CONFIG_DIR/config.json" | base64 -d)" \
					'berthuser:s3cret pass'
		}
		tap_check "login --password-stdin stores docker config.json credentials (0600)" login_ok
		tap_check "pull with the stored credentials works" berth pull "$A/private/app:v1"
		logout_ok() {
			berth logout "$A" | grep -q "Removing login credentials" &&
				expect_eq "auths" "$(jq -c .auths "$BERTH_CONFIG_DIR/config.json")" '{}' &&
				berth_fails_with "authentication required" berth pull "$A/private/app:v1"
		}
		tap_check "logout removes them; pulling fails again" logout_ok
	fi
	distribution_stop
else
	tap_skip "pull from Debian's docker-registry" "$DOCKER_REGISTRY not installed"
fi

bearer_ok() {
	fakereg_start bearer "$IMG/app" --bearer 'tokenuser:tokenpass' || return 1
	berth_fails_with "authentication required" berth pull "$FAKE_ADDR/test/app:v1" || return 1
	# Credentials docker wrote: the "http://host" key form and BERTH_CONFIG_DIR unset, DOCKER_CONFIG set.
	mkdir -p "$TEST_DIR/docker-config"
	jq -n --arg k "http://$FAKE_ADDR" --arg a "$(printf tokenuser:tokenpass | base64)" \
		'{auths: {($k): {auth: $a}}, credsStore: ""}' >"$TEST_DIR/docker-config/config.json"
	BERTH_CONFIG_DIR= DOCKER_CONFIG=$TEST_DIR/docker-config berth pull "$FAKE_ADDR/test/app:v1"
}
tap_check "Bearer token flow: refused anonymously, works with docker's own config.json" bearer_ok

tap_check "global options: --help and --version" bash -c '"$0" --help | grep -q "pull" && "$0" --version | grep -q "^berth "' "$BERTH_BIN"
tap_check "an unknown registry host fails with one line" \
	berth_fails_with "berth: pull" berth pull 127.0.0.1:1/nothing/here:v1

tap_done
