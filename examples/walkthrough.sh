#!/usr/bin/env bash
# A walk through the `tessera` CLI against a running node.
#   cargo run --release --bin tessera -- server &      # in another terminal
#   bash examples/walkthrough.sh
# TESSERA_BIN picks the binary (default: `tessera` on PATH); TESSERA_ENDPOINT the node.
set -euo pipefail
tessera() { "${TESSERA_BIN:-tessera}" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tessera mb walkthrough
head -c 3000000 /dev/urandom > "$work/photo.jpg"
echo "hello, tessera" > "$work/note.txt"

tessera cp "$work/photo.jpg" walkthrough/2026/photo.jpg     # streamed up
tessera cp "$work/note.txt" walkthrough/notes/               # key = notes/note.txt
echo "from a pipe" | tessera cp - walkthrough/piped.txt      # stdin
tessera ls walkthrough                                       # one level: PRE 2026/ …
tessera ls -r walkthrough                                    # every key
tessera stat walkthrough/2026/photo.jpg
tessera cat walkthrough/notes/note.txt
tessera cp walkthrough/2026/photo.jpg "$work/back.jpg"       # streamed down
cmp "$work/photo.jpg" "$work/back.jpg" && echo "round trip: identical"
tessera mv walkthrough/piped.txt walkthrough/archive/piped.txt   # server-side rename
tessera admin info
tessera rm -r walkthrough/
tessera rb walkthrough
echo "walkthrough done"
