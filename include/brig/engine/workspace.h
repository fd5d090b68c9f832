// Reading a cell's workspace from the host without following anything the
// cell planted: every path component is opened with O_NOFOLLOW relative to the
// one before, and ".." is refused.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/unique_fd.h"

namespace brig::engine {

// Opens `rel` (relative, or absolute under the workspace mount such as
// "/work/out.txt" given `mount`) inside `workspace` for reading. Errors name
// the component that is a symlink, "..", missing, or not a regular file;
// their fix lines name `cell`.
Result<unique_fd> open_in_workspace(const std::string& workspace, const std::string& rel,
                                    const std::string& mount = "/work", const std::string& cell = "");

// Writes `data` to `rel` in the workspace as open_in_workspace finds it: no
// component a symlink (the file's own name included), no ".."; missing
// directories made (0755, owned like the workspace root); the file replaced
// atomically (a new file renamed over the name, so a symlink planted after
// the check is replaced, never followed), 0644, owned like the workspace root.
Status write_in_workspace(const std::string& workspace, const std::string& rel, std::string_view data,
                          const std::string& mount = "/work", const std::string& cell = "");

Status copy_to_stdout(int fd);

// Entries under `dir` (files, directories, links; links are not followed), 0 if absent.
std::size_t count_files(const std::string& dir);

// `brig cell rm`: what happens to the cell's workspace. Only brig's own
// workspace (state/<cell>/workspace) is ever deleted; one that holds files is
// deleted only with --force or a "y" on the terminal; any other answer leaves
// the cell alone. `brig system prune` applies the same rule with no terminal.
struct WorkspaceRemoval {
  std::string cell;
  bool owned = false;         // brig's own workspace, not a directory the user mounted
  std::size_t files = 0;      // entries in it (count_files)
  bool keep_workspace = false, force = false;
  bool tty = false;           // stdin is a terminal, so the user can be asked
  std::optional<std::string> answer;  // the user's reply, once asked
};

struct WorkspaceDecision {
  enum class Action {
    remove,  // Engine::remove(cell, keep_workspace = false)
    keep,    // Engine::remove(cell, keep_workspace = true)
    ask,     // print `message` as a y/N question, then decide again with the answer
    refuse,  // usage error: `message`, fix `fix`
    abort,   // the user said no: nothing removed, exit 1 (`message`, fix `fix`)
  };
  Action action = Action::remove;
  std::string message, fix;
};

// Pure: the rule above, for every combination of flags, files, terminal and answer.
WorkspaceDecision decide_workspace_removal(const WorkspaceRemoval& in);

// The rule applied to the cell's `workspace` on disk, which is brig's own when
// it is `brig_workspace` (Paths::workspace(cell)): files are counted only when
// the decision depends on them (not with --keep-workspace or --force, nor for
// a workspace the user mounted).
WorkspaceDecision decide_workspace_removal(WorkspaceRemoval in, const std::string& workspace,
                                           const std::string& brig_workspace);

}  // namespace brig::engine
