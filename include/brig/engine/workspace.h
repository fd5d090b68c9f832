// Reading a cell's workspace from the host without following anything the
// cell planted: every path component is opened with O_NOFOLLOW relative to the
// one before, and ".." is refused.
#pragma once

#include <cstddef>
#include <string>

#include "brig/core/error.h"
#include "brig/core/unique_fd.h"

namespace brig::engine {

// Opens `rel` (relative, or absolute under the workspace mount such as
// "/work/out.txt" given `mount`) inside `workspace` for reading. Errors name
// the component that is a symlink, "..", missing, or not a regular file.
Result<unique_fd> open_in_workspace(const std::string& workspace, const std::string& rel,
                                    const std::string& mount = "/work");

Status copy_to_stdout(int fd);

// Entries under `dir` (files, directories, links; links are not followed), 0 if absent.
std::size_t count_files(const std::string& dir);

}  // namespace brig::engine
