#!/usr/bin/env python3
"""A minimal S3 client for the tests (Python standard library only): signs one request with
AWS Signature V4 and prints the response body; exits 1 on an HTTP status >= 300.

usage: s3req.py METHOD PATH [BODY_FILE]   (PATH like /bucket or /bucket/key?query)
Environment: S3_ENDPOINT, S3_REGION (default us-east-1), AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY."""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def main():
    method, target = sys.argv[1], sys.argv[2]
    body = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else b""
    ep = urllib.parse.urlsplit(os.environ["S3_ENDPOINT"])
    region = os.environ.get("S3_REGION", "us-east-1")
    ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    path, _, query = target.partition("?")
    params = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    cquery = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                      for k, v in params)
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": ep.netloc, "x-amz-content-sha256": payload, "x-amz-date": amzdate}
    signed = ";".join(sorted(headers))
    creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), cquery,
                      "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload])
    scope = f"{day}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = sign(sign(sign(sign(("AWS4" + sk).encode(), day), region), "s3"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"
    conn = http.client.HTTPConnection(ep.hostname, ep.port, timeout=30)
    conn.request(method, urllib.parse.quote(path, safe="/-_.~") + ("?" + cquery if cquery else ""), body, headers)
    resp = conn.getresponse()
    sys.stdout.buffer.write(resp.read())
    if resp.status >= 300:
        print(f"\ns3req.py: {method} {target}: HTTP {resp.status}", file=sys.stderr)
        sys.exit(1)


main()
