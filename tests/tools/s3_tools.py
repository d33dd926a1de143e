#!/usr/bin/env python3
"""The tools users have, part 2: boto3 against a running Tessera node, checking every result.

Environment:
  TESSERA_S3_ENDPOINT    http://HOST:PORT of the node (required)
  AWS_ACCESS_KEY_ID      the node's TESSERA_ROOT_USER (required)
  AWS_SECRET_ACCESS_KEY  the node's TESSERA_ROOT_PASSWORD (required)

Exits 0 after "s3_tools.py: all checks passed", non-zero with a FAIL line on any mismatch.
Works in its own bucket and removes it at the end.
"""

import hashlib
import http.client
import io
import os
import sys
import urllib.parse

# See s3_tools.sh: botocore stalls 60 s on the PUT after an empty one without this
# (boto/botocore#3755). Must be set before botocore builds its first request.
os.environ.setdefault("BOTO_EXPERIMENTAL__NO_EMPTY_CONTINUE", "true")

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MIB = 1024 * 1024


def fail(msg):
    print(f"s3_tools.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_error(code, fn, *args, **kwargs):
    """Runs a call that must fail with the S3 error `code` (or HTTP status `code`)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        check(code in (got, status), f"{fn.__name__}: expected {code}, got {got} ({status})")
        return
    fail(f"{fn.__name__}{args or ''} succeeded; expected {code}")


def http_request(method, url, body=None):
    """A plain HTTP exchange (no SDK, no added headers); returns (status, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, f"{u.path}?{u.query}", body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def main():
    endpoint = os.environ.get("TESSERA_S3_ENDPOINT") or fail("set TESSERA_S3_ENDPOINT")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.get(var) or fail(f"set {var}")
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    bucket = f"tools-boto3-{os.getpid()}"
    print(f"s3_tools.py: boto3 {boto3.__version__} against {endpoint}, bucket {bucket}")

    # ---- Buckets ----
    s3.create_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket in names, f"list_buckets: {names}")
    s3.head_bucket(Bucket=bucket)
    expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=bucket)
    expect_error("404", s3.head_bucket, Bucket=f"{bucket}-missing")

    # ---- put / get / head with metadata ----
    body = os.urandom(300_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="objects/meta.bin",
        Body=body,
        ContentType="application/x-boto3",
        Metadata={"origin": "boto3", "Mixed-Case": "Kept Value"},
        CacheControl="no-store",
        ContentLanguage="en",
    )
    md5 = hashlib.md5(body).hexdigest()
    check(put["ETag"] == f'"{md5}"', f"PUT ETag {put['ETag']} != md5 {md5}")
    got = s3.get_object(Bucket=bucket, Key="objects/meta.bin")
    check(got["Body"].read() == body, "GET returned other bytes")
    check(got["ContentType"] == "application/x-boto3", f"ContentType {got['ContentType']}")
    check(
        got["Metadata"] == {"origin": "boto3", "mixed-case": "Kept Value"},
        f"Metadata {got['Metadata']}",
    )
    head = s3.head_object(Bucket=bucket, Key="objects/meta.bin")
    check(head["ContentLength"] == len(body), f"ContentLength {head['ContentLength']}")
    check(head["CacheControl"] == "no-store", f"CacheControl {head.get('CacheControl')}")
    check(head["ContentLanguage"] == "en", f"ContentLanguage {head.get('ContentLanguage')}")
    expect_error("NoSuchKey", s3.get_object, Bucket=bucket, Key="objects/missing")
    expect_error("NoSuchBucket", s3.get_object, Bucket=f"{bucket}-missing", Key="k")

    # ---- empty objects, then a non-empty one on the same connection ----
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"empty/{i}", Body=b"")
        s3.put_object(Bucket=bucket, Key=f"after-empty/{i}", Body=b"x" * 1000)
    check(
        s3.head_object(Bucket=bucket, Key="empty/0")["ContentLength"] == 0, "empty object size"
    )

    # ---- ranged and conditional reads ----
    r = s3.get_object(Bucket=bucket, Key="objects/meta.bin", Range="bytes=1000-1999")
    check(r["Body"].read() == body[1000:2000], "ranged GET bytes")
    check(
        r["ContentRange"] == f"bytes 1000-1999/{len(body)}",
        f"ContentRange {r['ContentRange']}",
    )
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 206, "ranged GET status")
    expect_error(
        "InvalidRange", s3.get_object, Bucket=bucket, Key="objects/meta.bin", Range="bytes=999999-"
    )
    expect_error(
        "304", s3.get_object, Bucket=bucket, Key="objects/meta.bin", IfNoneMatch=put["ETag"]
    )
    expect_error(
        "PreconditionFailed",
        s3.get_object,
        Bucket=bucket,
        Key="objects/meta.bin",
        IfMatch='"00000000000000000000000000000000"',
    )

    # ---- managed multipart transfer (upload_fileobj / download_fileobj) ----
    big = os.urandom(21 * MIB + 7)
    cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(big), bucket, "big/managed.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/managed.bin")
    check(head["ETag"].endswith('-3"'), f"managed upload in 3 parts: ETag {head['ETag']}")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big/managed.bin", out, Config=cfg)
    check(out.getvalue() == big, "download_fileobj returned other bytes")

    # ---- low-level multipart: list, abort, complete, part numbers ----
    mp = s3.create_multipart_upload(Bucket=bucket, Key="big/low.bin", ContentType="video/mp4")
    uid = mp["UploadId"]
    parts = []
    chunks = [big[: 5 * MIB], big[5 * MIB : 10 * MIB], big[10 * MIB : 10 * MIB + 1234]]
    for n, chunk in enumerate(chunks, 1):
        p = s3.upload_part(Bucket=bucket, Key="big/low.bin", UploadId=uid, PartNumber=n, Body=chunk)
        check(p["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"', f"part {n} ETag")
        parts.append({"PartNumber": n, "ETag": p["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key="big/low.bin", UploadId=uid)["Parts"]
    check([p["Size"] for p in listed] == [len(c) for c in chunks], f"list_parts sizes {listed}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    check([u["UploadId"] for u in uploads] == [uid], f"list_multipart_uploads {uploads}")
    expect_error(
        "InvalidPartOrder",
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="big/low.bin",
        UploadId=uid,
        MultipartUpload={"Parts": [parts[1], parts[0]]},
    )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big/low.bin", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    whole = b"".join(chunks)
    check(s3.get_object(Bucket=bucket, Key="big/low.bin")["Body"].read() == whole, "multipart bytes")
    p2 = s3.get_object(Bucket=bucket, Key="big/low.bin", PartNumber=2)
    check(p2["Body"].read() == chunks[1] and p2["PartsCount"] == 3, "GET PartNumber=2")
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="big/aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="big/aborted", UploadId=aborted)
    expect_error("NoSuchUpload", s3.list_parts, Bucket=bucket, Key="big/aborted", UploadId=aborted)
    check(not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "uploads left over")

    # ---- copy ----
    s3.copy_object(
        Bucket=bucket,
        Key="objects/copy.bin",
        CopySource={"Bucket": bucket, "Key": "objects/meta.bin"},
        MetadataDirective="REPLACE",
        Metadata={"copied": "yes"},
        ContentType="text/plain",
    )
    head = s3.head_object(Bucket=bucket, Key="objects/copy.bin")
    check(head["Metadata"] == {"copied": "yes"}, f"copy metadata {head['Metadata']}")
    check(head["ETag"] == f'"{md5}"', "copy ETag")
    s3.copy(
        {"Bucket": bucket, "Key": "big/managed.bin"}, bucket, "big/managed-copy.bin", Config=cfg
    )
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big/managed-copy.bin", out)
    check(out.getvalue() == big, "managed copy (UploadPartCopy) returned other bytes")

    # ---- listing with a paginator ----
    for i in range(120):
        s3.put_object(Bucket=bucket, Key=f"many/{i:04d}", Body=str(i).encode())
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="many/", PaginationConfig={"PageSize": 50}
    )
    keys, npages = [], 0
    for page in pages:
        npages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
    check(keys == [f"many/{i:04d}" for i in range(120)], "paginated keys")
    check(npages == 3, f"{npages} pages of 50")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    prefixes = [p["Prefix"] for p in top.get("CommonPrefixes", [])]
    check(
        prefixes == ["after-empty/", "big/", "empty/", "many/", "objects/"],
        f"prefixes {prefixes}",
    )
    versions = s3.list_object_versions(Bucket=bucket, Prefix="objects/")["Versions"]
    check({v["VersionId"] for v in versions} == {"null"}, f"versions {versions}")

    # ---- presigned URLs with a plain HTTP client: boto3's default form and SigV4 ----
    s3v4 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    for name, client in (("default", s3), ("s3v4", s3v4)):
        key = f"presigned/{name}.txt"
        data = f"presigned by {name}".encode()
        url = client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
        status, _ = http_request("PUT", url, data)
        check(status == 200, f"{name} presigned PUT status {status}")
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
        status, got = http_request("GET", url)
        check((status, got) == (200, data), f"{name} presigned GET: {status} {got[:100]!r}")
        status, _ = http_request("GET", url.replace(key, "presigned/other"))
        check(status == 403, f"{name} presigned URL used for another key: {status}")

    # ---- batch delete, bucket removal ----
    expect_error("BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objs:
            res = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
            check(not res.get("Errors"), f"delete_objects errors {res.get('Errors')}")
    check(s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0, "bucket emptied")
    s3.delete_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket not in names, "bucket removed")
    print("s3_tools.py: all checks passed")


if __name__ == "__main__":
    main()
