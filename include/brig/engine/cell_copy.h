// `brig cell cp`: docker cp's semantics between a cell and the host, moved as
// tar streams. Out of a running cell through `podman exec CELL tar -c`, into
// one through `podman exec -i CELL tar -x` (all in-cell paths resolve inside
// the sandbox); a stopped cell's workspace from the host side, refusing any
// symlink on the way. A stream made by a cell is listed before it is
// extracted: only files, directories and symlinks under the one name
// copied, none setuid. podman cp is never used (it fails under runsc).
#pragma once

#include <string>

#include "brig/core/error.h"

namespace brig::engine {

class Engine;

// "CELL:PATH" (a colon before any slash) names a cell; anything else is a
// host path (cell "").
struct CpOperand {
  std::string cell, path;
};
CpOperand parse_cp_operand(const std::string& operand);

enum class PathKind { none, file, dir };

// Where the source lands: extracted under the name `name` inside the
// directory `dir`; name "." when a directory's contents merge into `dir`
// (SRC ends in "/.").
struct CopyTarget {
  std::string dir, name;
  bool operator==(const CopyTarget&) const = default;
};

// Pure: docker cp's rules. A file goes into an existing directory under its
// own name, or becomes DEST (replacing a file DEST names); DEST ending in "/"
// must be an existing directory. A directory goes into an existing directory
// under its own name (its contents with "SRC/."), or becomes DEST when DEST
// does not exist; never onto a file.
Result<CopyTarget> copy_target(const std::string& src, PathKind src_kind, const std::string& dest,
                               PathKind dest_kind);

// The verb: one side must name a cell, the other must not.
Result<int> copy_files(Engine& e, const std::string& src, const std::string& dst);

}  // namespace brig::engine
