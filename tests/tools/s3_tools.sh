#!/usr/bin/env bash
# The tools users have, part 1: awscli (`aws s3 cp/ls/sync/rm/rb`, `aws s3api` for
# multipart and metadata) against a running Tessera node, checking every result.
#
# Environment:
#   TESSERA_S3_ENDPOINT    http://HOST:PORT of the node (required)
#   AWS_ACCESS_KEY_ID      the node's TESSERA_ROOT_USER (required)
#   AWS_SECRET_ACCESS_KEY  the node's TESSERA_ROOT_PASSWORD (required)
#
# Exits 0 after "s3_tools.sh: all checks passed", non-zero with a FAIL line on any
# mismatch. Works in its own bucket and removes it at the end.
set -euo pipefail

script=s3_tools.sh
# shellcheck source=awscli_env.sh
source "$(dirname "$0")/awscli_env.sh"

bucket="tools-awscli-$$"
echo "s3_tools.sh: awscli $(command aws --version 2>&1) against $TESSERA_S3_ENDPOINT, bucket $bucket"

# ---- Buckets ----
s3 s3 mb "s3://$bucket" >/dev/null
s3 s3 ls | grep -q " $bucket\$" || fail "aws s3 ls does not list $bucket"
expect_error BucketAlreadyOwnedByYou s3api create-bucket --bucket "$bucket"
expect_error NoSuchBucket s3 ls "s3://no-such-bucket-$$"

# ---- A local tree: small, odd names, multi-block, multipart-sized ----
src="$work/src"
mkdir -p "$src/sub/deeper"
printf 'hello from awscli\n' >"$src/a.txt"
printf 'spaces and plus\n' >"$src/with space+plus.txt"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$src/sub/b.bin"
: >"$src/sub/deeper/empty"
# Above awscli's 8 MiB multipart threshold: uploaded in 8 MiB parts.
head -c $((20 * 1024 * 1024 + 5)) /dev/urandom >"$src/big.bin"

# ---- cp with metadata, head-object ----
s3 s3 cp "$src/a.txt" "s3://$bucket/single/a.txt" \
    --content-type "text/plain; charset=utf-8" \
    --metadata origin=awscli,kind=single --cache-control max-age=30 >/dev/null
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key single/a.txt \
    --query '[ContentType, Metadata.origin, Metadata.kind, CacheControl, ContentLength]' \
    --output text)" "text/plain; charset=utf-8	awscli	single	max-age=30	18" "head-object of single/a.txt"
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key single/a.txt \
    --query ETag --output text)" "\"$(md5sum <"$src/a.txt" | cut -d' ' -f1)\"" "ETag of single/a.txt"
expect_eq "$(s3 s3 cp "s3://$bucket/single/a.txt" -)" "hello from awscli" "aws s3 cp to stdout"
expect_error 404 s3api head-object --bucket "$bucket" --key single/missing

# ---- sync up, sync again (nothing to do), recursive cp down, diff ----
s3 s3 sync "$src" "s3://$bucket/tree/" >/dev/null
listed=$(s3 s3 ls --recursive "s3://$bucket/tree/" | awk '{ $1=$2=$3=""; sub(/^ +/, ""); print }' | sort)
expected=$(printf '%s\n' tree/a.txt tree/big.bin tree/sub/b.bin tree/sub/deeper/empty "tree/with space+plus.txt" | sort)
expect_eq "$listed" "$expected" "aws s3 ls --recursive after sync"
again=$(s3 s3 sync "$src" "s3://$bucket/tree/")
expect_eq "$again" "" "a second sync of an unchanged tree uploads nothing"
big_etag=$(s3 s3api head-object --bucket "$bucket" --key tree/big.bin --query ETag --output text)
[[ "$big_etag" == *-3\" ]] || fail "big.bin went up in 3 parts: ETag $big_etag"
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key tree/big.bin --query ContentLength --output text)" \
    "$((20 * 1024 * 1024 + 5))" "size of the multipart big.bin"
s3 s3 cp --recursive "s3://$bucket/tree/" "$work/down" >/dev/null
diff -r "$src" "$work/down" >/dev/null || fail "the tree downloaded differs from the one uploaded"
s3 s3 sync "s3://$bucket/tree/" "$work/synced" >/dev/null
diff -r "$src" "$work/synced" >/dev/null || fail "the tree synced down differs from the one uploaded"

# ---- ls one level: prefixes and objects ----
top=$(s3 s3 ls "s3://$bucket/tree/")
[[ "$top" == *"PRE sub/"* && "$top" == *" a.txt"* ]] || fail "aws s3 ls one level: $top"

# ---- rm, sync --delete ----
s3 s3 rm "s3://$bucket/tree/sub/b.bin" >/dev/null
rm "$src/a.txt"
s3 s3 sync --delete "$src" "s3://$bucket/tree/" >/dev/null
listed=$(s3 s3 ls --recursive "s3://$bucket/tree/" | awk '{ $1=$2=$3=""; sub(/^ +/, ""); print }' | sort)
expected=$(printf '%s\n' tree/big.bin tree/sub/b.bin tree/sub/deeper/empty "tree/with space+plus.txt" | sort)
expect_eq "$listed" "$expected" "after rm and sync --delete (b.bin re-synced, a.txt deleted)"

# ---- s3api multipart: create, upload parts, list, complete; and an aborted one ----
head -c $((12 * 1024 * 1024 + 3)) /dev/urandom >"$work/mp.bin"
split -b 5M -d "$work/mp.bin" "$work/mp.part."
upload_id=$(s3 s3api create-multipart-upload --bucket "$bucket" --key mp/obj.bin \
    --content-type application/x-multipart --metadata origin=s3api --query UploadId --output text)
parts=""
n=0
for p in "$work"/mp.part.*; do
    n=$((n + 1))
    etag=$(s3 s3api upload-part --bucket "$bucket" --key mp/obj.bin --upload-id "$upload_id" \
        --part-number "$n" --body "$p" --query ETag --output text)
    expect_eq "$etag" "\"$(md5sum <"$p" | cut -d' ' -f1)\"" "ETag of part $n"
    parts="$parts{\"PartNumber\": $n, \"ETag\": $etag},"
done
expect_eq "$n" "3" "number of parts"
expect_eq "$(s3 s3api list-parts --bucket "$bucket" --key mp/obj.bin --upload-id "$upload_id" \
    --query 'length(Parts)' --output text)" "3" "list-parts"
expect_eq "$(s3 s3api list-multipart-uploads --bucket "$bucket" --query 'Uploads[0].Key' --output text)" \
    "mp/obj.bin" "list-multipart-uploads"
echo "{\"Parts\": [${parts%,}]}" >"$work/parts.json"
s3 s3api complete-multipart-upload --bucket "$bucket" --key mp/obj.bin --upload-id "$upload_id" \
    --multipart-upload "file://$work/parts.json" >/dev/null
s3 s3api get-object --bucket "$bucket" --key mp/obj.bin "$work/mp.back" >/dev/null
cmp -s "$work/mp.bin" "$work/mp.back" || fail "the completed multipart object differs"
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key mp/obj.bin \
    --query '[ContentType, Metadata.origin, ContentLength]' --output text)" \
    "application/x-multipart	s3api	$((12 * 1024 * 1024 + 3))" "head-object of the multipart object"
