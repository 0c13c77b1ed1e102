#!/usr/bin/env python3
"""OCI 1.1 referrers API: GET /v2/<name>/referrers/<digest> lists, as an OCI index, the
descriptors of manifests whose `subject` is that digest, with artifactType and annotations;
the artifactType filter; unknown subjects; deletes; repository isolation. Distribution 2.8
has no referrers API, so every case here fails against it."""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("referrers")
S = {}
SBOM = "application/vnd.example.sbom.v1+json"
SIG = "application/vnd.example.signature.v1"
CUSTOM_CFG = "application/vnd.example.config.v1+json"


def artifact(reg, repo, subject, artifact_type=None, config_mt=None, annotations=None, tag=None):
    """Push an image manifest with `subject` and return (body, expected descriptor)."""
    if config_mt:
        cfg = json.dumps({"n": rand_name()}).encode()
        cdesc = descriptor(config_mt, cfg)
    else:
        cfg = EMPTY_CONFIG_DATA
        cdesc = descriptor(MT_OCI_EMPTY, cfg)
    reg.push_blob(repo, cfg)
    layer = rand_bytes(64)
    reg.push_blob(repo, layer)
    m = oci_manifest(cdesc, [descriptor("application/vnd.example.data", layer)], subject=subject,
                     artifact_type=artifact_type, annotations=annotations)
    body = canon(m)
    r = reg.push_manifest(repo, tag or sha256(body), body, MT_OCI_MANIFEST, expect=None)
    expect_status(r, 201)
    want = {"mediaType": MT_OCI_MANIFEST, "digest": sha256(body), "size": len(body),
            "artifactType": artifact_type or cdesc["mediaType"]}
    if annotations:
        want["annotations"] = annotations
    return body, want


def setup(reg):
    """repo with subject image S, and referrers: sbom (annotated), signature, one typed by
    config media type, one index with subject; plus an unrelated image."""
    if "repo" in S:
        return S
    repo = reg.repo("ref/app")
    subj = reg.push_image(repo, "v1")
    sd = subj.desc()
    wants = []
    _, w = artifact(reg, repo, sd, SBOM, annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z",
                                                       "org.example.k": "v"})
    wants.append(w)
    _, w = artifact(reg, repo, sd, SIG)
    wants.append(w)
    _, w = artifact(reg, repo, sd, None, config_mt=CUSTOM_CFG, tag="typed-by-config")
    wants.append(w)
    child = reg.push_image(repo, None)
    idx = index([child.desc(platform=platform())], subject=sd, artifact_type=SBOM,
                annotations={"org.example.index": "yes"})
    ib = canon(idx)
    expect_status(reg.push_manifest(repo, sha256(ib), ib, MT_OCI_INDEX, expect=None), 201)
    wants.append({"mediaType": MT_OCI_INDEX, "digest": sha256(ib), "size": len(ib),
                  "artifactType": SBOM, "annotations": {"org.example.index": "yes"}})
    other = reg.push_image(repo, "unrelated")
    S.update(repo=repo, subject=subj, wants=wants, other=other)
    return S


def get_referrers(reg, repo, digest, query=""):
    r = reg.get("/v2/%s/referrers/%s%s" % (repo, digest, query))
    expect_status(r, 200)
    ct = r.h("Content-Type") or ""
    check(ct.split(";")[0].strip() == MT_OCI_INDEX, "Content-Type %r, want %s" % (ct, MT_OCI_INDEX), r)
    try:
        doc = r.json()
    except ValueError:
        raise CheckFailed("body is not JSON", r)
    check(doc.get("schemaVersion") == 2, "schemaVersion %r" % doc.get("schemaVersion"), r)
    check(doc.get("mediaType") == MT_OCI_INDEX, "mediaType %r" % doc.get("mediaType"), r)
    check(isinstance(doc.get("manifests"), list), "manifests is not a list: %r" % doc.get("manifests"), r)
    return r, doc["manifests"]


def same_set(r, got, wants):
    def norm(d):
        keep = {k: d.get(k) for k in ("mediaType", "digest", "size", "artifactType", "annotations") if d.get(k) is not None}
        return json.dumps(keep, sort_keys=True)
    g = sorted(norm(d) for d in got)
    w = sorted(norm(d) for d in wants)
    if g != w:
        raise CheckFailed("referrers differ", r, extra=["got:  " + x for x in g] + ["want: " + x for x in w])


@suite.case("referrers of the subject -> 200 OCI index listing every referrer's descriptor")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["subject"].digest)
    same_set(r, got, s["wants"])


@suite.case("descriptor artifactType falls back to config.mediaType when artifactType is absent")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["subject"].digest)
    typed = [d for d in got if d.get("digest") == s["wants"][2]["digest"]]
    check(typed and typed[0].get("artifactType") == CUSTOM_CFG,
          "descriptor %r, want artifactType %s" % (typed, CUSTOM_CFG), r)


@suite.case("image manifest with the standard OCI image config and a subject -> artifactType = config mediaType")
def _(reg):
    repo = reg.repo("ref/plainimg")
    subj = reg.push_image(repo, "v1")
    img = reg.push_image(repo, None, kind="oci", subject=subj.desc())
    r, got = get_referrers(reg, repo, subj.digest)
    same_set(r, got, [{"mediaType": MT_OCI_MANIFEST, "digest": img.digest, "size": img.size,
                       "artifactType": MT_OCI_CONFIG}])


