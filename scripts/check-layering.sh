#!/usr/bin/env bash
# Checks the module boundaries docs/architecture.md states, on src/ and
# include/ (tests/ and scripts/bench are not checked):
#
#   1. a module includes brig headers only of the modules it may use:
#        core <- spec <- policy;  core <- proc;  core <- state (on-disk formats);
#        spec + proc + state <- engine;  policy + state + core <- warden;
#        core + proc <- vm;  engine + policy <- api;  all <- cli;
#        src/main.cc includes only cli.
#      Edges are transitive (policy and engine include core; warden includes
#      spec through policy: src/warden/snapshot.cc holds spec::PolicyBlock and
#      checks cell names with spec::valid_cell_name). The build stops only a
#      brig/<mod> include of a module that is not linked (per-module include
#      roots, cmake/BrigOptions.cmake); this script checks the rest. Both
#      `#include "brig/<mod>/..."` and a relative include that resolves into
#      another module's src/<mod> or include/brig/<mod> are checked.
#   2. Boost and OpenSSL headers (<boost/...>, <openssl/...>) only in
#      src/warden (Boost also in src/api: Beast serves the API); libcrypto's digests (<openssl/evp.h>) also in src/engine
#      (secrets are compared by SHA-256).
#   3. no process code in warden, spec or policy (src/ and include/brig/):
#      brig/proc headers, fork(, vfork(, exec[lv]*(, popen(, posix_spawn,
#      system( as a call.
#
# Comments (// and /* */) and the contents of string literals (raw ones too)
# are ignored. One line per violation:
#   FILE:LINE: <module> may not include <header> (<rule>)
#   FILE:LINE: <module> may not call <name>( (<rule>)
#
#   scripts/check-layering.sh [ROOT]     # ROOT defaults to the repository
# Exit: 0 clean, 1 violations, 2 usage.
set -euo pipefail
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
if [ ! -d "$root/src" ] || [ ! -d "$root/include/brig" ]; then
  echo "error: $root has no src/ and include/brig/" >&2
  echo "fix: scripts/check-layering.sh \"\$(git rev-parse --show-toplevel)\"" >&2
  exit 2
fi
cd "$root"

