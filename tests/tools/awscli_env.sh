# Shared by the awscli scripts (source it after setting `script` to the script's name): the
# required environment, an awscli set-up that ignores ~/.aws, and the check helpers.
#
# Environment:
#   TESSERA_S3_ENDPOINT    http://HOST:PORT of the node (required)
#   AWS_ACCESS_KEY_ID      the node's TESSERA_ROOT_USER (required)
#   AWS_SECRET_ACCESS_KEY  the node's TESSERA_ROOT_PASSWORD (required)

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
    echo "$script: FAIL: $*" >&2
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
