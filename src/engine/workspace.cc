#include "brig/engine/workspace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "brig/core/strings.h"

namespace brig::engine {

namespace {

// `rel` as path components under the workspace (relative, or absolute under
// its mount): ".." refused, "" and "." dropped, none refused.
Result<std::vector<std::string>> workspace_parts(const std::string& rel, const std::string& mount, const std::string& name) {
  std::string path = rel;
  if (!mount.empty() && (path == mount || path.rfind(mount + "/", 0) == 0)) {
    path = path.substr(mount.size());
  } else if (!path.empty() && path.front() == '/') {
    return Error(Errc::usage, "path " + str::quote(rel) + " is outside the workspace (" + mount + ")",
                 "name a file relative to the workspace, or under " + mount);
  }
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
  return parts;
}

Error not_followed(const std::string& so_far) {
  return Error(Errc::usage, so_far + " is a symlink or not a directory; brig does not follow links out of a workspace",
               "read the link's target path instead");
}

}  // namespace

Result<unique_fd> open_in_workspace(const std::string& workspace, const std::string& rel, const std::string& mount,
                                    const std::string& cell) {
  const std::string name = cell.empty() ? "CELL" : cell;
  auto split = workspace_parts(rel, mount, name);
  if (!split) return split.error();
  const auto& parts = *split;
  unique_fd dir(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return errno_error("opening workspace " + workspace, errno);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
    unique_fd next(::openat(dir.get(), parts[i].c_str(), flags));
    if (!next) {
      int e = errno;
      const std::string so_far = str::join(std::vector<std::string>(parts.begin(), parts.begin() + static_cast<long>(i) + 1), "/");
      if (e == ELOOP || (e == ENOTDIR && !last)) return not_followed(so_far);
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

Status write_in_workspace(const std::string& workspace, const std::string& rel, std::string_view data,
                          const std::string& mount, const std::string& cell) {
  auto split = workspace_parts(rel, mount, cell.empty() ? "CELL" : cell);
  if (!split) return split.error();
  const auto& parts = *split;
  unique_fd dir(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return errno_error("opening workspace " + workspace, errno);
  struct stat owner {};
  if (::fstat(dir.get(), &owner) != 0) return errno_error("stat " + workspace, errno);
  // Directories first: each opened without following a link, made (owned like
  // the workspace, so the cell's user can use it) when missing.
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string so_far = str::join(std::vector<std::string>(parts.begin(), parts.begin() + static_cast<long>(i) + 1), "/");
    unique_fd next(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next && errno == ENOENT) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) return errno_error("creating " + so_far, errno);
      (void)::fchownat(dir.get(), parts[i].c_str(), owner.st_uid, owner.st_gid, AT_SYMLINK_NOFOLLOW);
      next = unique_fd(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!next) {
      if (errno == ELOOP || errno == ENOTDIR) return not_followed(so_far);
      return errno_error("opening " + so_far, errno);
    }
    dir = std::move(next);
  }
  // The name itself: refused as a read would refuse it (a symlink, not a
  // regular file). Then a new file beside it is renamed over it, so a link
  // planted after this check is replaced, never followed.
  struct stat target {};
  if (::fstatat(dir.get(), parts.back().c_str(), &target, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(target.st_mode)) return not_followed(str::join(parts, "/"));
    if (!S_ISREG(target.st_mode)) return Error(Errc::usage, rel + " is not a regular file", "name a file, not a directory or device");
  }
  // Unique per write: the API writes from several threads at once.
  static std::atomic<unsigned> writes{0};
  const std::string tmp = ".brig-write-" + std::to_string(::getpid()) + "-" + std::to_string(++writes) + "-" + parts.back();
  unique_fd f(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f) return errno_error("creating " + rel, errno);
  auto fail = [&](const std::string& what) {
    Error e = errno_error(what + " " + rel, errno);
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return e;
  };
  for (std::size_t off = 0; off < data.size();) {
    ssize_t w = ::write(f.get(), data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail("writing");
    off += static_cast<std::size_t>(w);
  }
  (void)::fchown(f.get(), owner.st_uid, owner.st_gid);
  if (::fsync(f.get()) != 0) return fail("writing");
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), parts.back().c_str()) != 0) {
    return fail("replacing");
  }
  return {};
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