files=()
while IFS= read -r f; do files+=("$f"); done < <(
  find src include -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' -o -name '*.in' \) | LC_ALL=C sort)

# shellcheck disable=SC2016  # awk program, not shell
awk '
  BEGIN {
    # Modules a module may include, the table above closed transitively.
    allow["core"]   = ""
    allow["proc"]   = "core"
    allow["spec"]   = "core"
    allow["policy"] = "spec core"
    allow["state"]  = "core"
    allow["engine"] = "spec proc state core"
    allow["warden"] = "policy spec state core"
    allow["vm"]     = "core proc"
    allow["api"]    = "core proc spec policy state engine"
    allow["cli"]    = "core proc spec policy state engine warden vm api"
    allow["main"]   = "cli"
    rule["core"]   = "core depends on no other module"
    rule["proc"]   = "core <- proc"
    rule["spec"]   = "core <- spec <- policy"
    rule["policy"] = "core <- spec <- policy"
    rule["state"]  = "core <- state"
    rule["engine"] = "spec + proc + state <- engine"
    rule["warden"] = "policy + state + core <- warden"
    rule["vm"]     = "core + proc <- vm"
    rule["api"]    = "engine + policy <- api <- cli"
    rule["cli"]    = "all <- cli"
    rule["main"]   = "main.cc includes only cli"
    noproc["warden"] = noproc["spec"] = noproc["policy"] = 1
    proc_rule = "warden, spec and policy run no processes"
    ext_rule = "Boost and OpenSSL stay in src/warden (engine: <openssl/evp.h> only; api: Boost)"
    bad = 0
  }
  function module_of(path,   p) {
    if (path == "src/main.cc") return "main"
    if (path ~ /^src\/[^\/]+\//) { p = substr(path, 5); return substr(p, 1, index(p, "/") - 1) }
    if (path ~ /^include\/brig\/[^\/]+\//) { p = substr(path, 14); return substr(p, 1, index(p, "/") - 1) }
    return ""
  }
  function normalize(path,   n, parts, out, k, i) {
    n = split(path, parts, "/"); k = 0
    for (i = 1; i <= n; i++) {
      if (parts[i] == "" || parts[i] == ".") continue
      if (parts[i] == "..") { if (k > 0) k--; else return ""; continue }
      out[++k] = parts[i]
    }
    path = ""
    for (i = 1; i <= k; i++) path = path (i > 1 ? "/" : "") out[i]
    return path
  }
  function exists(path,   line, r) {
    r = (getline line < path); if (r >= 0) close(path); return r >= 0
  }
  function allowed(mod, target) {
    return target == mod || index(" " allow[mod] " ", " " target " ") > 0
  }
  function report(msg) { print FILENAME ":" FNR ": " msg; bad = 1 }
  # The module a quoted include names: brig/<mod>/..., or a path relative to
  # the file (or to src/ or include/) that lands in a module.
  function target_of(inc,   dir, cand) {
    if (inc ~ /^brig\/[^\/]+\//) return module_of("include/" inc)
    dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
    cand = normalize(dir "/" inc)
    if (cand != "" && exists(cand)) return module_of(cand)
    if (exists("src/" inc)) return module_of(normalize("src/" inc))
    if (exists("include/" inc)) return module_of(normalize("include/" inc))
    return ""
  }
  FNR == 1 {
    mode = "code"
    mod = module_of(FILENAME)
    if (!(mod in allow)) {
      report(mod " is not in the layering table (add it to scripts/check-layering.sh and docs/architecture.md)")
      nextfile
    }
  }
  {
    # keep: the line without comments; code: without string contents too.
    line = $0; keep = ""; code = ""; i = 1; n = length(line)
    if (mode == "code" && line !~ /[\/"\047]/) { keep = code = line; i = n + 1 }
    while (i <= n) {
      if (mode == "block") {
        j = index(substr(line, i), "*/")
        if (j == 0) break
        i += j + 1; mode = "code"; keep = keep " "; code = code " "; continue
      }
      if (mode == "raw") {
        j = index(substr(line, i), rawend)
        if (j == 0) break
        i += j + length(rawend) - 1; mode = "code"; keep = keep "\"\""; code = code "\"\""; continue
      }
      c = substr(line, i, 1); d = substr(line, i + 1, 1)
      if (c == "/" && d == "/") break
      if (c == "/" && d == "*") { mode = "block"; i += 2; continue }
      if (c == "R" && d == "\"") {  # R"delim( ... )delim", u8R"( too
        p = index(substr(line, i + 2), "(")
        if (p > 0) { rawend = ")" substr(line, i + 2, p - 1) "\""; mode = "raw"; i += p + 2; continue }
      }
      if (c == "\"" || (c == "\047" && (i == 1 || substr(line, i - 1, 1) !~ /[0-9A-Fa-f]/))) {
        j = i + 1
        while (j <= n) {
          e = substr(line, j, 1)
          if (e == "\\") { j += 2; continue }
          if (e == c) break
          j++
        }
        keep = keep substr(line, i, j - i + 1); code = code c c; i = j + 1; continue
      }
      keep = keep c; code = code c; i++
    }

    if (match(keep, /^[ \t]*#[ \t]*include[ \t]*[<"][^>"]+[>"]/)) {
      inc = substr(keep, RSTART, RLENGTH); sub(/^[ \t]*#[ \t]*include[ \t]*/, "", inc)
      name = substr(inc, 2, length(inc) - 2)
      if (name ~ /^(boost|openssl)\// && FILENAME !~ /^src\/warden\// &&
          !(name == "openssl/evp.h" && FILENAME ~ /^src\/engine\//) &&
          !(name ~ /^boost\// && FILENAME ~ /^src\/api\//)) {
        report(mod " may not include " inc " (" ext_rule ")")
      } else if (inc ~ /^"/ || name ~ /^brig\//) {
        t = target_of(name)
        if (t != "" && !allowed(mod, t)) {
          report(mod " may not include " inc " (" (t == "proc" && (mod in noproc) ? proc_rule : rule[mod]) ")")
        }
      }
    }
    if ((mod in noproc) && match(code, /(^|[^A-Za-z0-9_])(v?fork|exec[lv][a-z]*|popen|system)[ \t]*\(|posix_spawn/)) {
      call = substr(code, RSTART, RLENGTH); sub(/^[^A-Za-z_]/, "", call); sub(/[ \t]*\($/, "", call)
      report(mod " may not call " call "( (" proc_rule ")")
    }
  }
  END { exit bad }
' "${files[@]}" || {
  echo "error: a module crosses a boundary of docs/architecture.md (above)" >&2
  echo "fix: move the code into a module that may use it (the table in docs/architecture.md), then rerun scripts/check-layering.sh" >&2
  exit 1
}
echo "check-layering: ok (${#files[@]} files)"