@suite.case("?artifactType={0} filters and sets OCI-Filters-Applied: artifactType",
            params=[SBOM, SIG, CUSTOM_CFG])
def _(reg, at):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["subject"].digest,
                           "?artifactType=" + urllib.parse.quote(at, safe=""))
    expect_header(r, "OCI-Filters-Applied", "artifactType")
    same_set(r, got, [w for w in s["wants"] if w["artifactType"] == at])


@suite.case("?artifactType= matching nothing -> 200 empty list with OCI-Filters-Applied")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["subject"].digest, "?artifactType=application%2Fnone")
    expect_header(r, "OCI-Filters-Applied", "artifactType")
    check(got == [], "manifests %r, want []" % got, r)


@suite.case("no filter -> no OCI-Filters-Applied header")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["subject"].digest)
    check(r.h("OCI-Filters-Applied") is None, "OCI-Filters-Applied %r without a filter" % r.h("OCI-Filters-Applied"), r)


@suite.case("unknown subject digest -> 200 with an empty manifests list")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], sha256(b"no such subject"))
    check(got == [], "manifests %r, want []" % got, r)


@suite.case("existing manifest without referrers -> 200 empty list")
def _(reg):
    s = setup(reg)
    r, got = get_referrers(reg, s["repo"], s["other"].digest)
    check(got == [], "manifests %r, want []" % got, r)


@suite.case("referrers in an unknown repository -> 200 empty list or 404 NAME_UNKNOWN")
def _(reg):
    r = reg.get("/v2/%s/referrers/%s" % (reg.repo("ref/never"), sha256(b"x")))
    if r.status == 404:
        expect_error(r, 404, "NAME_UNKNOWN")
    else:
        expect_status(r, 200)
        check(r.json().get("manifests") == [], "manifests not empty", r)


@suite.case("referrers with invalid digest {0} -> 400 DIGEST_INVALID",
            params=["sha256:abc", "sha256:" + "A" * 64, "latest"])
def _(reg, d):
    s = setup(reg)
    expect_error(reg.get("/v2/%s/referrers/%s" % (s["repo"], d)), 400, "DIGEST_INVALID")


@suite.case("PUT referrer -> OCI-Subject header, even before the subject exists")
def _(reg):
    repo = reg.repo("ref/early")
    reg.push_image(repo, "something")
    ghost = {"mediaType": MT_OCI_MANIFEST, "digest": sha256(b"subject pushed later"), "size": 20}
    reg.push_blob(repo, EMPTY_CONFIG_DATA)
    m = oci_manifest(descriptor(MT_OCI_EMPTY, EMPTY_CONFIG_DATA), [], subject=ghost, artifact_type=SIG)
    body = canon(m)
    r = reg.push_manifest(repo, sha256(body), body, MT_OCI_MANIFEST, expect=None)
    expect_status(r, 201)
    expect_header(r, "OCI-Subject", ghost["digest"])
    r, got = get_referrers(reg, repo, ghost["digest"])
    same_set(r, got, [{"mediaType": MT_OCI_MANIFEST, "digest": sha256(body), "size": len(body), "artifactType": SIG}])


@suite.case("referrers are per repository: same subject digest in another repo lists nothing")
def _(reg):
    s = setup(reg)
    other = reg.repo("ref/other")
    reg.push_manifest(other, "v1", s["subject"].body, s["subject"].media_type, expect=None)
    r, got = get_referrers(reg, other, s["subject"].digest)
    check(got == [], "manifests %r, want [] (referrers leaked across repositories)" % got, r)


@suite.case("deleted referrer disappears from the list; subject unaffected")
def _(reg):
    repo = reg.repo("ref/del")
    subj = reg.push_image(repo, "v1")
    b1, w1 = artifact(reg, repo, subj.desc(), SBOM)
    b2, w2 = artifact(reg, repo, subj.desc(), SIG)
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, w1["digest"])), 202)
    r, got = get_referrers(reg, repo, subj.digest)
    same_set(r, got, [w2])
    expect_status(reg.get_manifest(repo, "v1"), 200)


@suite.case("tagged referrer is listed; deleting its tag keeps it listed")
def _(reg):
    repo = reg.repo("ref/tagged")
    subj = reg.push_image(repo, "v1")
    b, w = artifact(reg, repo, subj.desc(), SBOM, tag="sbom")
    r, got = get_referrers(reg, repo, subj.digest)
    same_set(r, got, [w])
    expect_status(reg.request("DELETE", "/v2/%s/manifests/sbom" % repo), 202)
    r, got = get_referrers(reg, repo, subj.digest)
    same_set(r, got, [w])


@suite.case("referrer with subject but malformed subject descriptor -> 400 MANIFEST_INVALID")
def _(reg):
    repo = reg.repo("ref/bad")
    reg.push_blob(repo, EMPTY_CONFIG_DATA)
    m = oci_manifest(descriptor(MT_OCI_EMPTY, EMPTY_CONFIG_DATA), [],
                     subject={"mediaType": MT_OCI_MANIFEST, "digest": "sha256:nothex", "size": 3},
                     artifact_type=SIG)
    body = canon(m)
    before = reg.snapshot(manifests=[(repo, sha256(body))], scope=[repo])
    r = reg.push_manifest(repo, sha256(body), body, MT_OCI_MANIFEST, expect=None)
    expect_error(r, 400, "MANIFEST_INVALID", "DIGEST_INVALID")
    reg.unchanged(before, manifests=[(repo, sha256(body))], scope=[repo])


if __name__ == "__main__":
    suite.main()
