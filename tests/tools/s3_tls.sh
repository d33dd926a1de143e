#!/usr/bin/env bash
# awscli, boto3, rclone and s3fs against a TLS node, trusting its CA (README "TLS"): awscli
# and boto3 through AWS_CA_BUNDLE, rclone through --ca-cert, s3fs through CURL_CA_BUNDLE.
# Upload (multipart too), list, download, a presigned GET, a copy and check of a tree with
# rclone, files read and written through an s3fs mount, and refusals without the CA,
# checking every result. TESSERA_SKIP_FUSE=1 leaves out the s3fs mount.
#
# Environment:
#   TESSERA_S3_ENDPOINT    https://HOST:PORT of the node (required)
#   TESSERA_CA_FILE        the PEM file of the CA that signed the node's certificate (required)
#   AWS_ACCESS_KEY_ID      an access key of the node with readwrite rights (required)
#   AWS_SECRET_ACCESS_KEY  its secret (required)
#
# Exits 0 after "s3_tls.sh: all checks passed", non-zero with a FAIL line on any mismatch.
set -euo pipefail

: "${TESSERA_S3_ENDPOINT:?set TESSERA_S3_ENDPOINT to the node (https://host:port)}"
: "${TESSERA_CA_FILE:?set TESSERA_CA_FILE to the CA certificate}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"

work=$(mktemp -d)
mnt="$work/s3fs"
cleanup() {
    if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" || umount -l "$mnt"; fi
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/config" <<'EOF'
[default]
region = us-east-1
s3 =
    addressing_style = path
EOF
export AWS_CONFIG_FILE="$work/config"
export AWS_SHARED_CREDENTIALS_FILE="$work/no-credentials"
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export BOTO_EXPERIMENTAL__NO_EMPTY_CONTINUE=true # see s3_tools.sh
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true

fail() {
    echo "s3_tls.sh: FAIL: $*" >&2
    exit 1
}

s3() { aws --endpoint-url "$TESSERA_S3_ENDPOINT" s3 "$@"; }
bucket=tls-tools

# Without the CA: a certificate error, nothing done.
if out=$(env -u AWS_CA_BUNDLE aws --endpoint-url "$TESSERA_S3_ENDPOINT" s3 ls 2>&1); then
    fail "awscli without the CA was served: $out"
fi
grep -qi 'certificate\|SSL' <<<"$out" || fail "awscli without the CA: no certificate error: $out"

export AWS_CA_BUNDLE="$TESSERA_CA_FILE"
s3 mb "s3://$bucket" >/dev/null
head -c $((9 * 1024 * 1024)) /dev/urandom >"$work/big"    # multipart (8 MiB threshold)
echo "small over TLS" >"$work/small"
s3 cp "$work/big" "s3://$bucket/big" >/dev/null
s3 cp "$work/small" "s3://$bucket/dir/small" >/dev/null
s3 ls "s3://$bucket/" --recursive | grep -q 'dir/small' || fail "ls misses dir/small"
s3 cp "s3://$bucket/big" "$work/big.back" >/dev/null
cmp -s "$work/big" "$work/big.back" || fail "awscli: big differs after the round trip"

python3 - "$bucket" <<'PY' || fail "boto3"
import os, ssl, sys, urllib.request
import boto3
from botocore.config import Config

bucket = sys.argv[1]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["TESSERA_S3_ENDPOINT"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)  # AWS_CA_BUNDLE is the CA
s3.put_object(Bucket=bucket, Key="boto3", Body=b"boto3 over TLS")
assert s3.get_object(Bucket=bucket, Key="dir/small")["Body"].read() == b"small over TLS\n"
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
assert keys == ["big", "boto3", "dir/small"], keys
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "boto3"})
assert url.startswith("https://"), url
ctx = ssl.create_default_context(cafile=os.environ["TESSERA_CA_FILE"])
with urllib.request.urlopen(url, context=ctx) as r:
    assert r.read() == b"boto3 over TLS"
PY

# rclone: a refusal without the CA, then a tree copied (multipart for its big file) and
# checked by hash against the node.
export RCLONE_CONFIG="$work/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_NODE_TYPE=s3 RCLONE_CONFIG_NODE_PROVIDER=Minio
export RCLONE_CONFIG_NODE_ENDPOINT="$TESSERA_S3_ENDPOINT" RCLONE_CONFIG_NODE_REGION=us-east-1
export RCLONE_CONFIG_NODE_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_NODE_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
# (rclone's S3 library refuses AWS_CA_BUNDLE with its own HTTP transport: --ca-cert instead.)
rclone() { env -u AWS_CA_BUNDLE rclone --retries 1 --low-level-retries 1 "$@"; }
if out=$(rclone lsf "node:$bucket" 2>&1); then
    fail "rclone without the CA was served: $out"
fi
grep -qi 'certificate\|x509' <<<"$out" || fail "rclone without the CA: no certificate error: $out"
mkdir -p "$work/tree/sub"
cp "$work/big" "$work/tree/big"
echo "rclone over TLS" >"$work/tree/sub/note"
rclone --ca-cert "$TESSERA_CA_FILE" --s3-upload-cutoff 5M --s3-chunk-size 5M \
    copy "$work/tree" "node:$bucket/rclone" 2>"$work/rclone.log" || fail "rclone copy: $(cat "$work/rclone.log")"
rclone --ca-cert "$TESSERA_CA_FILE" check "$work/tree" "node:$bucket/rclone" 2>>"$work/rclone.log" ||
    fail "rclone check: the tree differs on the node: $(cat "$work/rclone.log")"
# Over HTTP/2, an answer to HEAD with a body is a protocol error to rclone's HTTP client.
if grep -i 'protocol error' "$work/rclone.log"; then fail "rclone saw protocol errors"; fi
[[ $(rclone --ca-cert "$TESSERA_CA_FILE" lsf -R "node:$bucket/rclone" | sort | tr '\n' ' ') == "big sub/ sub/note " ]] ||
    fail "rclone lsf: $(rclone --ca-cert "$TESSERA_CA_FILE" lsf -R "node:$bucket/rclone")"

# s3fs: the bucket mounted over TLS, a file written by awscli read back, one written
# through the mount read back with awscli.
if [[ ${TESSERA_SKIP_FUSE:-} != 1 ]]; then
    printf '%s:%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$work/passwd"
    chmod 600 "$work/passwd"
    mkdir -p "$mnt"
    CURL_CA_BUNDLE="$TESSERA_CA_FILE" s3fs "$bucket" "$mnt" -o url="$TESSERA_S3_ENDPOINT" \
        -o use_path_request_style -o endpoint=us-east-1 -o passwd_file="$work/passwd" \
        -o dbglevel=warn || fail "s3fs mount"
    for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done
    mountpoint -q "$mnt" || fail "s3fs did not mount"
    [[ $(cat "$mnt/dir/small") == "small over TLS" ]] || fail "s3fs read of dir/small"
    cmp -s "$work/big" "$mnt/big" || fail "s3fs read of big"
    echo "written through s3fs" >"$mnt/from-s3fs"
    fusermount3 -u "$mnt"
    [[ $(s3 cp "s3://$bucket/from-s3fs" -) == "written through s3fs" ]] ||
        fail "the file written through s3fs"
fi

s3 rb "s3://$bucket" --force >/dev/null
echo "s3_tls.sh: all checks passed"
