#!/usr/bin/env python3
"""Tag listing and the catalog: lexical order, `n`/`last` pagination with RFC 5988 Link
headers, n=0, invalid n, unknown repositories."""

import hashlib
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from berthtest import *  # noqa: E402,F401,F403

suite = Suite("tags_catalog")
TAGS = ["latest", "v1", "v10", "v2", "V3", "1.0", "A", "a", "b_", "z", "_under", "9-rc", "a.b", "a-b"]
S = {}


def tagged(reg):
    """One repository holding TAGS (pushed in a scrambled order) on one image."""
    if "repo" not in S:
        repo = reg.repo("tags/many")
        img = reg.push_image(repo, None)
        for t in sorted(TAGS, key=lambda t: hashlib.sha256(t.encode()).hexdigest()):
            reg.push_manifest(repo, t, img.body, img.media_type)
        S["repo"] = repo
    return S["repo"]


def page(reg, path):
    r = reg.get(path)
    expect_status(r, 200)
    try:
        doc = r.json()
    except ValueError:
        raise CheckFailed("body is not JSON", r)
    return r, doc


def check_link(r, base, n):
    """A Link to the next page must look like </v2/...?n=N&last=X>; rel="next"."""
    nxt = link_next(r)
    check(nxt is not None, "no Link rel=\"next\" header although more entries remain", r)
    raw = r.h("Link")
    check(raw.startswith("<") and 'rel="next"' in raw, "Link %r is not <url>; rel=\"next\"" % raw, r)
    u = urllib.parse.urlsplit(nxt)
    check(u.path == base, "Link path %r, want %r" % (u.path, base), r)
    q = urllib.parse.parse_qs(u.query)
    check(q.get("n") == [str(n)], "Link n=%r, want %d" % (q.get("n"), n), r)
    check("last" in q, "Link without last=", r)
    return nxt


def walk(reg, base, key, n):
    """Follow Link pages of size n; returns (all entries, number of pages)."""
    path = "%s?n=%d" % (base, n)
    out, pages = [], 0
    while path and pages < 2000:
        r, doc = page(reg, path)
        items = doc.get(key) or []
        check(len(items) <= n, "page of %d entries for n=%d" % (len(items), n), r)
        out += items
        pages += 1
        nxt = link_next(r)
        if nxt:
            check_link(r, base, n)
        path = nxt
    return out, pages


@suite.case("tags/list -> 200 {name, tags} with every tag, sorted lexically")
def _(reg):
    repo = tagged(reg)
    r, doc = page(reg, "/v2/%s/tags/list" % repo)
    check(doc.get("name") == repo, "name %r, want %r" % (doc.get("name"), repo), r)
    check(doc.get("tags") == sorted(TAGS), "tags %r, want %r" % (doc.get("tags"), sorted(TAGS)), r)
    check(r.h("Link") is None, "Link header on a complete list", r)


@suite.case("tags/list ?n={0}: pages of n in order, Link rel=next while more remain, union = all",
            params=[1, 3, 5, 13])
def _(reg, n):
    repo = tagged(reg)
    base = "/v2/%s/tags/list" % repo
    r, doc = page(reg, "%s?n=%d" % (base, n))
    check(doc.get("tags") == sorted(TAGS)[:n], "first page %r, want %r" % (doc.get("tags"), sorted(TAGS)[:n]), r)
    check_link(r, base, n)
    got, pages = walk(reg, base, "tags", n)
    check(got == sorted(TAGS), "paged tags %r, want %r" % (got, sorted(TAGS)))


@suite.case("tags/list ?n=N with N >= count -> all tags, no Link", params=[14, 100, 10000])
def _(reg, n):
    repo = tagged(reg)
    r, doc = page(reg, "/v2/%s/tags/list?n=%d" % (repo, n))
    check(doc.get("tags") == sorted(TAGS), "tags %r" % doc.get("tags"), r)
    check(link_next(r) is None, "Link header although nothing remains", r)


@suite.case("tags/list ?last={0} -> tags after it, in order", params=["latest", "A", "v2", "0", "zzz", "b"])
def _(reg, last):
    repo = tagged(reg)
    r, doc = page(reg, "/v2/%s/tags/list?last=%s" % (repo, last))
    want = [t for t in sorted(TAGS) if t > last]
    check((doc.get("tags") or []) == want, "tags %r, want %r" % (doc.get("tags"), want), r)


@suite.case("tags/list ?n=2&last=a -> the 2 tags after 'a'")
def _(reg):
    repo = tagged(reg)
    r, doc = page(reg, "/v2/%s/tags/list?n=2&last=a" % repo)
    want = [t for t in sorted(TAGS) if t > "a"][:2]
    check(doc.get("tags") == want, "tags %r, want %r" % (doc.get("tags"), want), r)


@suite.case("tags/list ?n=0 -> 200 with an empty list (\"tags\": [])")
def _(reg):
    repo = tagged(reg)
    r, doc = page(reg, "/v2/%s/tags/list?n=0" % repo)
    check(doc.get("tags") == [], "tags %r, want []" % (doc.get("tags"),), r)


@suite.case("tags/list ?n={0} -> 400 PAGINATION_NUMBER_INVALID", params=["-1", "abc", "1.5", "", "99999999999999999999999"])
def _(reg, n):
    repo = tagged(reg)
    r = reg.get("/v2/%s/tags/list?n=%s" % (repo, n))
    if n == "":
        expect_status(r, 200, 400)  # an empty n may be read as absent
        return
    expect_error(r, 400, "PAGINATION_NUMBER_INVALID")


