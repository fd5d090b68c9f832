#!/usr/bin/env bash
# Checks that the client-only build (BRIG_CLIENT_ONLY=ON: cli core proc spec state
# policy vm, the macOS thin client) uses no Linux-only header or call outside
# an `#if ... __linux__` block. The file list is the build's own
# compile_commands.json, plus the public headers of those modules.
#
#   scripts/check-portable.sh BUILD_DIR      # a BRIG_CLIENT_ONLY=ON build dir
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?"usage: scripts/check-portable.sh BUILD_DIR (configured with -DBRIG_CLIENT_ONLY=ON)"}
db="$build/compile_commands.json"
if ! grep -q 'BRIG_CLIENT_ONLY' "$db" 2>/dev/null; then
  echo "error: $db is not a client-only build" >&2
  echo "fix: cmake -S . -B $build -G Ninja -DBRIG_CLIENT_ONLY=ON" >&2
  exit 2
fi

files=()
while IFS= read -r f; do
  case "$f" in "$PWD"/*) files+=("$f") ;; esac
done < <(grep -oE '"file": *"[^"]*"' "$db" | sed -E 's/^"file": *"(.*)"$/\1/' | sort -u)
for m in core proc spec policy state vm cli; do
  [ -d "include/brig/$m" ] && files+=(include/brig/"$m"/*.h)
done
files+=(src/cli/*.h)

# Lines outside any `#if` naming __linux__ (the #else of one is non-Linux).
awk '
  { line = $0; sub(/\/\/.*$/, "", line) }
  line ~ /^[ \t]*#[ \t]*if/ {
    v = 0
    if (line ~ /__linux__/) v = (line ~ /(ifndef|!defined)[ \t(]*__linux__/) ? -1 : 1
    stack[++depth] = v; if (v == 1) linux++
    next
  }
  line ~ /^[ \t]*#[ \t]*(else|elif)/ {
    if (stack[depth] == 1) { linux--; stack[depth] = 0 } else if (stack[depth] == -1) { linux++; stack[depth] = 1 }
    next
  }
  line ~ /^[ \t]*#[ \t]*endif/ { if (stack[depth] == 1) linux--; depth--; next }
  linux == 0 && line ~ /#[ \t]*include[ \t]*<(linux\/|asm\/|seccomp|libnftnl|libmnl|sys\/(epoll|inotify|prctl|signalfd|eventfd|timerfd|syscall|sysmacros|capability|mount)\.h)/ {
    print FILENAME ":" FNR ": Linux-only header: " $0; bad = 1
  }
  linux == 0 && line ~ /(^|[^A-Za-z0-9_])(pipe2|accept4|dup3|close_range|memfd_create|renameat2|statx|prctl|getrandom|signalfd|eventfd|inotify_init1?|epoll_(create1?|ctl|wait)|unshare|setns|pidfd_open)[ \t]*\(|(^|[^A-Za-z0-9_])(O_PATH|O_TMPFILE|SYS_[a-z_0-9]+)([^A-Za-z0-9_]|$)/ {
    print FILENAME ":" FNR ": Linux-only call: " $0; bad = 1
  }
  END { exit bad }
' "${files[@]}" || {
  echo "error: the client-only build uses Linux-only code (above)" >&2
  echo "fix: put it behind #ifdef __linux__ with a POSIX fallback (see src/proc/posix_runner.cc), or move it out of cli/core/proc/spec/policy/vm" >&2
  exit 1
}
echo "check-portable: ok (${#files[@]} files of the client-only build)"
