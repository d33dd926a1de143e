#!/usr/bin/env bash
# The shell workload of the FUSE suite: run once on a Tessera mount and once on a local
# directory; the test then compares both trees (type, mode, size, bytes, symlink targets).
# Everything here is deterministic, so any difference is the mount's.
# Usage: fuse_workload.sh TARGET SRC_TREE SRC_TAR
set -euo pipefail
target=$1 src=$2 tarball=$3
cd "$target"
export GIT_AUTHOR_NAME=tess GIT_AUTHOR_EMAIL=tess@example.com
export GIT_COMMITTER_NAME=tess GIT_COMMITTER_EMAIL=tess@example.com
export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# cp -r of thousands of small files and one 200 MiB file.
cp -r "$src" tree

# mkdir -p, echo >>, sed -i.
mkdir -p a/b/c
echo one > a/b/c/log
echo two >> a/b/c/log
echo three >> a/b/c/log
printf 'alpha\nbeta\ngamma\n' > a/sed.txt
sed -i 's/beta/BETA/' a/sed.txt

# mv of files and directories (the big file: a server-side rename).
mv a/sed.txt a/b/sed-moved.txt
mv tree/big tree/big-moved
mv tree/d03 tree/d03-moved
mv a/b a/b2

# rm -r.
rm -r tree/d04

# dd conv=notrunc seek= into the middle of a copy.
head -c 300000 tree/big-moved > dd.bin
printf 'XYZXYZ' | dd of=dd.bin conv=notrunc bs=1 seek=150000 status=none
printf 'tail' | dd of=dd.bin conv=notrunc bs=1 seek=300000 status=none

# truncate up and down.
cp a/b2/c/log trunc.txt
truncate -s 100000 trunc.txt
truncate -s 7 trunc.txt
truncate -s 20 trunc.txt

# tar x, then tar c of what was extracted: the archive round-trips byte for byte
# (names, modes, sizes, mtimes set by tar through utimens).
mkdir untar
tar -xf "$tarball" -C untar
tar -C untar --sort=name --numeric-owner -cf roundtrip.tar .
cmp roundtrip.tar "$tarball"

# rsync -a (temp file + rename, times and modes kept).
rsync -a tree/d01/ rsynced/
rsync -a tree/d02 rsynced/

# Symlinks: to a file, a directory, and nowhere.
ln -s a/b2/c/log link-file
ln -s tree/d01 link-dir
ln -s ../nowhere link-dangling
cat link-file > via-link.txt
ls link-dir/ > via-link-dir.txt

# chmod.
chmod 600 a/b2/c/log
chmod 700 a/b2
chmod 755 trunc.txt

# find | sort.
find tree a untar rsynced | sort > find.txt

# git init/add/commit/log in a directory of the mount.
mkdir repo
cd repo
git init -q -b main
cp ../a/b2/c/log ../a/b2/sed-moved.txt .
mkdir sub && echo nested > sub/file
git add .
git commit -qm first
echo four >> log
git commit -qam second
git mv sub/file sub/renamed
git commit -qm third
git log --format='%H %s' > ../git-log.txt
git status --porcelain > ../git-status.txt
git fsck --no-progress 2> ../git-fsck.txt
cd ..