@suite.case("tags/list of unknown repository -> 404 NAME_UNKNOWN")
def _(reg):
    expect_error(reg.get("/v2/%s/tags/list" % reg.repo("tags/never")), 404, "NAME_UNKNOWN")


@suite.case("tags/list of a repository holding only blobs -> 404 NAME_UNKNOWN or 200 empty")
def _(reg):
    repo = reg.repo("tags/blobonly")
    reg.push_blob(repo, b"just a blob")
    r = reg.get("/v2/%s/tags/list" % repo)
    if r.status == 404:
        expect_error(r, 404, "NAME_UNKNOWN")
    else:
        expect_status(r, 200)
        check(not r.json().get("tags"), "tags %r" % r.json().get("tags"), r)


@suite.case("tags/list of a repository with only untagged manifests -> 200 empty or 404 NAME_UNKNOWN")
def _(reg):
    repo = reg.repo("tags/untagged")
    reg.push_image(repo, None)
    r = reg.get("/v2/%s/tags/list" % repo)
    if r.status == 404:
        expect_error(r, 404, "NAME_UNKNOWN")
    else:
        expect_status(r, 200)
        check(not r.json().get("tags"), "tags %r" % r.json().get("tags"), r)


@suite.case("tag deleted -> disappears from tags/list")
def _(reg):
    repo = reg.repo("tags/del")
    img = reg.push_image(repo, "a")
    reg.push_manifest(repo, "b", img.body, img.media_type)
    m2 = reg.push_image(repo, "c")
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, m2.digest)), 202)
    r, doc = page(reg, "/v2/%s/tags/list" % repo)
    check(doc.get("tags") == ["a", "b"], "tags %r, want ['a', 'b']" % doc.get("tags"), r)


# --- catalog


def catalog_repos(reg):
    if "cat" not in S:
        names = [reg.repo(n) for n in ("cat/b", "cat/a", "cat/a/nested", "cat/a-z", "cat/a.z", "cat/c-d", "cat/c.d",
                                       "cat/c_d", "cat/z9", "cat/0", "cat/a/b/c/d")]
        for n in names:
            reg.push_image(n, "t")
        S["cat"] = sorted(names)
    return S["cat"]


@suite.case("_catalog -> 200 {repositories}, sorted lexically, includes nested names")
def _(reg):
    mine = catalog_repos(reg)
    allnames = reg.catalog_all()
    check(allnames == sorted(allnames), "catalog is not sorted: %r" % allnames[:20])
    got = [n for n in allnames if n in mine]
    check(got == mine, "our repositories %r, want %r" % (got, mine))


@suite.case("_catalog ?n={0}: Link pagination covers every repository once, in order", params=[1, 2, 4])
def _(reg, n):
    mine = catalog_repos(reg)
    full = reg.catalog_all()
    got, pages = walk(reg, "/v2/_catalog", "repositories", n)
    check(got == full, "paged catalog differs from the full one: %d vs %d entries" % (len(got), len(full)))
    check(len(set(got)) == len(got), "duplicates in paged catalog")
    check(all(m in got for m in mine), "missing repositories")


@suite.case("_catalog ?n=2&last=<one of ours> -> the 2 names after it")
def _(reg):
    mine = catalog_repos(reg)
    full = reg.catalog_all()
    last = mine[2]
    r, doc = page(reg, "/v2/_catalog?n=2&last=%s" % urllib.parse.quote(last, safe=""))
    want = [x for x in full if x > last][:2]
    check(doc.get("repositories") == want, "repositories %r, want %r" % (doc.get("repositories"), want), r)
    if len([x for x in full if x > last]) > 2:
        check_link(r, "/v2/_catalog", 2)


@suite.case("_catalog ?n=0 -> 200 with an empty list")
def _(reg):
    catalog_repos(reg)
    r, doc = page(reg, "/v2/_catalog?n=0")
    check(doc.get("repositories") == [], "repositories %r, want []" % (doc.get("repositories"),), r)


@suite.case("_catalog ?n={0} -> 400 PAGINATION_NUMBER_INVALID", params=["-1", "abc"])
def _(reg, n):
    expect_error(reg.get("/v2/_catalog?n=%s" % n), 400, "PAGINATION_NUMBER_INVALID")


@suite.case("repository whose every manifest and blob was deleted: catalog still well-formed")
def _(reg):
    repo = reg.repo("cat/gone")
    img = reg.push_image(repo, "t")
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, img.digest)), 202)
    names = reg.catalog_all()
    check(names == sorted(names), "catalog not sorted after a delete")


@suite.case("the whole tag list follows every change at once (push, re-tag, tag delete, manifest delete)")
def _(reg):
    repo = reg.repo("tags/fresh")

    def tags():
        r = reg.get("/v2/%s/tags/list" % repo)
        expect_status(r, 200)
        return r.json().get("tags")

    a = reg.push_image(repo, "a")
    check(tags() == ["a"], "after push a: %r" % tags())
    check(tags() == ["a"], "asked twice (cached): %r" % tags())
    b = reg.push_image(repo, "b")
    check(tags() == ["a", "b"], "after push b: %r" % tags())
    reg.push_manifest(repo, "c", a.body, a.media_type)
    check(tags() == ["a", "b", "c"], "after tagging a as c: %r" % tags())
    expect_status(reg.request("DELETE", "/v2/%s/manifests/b" % repo), 202)
    check(tags() == ["a", "c"], "after deleting tag b: %r" % tags())
    expect_status(reg.request("DELETE", "/v2/%s/manifests/%s" % (repo, a.digest)), 202)
    check(tags() == [], "after deleting the manifest of a and c: %r" % tags())
    check(b.digest, "b pushed")


if __name__ == "__main__":
    suite.main()
