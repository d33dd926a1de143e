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

script=s3_versions.sh
# shellcheck source=awscli_env.sh
source "$(dirname "$0")/awscli_env.sh"

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
