#include "brig/engine/workspace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "brig/core/strings.h"

namespace brig::engine {

Result<unique_fd> open_in_workspace(const std::string& workspace, const std::string& rel, const std::string& mount,
                                    const std::string& cell) {
  const std::string name = cell.empty() ? "CELL" : cell;
  std::string path = rel;
  if (!mount.empty() && (path == mount || path.rfind(mount + "/", 0) == 0)) path = path.substr(mount.size());
  std::vector<std::string> parts;
  for (const auto& p : str::split(path, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      return Error(Errc::usage, "path " + str::quote(rel) + " contains \"..\"", "name a file inside the workspace");
    }
    parts.push_back(p);
  }
  if (parts.empty()) {
    return Error(Errc::usage, "no file named; give a path inside the workspace", "brig cell exec " + name + " -- ls " + mount);
  }
  unique_fd dir(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return errno_error("opening workspace " + workspace, errno);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
    unique_fd next(::openat(dir.get(), parts[i].c_str(), flags));
    if (!next) {
      int e = errno;
      const std::string so_far = str::join(std::vector<std::string>(parts.begin(), parts.begin() + static_cast<long>(i) + 1), "/");
      if (e == ELOOP || (e == ENOTDIR && !last)) {
        return Error(Errc::usage, so_far + " is a symlink or not a directory; brig does not follow links out of a workspace",
                     "read the link's target path instead");
      }
      if (e == ENOENT) return Error(Errc::not_found, so_far + " does not exist in the workspace", "brig cell exec " + name + " -- ls " + mount);
      return errno_error("opening " + so_far, e);
    }
    dir = std::move(next);
  }
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::usage, rel + " is not a regular file", "name a file, not a directory or device");
  }
  int fl = ::fcntl(dir.get(), F_GETFL);
  ::fcntl(dir.get(), F_SETFL, fl & ~O_NONBLOCK);
  return dir;
}

Status copy_to_stdout(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read", errno);
    if (n == 0) return {};
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = ::write(1, buf + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno_error("write", errno);
      off += w;
    }
  }
}

std::size_t count_files(const std::string& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}


WorkspaceDecision decide_workspace_removal(const WorkspaceRemoval& in) {
  using Action = WorkspaceDecision::Action;
  if (in.keep_workspace) return {Action::keep, "", ""};
  if (in.force || !in.owned || in.files == 0) return {Action::remove, "", ""};
  const std::string holds = "the workspace of " + in.cell + " holds " + std::to_string(in.files) +
                            (in.files == 1 ? " file" : " files");
  if (in.answer) {
    const std::string& a = *in.answer;
    if (a == "y" || a == "Y" || a == "yes") return {Action::remove, "", ""};
    return {Action::abort, "not removed: " + in.cell + " and its workspace are untouched",
            "brig cell rm " + in.cell + " --keep-workspace (removes the cell, keeps the files)"};
  }
  if (!in.tty) return {Action::refuse, holds, "brig cell rm " + in.cell + " --force (delete it) or --keep-workspace"};
  return {Action::ask, holds + "; delete it?", ""};
}

WorkspaceDecision decide_workspace_removal(WorkspaceRemoval in, const std::string& workspace,
                                           const std::string& brig_workspace) {
  in.owned = workspace == brig_workspace;
  if (!in.keep_workspace && !in.force && in.owned) in.files = count_files(workspace);
  return decide_workspace_removal(in);
}

}  // namespace brig::engine
