#!/usr/bin/env python3
"""Versions as a backup tool uses them (restic-style), with boto3 against a running node.

A bucket with object lock (GOVERNANCE, one day by default) takes a repository's files:
config and keys written once, index and snapshot files overwritten round after round,
data packs added; then every version listed (paginated) is read back by id and compared
with what was written, deletes add markers without losing a byte, locked versions refuse
deletion until the bypass, and the bucket is emptied version by version and removed.

Environment: TESSERA_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (the root key).
Exits 0 after "s3_versions.py: all checks passed", non-zero with a FAIL line otherwise.
"""

import hashlib
import os
import sys

os.environ.setdefault("BOTO_EXPERIMENTAL__NO_EMPTY_CONTINUE", "true")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MIB = 1024 * 1024


def fail(msg):
    print(f"s3_versions.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        check(code in (got, status), f"{fn.__name__}: expected {code}, got {got} ({status})")
        return
    fail(f"{fn.__name__} succeeded; expected {code}")


def payload(name, round_, size):
    seed = hashlib.sha256(f"{name}/{round_}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def main():
    endpoint = os.environ.get("TESSERA_S3_ENDPOINT") or fail("set TESSERA_S3_ENDPOINT")
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    bucket = "restic-repo"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    check(
        s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled",
        "object lock enables versioning",
    )
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )

    # ---- the repository: written once, overwritten each round, added each round ----
    written = {}  # version id -> (key, md5)

    def put(key, data):
        out = s3.put_object(Bucket=bucket, Key=key, Body=data)
        vid = out.get("VersionId")
        check(vid and vid != "null", f"{key}: a version id, got {vid!r}")
        written[vid] = (key, hashlib.md5(data).hexdigest())
        return vid

    put("config", payload("config", 0, 300))
    put("keys/a1b2", payload("keys", 0, 400))
    rounds = 4
    for r in range(rounds):
        put(f"data/{r:02x}/pack{r}", payload("pack", r, 2 * MIB + r))
        put("index/current", payload("index", r, 10_000 + r))
        put("snapshots/latest", payload("snap", r, 700 + r))
    # A multipart pack, as restic's larger packs are.
    mp = s3.create_multipart_upload(Bucket=bucket, Key="data/ff/big")
    parts, blob = [], b""
    for n in (1, 2):
        chunk = payload("big", n, 5 * MIB)
        blob += chunk
        etag = s3.upload_part(
            Bucket=bucket, Key="data/ff/big", UploadId=mp["UploadId"], PartNumber=n, Body=chunk
        )["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="data/ff/big", UploadId=mp["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    written[done["VersionId"]] = ("data/ff/big", hashlib.md5(blob).hexdigest())

    # ---- every version listed, in pages, and read back by id ----
    def versions():
        seen, markers = [], []
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 3}
        ):
            seen += page.get("Versions", [])
            markers += page.get("DeleteMarkers", [])
        return seen, markers

    listed, markers = versions()
    check(not markers, f"no markers yet: {markers}")
    check(len(listed) == len(written), f"{len(listed)} versions listed, {len(written)} written")
    for v in listed:
        key, md5 = written.get(v["VersionId"], (None, None))
        check(key == v["Key"], f"version {v['VersionId']} listed under {v['Key']}, written to {key}")
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
        check(hashlib.md5(body).hexdigest() == md5, f"{key}@{v['VersionId']}: bytes differ")
    latest = [v for v in listed if v["Key"] == "index/current" and v["IsLatest"]]
    check(len(latest) == 1, f"one latest index: {latest}")
    head = s3.head_object(Bucket=bucket, Key="index/current")
    check(head.get("ObjectLockMode") == "GOVERNANCE", f"default retention: {head}")

    # ---- a prune: deletes add markers, locked versions stay ----
    out = s3.delete_object(Bucket=bucket, Key="snapshots/latest")
    check(out.get("DeleteMarker") is True, "a delete adds a marker")
    expect_error("NoSuchKey", s3.get_object, Bucket=bucket, Key="snapshots/latest")
    old = next(v for v in listed if v["Key"] == "index/current" and not v["IsLatest"])
    expect_error(
        "AccessDenied", s3.delete_object, Bucket=bucket, Key="index/current",
        VersionId=old["VersionId"],
    )
    listed, markers = versions()
    check(len(markers) == 1 and len(listed) == len(written), "nothing lost to the prune")

    # ---- emptied version by version with the bypass, then removed ----
    expect_error("BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in listed + markers]
    for i in range(0, len(objects), 7):
        res = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": objects[i : i + 7]}, BypassGovernanceRetention=True
        )
        check(not res.get("Errors"), f"delete_objects errors {res.get('Errors')}")
    listed, markers = versions()
    check(not listed and not markers, "every version deleted")
    s3.delete_bucket(Bucket=bucket)
    print("s3_versions.py: all checks passed")


if __name__ == "__main__":
    main()
