#!/usr/bin/env bash
# Versions and tags with awscli (`aws s3api` put-bucket-versioning, list-object-versions,
# get-object --version-id, object and bucket tagging) against a running node.
#
# Environment:
#   TESSERA_S3_ENDPOINT    http://HOST:PORT of the node (required)
#   AWS_ACCESS_KEY_ID      the node's TESSERA_ROOT_USER (required)
#   AWS_SECRET_ACCESS_KEY  the node's TESSERA_ROOT_PASSWORD (required)
#
# Exits 0 after "s3_versions.sh: all checks passed", non-zero with a FAIL line on any
# mismatch. Works in its own bucket and removes it at the end.
set -euo pipefail

: "${TESSERA_S3_ENDPOINT:?set TESSERA_S3_ENDPOINT to the node (http://host:port)}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Path-style addressing and a fixed region, whatever ~/.aws says.
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
# botocore sends `Expect: 100-continue` even on empty bodies; the node (hyper) answers an
# empty PUT at once without a 100, which leaves botocore's pooled connection parsing the
# next response against a stale status line: a silent 60 s stall and a retry on the next
# PUT (boto/botocore#3755). This opt-in stops botocore sending the expectation for empty
# bodies, so a sync of a tree with empty files runs at full speed.
export BOTO_EXPERIMENTAL__NO_EMPTY_CONTINUE=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true

fail() {
    echo "s3_versions.sh: FAIL: $*" >&2
    exit 1
}

# `aws` against the node; any failure of the command is a failure of the script.
s3() {
    command aws --endpoint-url "$TESSERA_S3_ENDPOINT" "$@" || fail "aws $* exited $?"
}

expect_eq() { # ACTUAL EXPECTED WHAT
    [ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
}

# Runs a command that must fail with an S3 error CODE.
expect_error() { # CODE ARGS...
    local code=$1
    shift
    local err
    if err=$(command aws --endpoint-url "$TESSERA_S3_ENDPOINT" "$@" 2>&1 >/dev/null); then
        fail "aws $* succeeded; expected $code"
    fi
    [[ "$err" == *"$code"* ]] || fail "aws $*: expected $code, got: $err"
}

bucket="versions-awscli-$$"
echo "s3_versions.sh: awscli against $TESSERA_S3_ENDPOINT, bucket $bucket"
s3 s3api create-bucket --bucket "$bucket" >/dev/null
s3 s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
expect_eq "$(s3 s3api get-bucket-versioning --bucket "$bucket" --query Status --output text)" \
    Enabled "versioning status"

# Three versions of one key, each tagged; a copy of the first; a delete marker.
ids=()
for n in 1 2 3; do
    echo "content $n" >"$work/v$n"
    ids+=("$(s3 s3api put-object --bucket "$bucket" --key doc --body "$work/v$n" \
        --tagging "round=$n" --query VersionId --output text)")
done
for n in 1 2 3; do
    s3 s3api get-object --bucket "$bucket" --key doc --version-id "${ids[$((n - 1))]}" \
        "$work/got$n" >/dev/null
    cmp -s "$work/v$n" "$work/got$n" || fail "version $n reads back different bytes"
done
expect_eq "$(s3 s3api get-object-tagging --bucket "$bucket" --key doc \
    --query 'TagSet[0].Value' --output text)" 3 "the current version's tag"
s3 s3api put-object-tagging --bucket "$bucket" --key doc \
    --tagging 'TagSet=[{Key=kept,Value=yes}]'
s3 s3api copy-object --bucket "$bucket" --key first \
    --copy-source "$bucket/doc?versionId=${ids[0]}" >/dev/null
s3 s3 cp "s3://$bucket/first" "$work/first" >/dev/null
cmp -s "$work/v1" "$work/first" || fail "a copy of version 1"
marker=$(s3 s3api delete-object --bucket "$bucket" --key doc --query VersionId --output text)
expect_error NoSuchKey s3api get-object --bucket "$bucket" --key doc "$work/none"
listed=$(s3 s3api list-object-versions --bucket "$bucket" --prefix doc \
    --query '[length(Versions), length(DeleteMarkers)]' --output text)
expect_eq "$listed" "3	1" "versions and markers listed"
expect_eq "$(s3 s3api list-object-versions --bucket "$bucket" --prefix doc \
    --query 'DeleteMarkers[0].VersionId' --output text)" "$marker" "the marker's id"
[ -z "$(s3 s3 ls "s3://$bucket/doc")" ] || fail "aws s3 ls shows a deleted key"

# Undelete by removing the marker; then remove every version and the bucket.
s3 s3api delete-object --bucket "$bucket" --key doc --version-id "$marker" >/dev/null
s3 s3 cp "s3://$bucket/doc" "$work/back" >/dev/null
cmp -s "$work/v3" "$work/back" || fail "the latest version is back"
expect_error BucketNotEmpty s3api delete-bucket --bucket "$bucket"
s3 s3api list-object-versions --bucket "$bucket" \
    --query 'Versions[].[Key,VersionId]' --output text |
    while read -r key id; do
        s3 s3api delete-object --bucket "$bucket" --key "$key" --version-id "$id" >/dev/null
    done
s3 s3api delete-bucket --bucket "$bucket"
echo "s3_versions.sh: all checks passed"