expect_error NoSuchUpload s3api list-parts --bucket "$bucket" --key mp/obj.bin --upload-id "$upload_id"

aborted=$(s3 s3api create-multipart-upload --bucket "$bucket" --key mp/aborted --query UploadId --output text)
s3 s3api upload-part --bucket "$bucket" --key mp/aborted --upload-id "$aborted" --part-number 1 \
    --body "$work/mp.part.00" >/dev/null
s3 s3api abort-multipart-upload --bucket "$bucket" --key mp/aborted --upload-id "$aborted"
expect_eq "$(s3 s3api list-multipart-uploads --bucket "$bucket" --query 'length(Uploads || `[]`)' --output text)" \
    "0" "no uploads left after complete and abort"
expect_error 404 s3api head-object --bucket "$bucket" --key mp/aborted

# ---- s3api put-object with headers, copy-object REPLACE, ranged get ----
printf '0123456789' >"$work/digits"
s3 s3api put-object --bucket "$bucket" --key meta/digits --body "$work/digits" \
    --content-type text/plain --content-disposition 'attachment; filename="d.txt"' \
    --content-language en --metadata color=blue >/dev/null
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key meta/digits \
    --query '[ContentDisposition, ContentLanguage, Metadata.color]' --output text)" \
    'attachment; filename="d.txt"	en	blue' "stored standard headers"
s3 s3api copy-object --bucket "$bucket" --key meta/copy --copy-source "$bucket/meta/digits" \
    --metadata-directive REPLACE --metadata color=red --content-type application/x-copy >/dev/null
expect_eq "$(s3 s3api head-object --bucket "$bucket" --key meta/copy \
    --query '[ContentType, Metadata.color]' --output text)" "application/x-copy	red" "copy-object REPLACE"
s3 s3api get-object --bucket "$bucket" --key meta/digits --range bytes=2-5 "$work/range" >/dev/null
expect_eq "$(cat "$work/range")" "2345" "ranged get-object"
expect_error NoSuchKey s3api get-object --bucket "$bucket" --key meta/none "$work/none"
expect_error InvalidRange s3api get-object --bucket "$bucket" --key meta/digits --range bytes=50- "$work/none"

# ---- delete-objects, list-object-versions ----
expect_eq "$(s3 s3api list-object-versions --bucket "$bucket" --prefix meta/ \
    --query 'Versions[].VersionId' --output text)" "null	null" "list-object-versions"
s3 s3api delete-objects --bucket "$bucket" \
    --delete '{"Objects": [{"Key": "meta/digits"}, {"Key": "meta/copy"}, {"Key": "meta/never"}]}' >/dev/null
expect_eq "$(s3 s3api list-objects-v2 --bucket "$bucket" --prefix meta/ --query "length(Contents || \`[]\`)" --output text)" \
    "0" "after delete-objects"

# ---- rb --force empties and removes the bucket ----
expect_error BucketNotEmpty s3api delete-bucket --bucket "$bucket"
s3 s3 rb --force "s3://$bucket" >/dev/null
if s3 s3 ls | grep -q " $bucket\$"; then fail "aws s3 rb --force left $bucket"; fi

echo "s3_tools.sh: all checks passed"
