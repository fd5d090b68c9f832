#!/usr/bin/env bash
# Tests scripts/check-layering.sh: the real tree passes; a copy of src/ and
# include/ with one violation injected at a time fails with exit 1 and the
# violation's exact FILE:LINE line; comments and string literals are ignored.
#
#   tests/scripts/check_layering_test.sh [REPO_ROOT]
set -uo pipefail
repo=${1:-"$(cd "$(dirname "$0")/../.." && pwd)"}
check="$repo/scripts/check-layering.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# fresh_copy: a clean copy of the tree's src/ and include/ in $tmp/tree.
fresh_copy() {
  rm -rf "$tmp/tree"; mkdir -p "$tmp/tree"
  cp -r "$repo/src" "$repo/include" "$tmp/tree/"
}

# expect_violation NAME FILE TEXT EXPECTED: appends TEXT (one line) to FILE
# in a fresh copy; the check must exit 1 and print EXPECTED, where @LINE@
# stands for the line TEXT landed on.
expect_violation() {
  local name=$1 file=$2 text=$3 expected=$4 out rc line
  fresh_copy
  printf '%s\n' "$text" >>"$tmp/tree/$file"
  line=$(wc -l <"$tmp/tree/$file")
  expected=${expected//@LINE@/$line}
  out=$("$check" "$tmp/tree" 2>&1); rc=$?
  if [ "$rc" != 1 ]; then fail "$name: exit $rc, want 1; output:"$'\n'"$out"; return; fi
  if ! grep -qxF -- "$expected" <<<"$out"; then
    fail "$name: no line '$expected' in:"$'\n'"$out"
  fi
}

# expect_clean NAME FILE TEXT: TEXT appended to FILE is not a violation.
expect_clean() {
  local name=$1 file=$2 text=$3 out rc
  fresh_copy
  printf '%s\n' "$text" >>"$tmp/tree/$file"
  out=$("$check" "$tmp/tree" 2>&1); rc=$?
  if [ "$rc" != 0 ]; then fail "$name: exit $rc, want 0; output:"$'\n'"$out"; fi
}

# (a) The real tree.
out=$("$check" "$repo" 2>&1); rc=$?
if [ "$rc" != 0 ]; then fail "real tree: exit $rc, want 0; output:"$'\n'"$out"; fi
grep -q '^check-layering: ok ' <<<"$out" || fail "real tree: no 'check-layering: ok' in: $out"

# (b) One violation of each kind.
expect_violation "spec includes engine" src/spec/merge.cc '#include "brig/engine/engine.h"' \
  'src/spec/merge.cc:@LINE@: spec may not include "brig/engine/engine.h" (core <- spec <- policy)'
expect_violation "policy includes Boost" src/policy/path.cc '#include <boost/asio.hpp>' \
  'src/policy/path.cc:@LINE@: policy may not include <boost/asio.hpp> (Boost and OpenSSL stay in src/warden (engine: <openssl/evp.h> only; api: Boost))'
expect_violation "warden forks" src/warden/tls.cc 'static int spawn() { return ::fork(); }' \
  'src/warden/tls.cc:@LINE@: warden may not call fork( (warden, spec and policy run no processes)'
expect_violation "engine includes warden" src/engine/cells.cc '#include "brig/warden/warden.h"' \
  'src/engine/cells.cc:@LINE@: engine may not include "brig/warden/warden.h" (spec + proc + state <- engine)'
expect_violation "engine reaches into warden's src by a relative path" src/engine/nft.cc '#include "../warden/asio.h"' \
  'src/engine/nft.cc:@LINE@: engine may not include "../warden/asio.h" (spec + proc + state <- engine)'
expect_violation "a public spec header includes OpenSSL" include/brig/spec/json.h '#include <openssl/ssl.h>' \
  'include/brig/spec/json.h:@LINE@: spec may not include <openssl/ssl.h> (Boost and OpenSSL stay in src/warden (engine: <openssl/evp.h> only; api: Boost))'
expect_violation "policy includes proc" src/policy/target.cc '#include <brig/proc/command.h>' \
  'src/policy/target.cc:@LINE@: policy may not include <brig/proc/command.h> (warden, spec and policy run no processes)'
expect_violation "spec calls system()" src/spec/json.cc 'int run() { return std::system ("true"); }' \
  'src/spec/json.cc:@LINE@: spec may not call system( (warden, spec and policy run no processes)'
expect_violation "policy execs" src/policy/path.cc 'void go(char** a) { execvp(a[0], a); }' \
  'src/policy/path.cc:@LINE@: policy may not call execvp( (warden, spec and policy run no processes)'
expect_violation "core includes spec" src/core/fs.cc '#include "brig/spec/cell_spec.h"' \
  'src/core/fs.cc:@LINE@: core may not include "brig/spec/cell_spec.h" (core depends on no other module)'
expect_violation "vm includes engine" src/vm/lima.cc '#include "brig/engine/podman.h"' \
  'src/vm/lima.cc:@LINE@: vm may not include "brig/engine/podman.h" (core + proc <- vm)'
expect_violation "main.cc includes engine" src/main.cc '#include "brig/engine/engine.h"' \
  'src/main.cc:@LINE@: main may not include "brig/engine/engine.h" (main.cc includes only cli)'
fresh_copy
mkdir -p "$tmp/tree/src/sandbox"; echo 'int x;' >"$tmp/tree/src/sandbox/seccomp.cc"
out=$("$check" "$tmp/tree" 2>&1); rc=$?
[ "$rc" = 1 ] || fail "unknown module: exit $rc, want 1"
grep -qxF 'src/sandbox/seccomp.cc:1: sandbox is not in the layering table (add it to scripts/check-layering.sh and docs/architecture.md)' <<<"$out" ||
  fail "unknown module: output: $out"

# (c) Not violations: comments, string literals, allowed edges, names that
# only contain a process call's name.
expect_clean "a // comment" src/spec/merge.cc '// #include "brig/engine/engine.h" fork()'
expect_clean "a /* */ comment over lines" src/warden/tls.cc $'/* fork();\n#include "brig/proc/command.h" */'
expect_clean "a string literal" src/warden/tls.cc 'const char* kDoc = "never fork() or system(\"x\")";'
expect_clean "a raw string over lines" src/policy/path.cc $'const char* kDoc = R"doc(\nsystem("x"); fork();\n)doc";'
expect_clean "system_error and forked names" src/warden/tls.cc 'std::error_code e = std::make_error_code(std::errc::io_error); auto& c = std::system_category(); bool forked(); int v = prefork(1);'
expect_clean "warden includes spec through policy" src/warden/tls.cc '#include "brig/spec/cell_spec.h"'
expect_clean "cli includes engine and warden" src/cli/run.cc $'#include "brig/engine/podman.h"\n#include "brig/warden/netaddr.h"'

# (d) Usage.
"$check" "$tmp/nowhere" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "missing root: exit $rc, want 2"

if [ "$failures" != 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "check_layering_test: all passed"
