// Staging a build context (build_context.h): a walk by directory fd that
// never follows a symlink, copying what the ignore file keeps.
#include "brig/engine/build_context.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/unique_fd.h"

namespace brig::engine {
namespace {

constexpr std::size_t kMaxIgnoreFile = 1u << 20;

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

// "500 MB", "2 GB", "1.5 KB", "100 bytes".
std::string human_size(std::uint64_t n) {
  static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
      {1ull << 30, "GB"}, {1ull << 20, "MB"}, {1ull << 10, "KB"}};
  for (const auto& [unit, name] : kUnits) {
    if (n < unit) continue;
    if (n % unit == 0) return std::to_string(n / unit) + " " + name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", static_cast<double>(n) / static_cast<double>(unit), name);
    return buf;
  }
  return std::to_string(n) + " bytes";
}

// A context's names come from whoever wrote the repository: quoted when they
// hold control characters, so a warning cannot rewrite the terminal.
std::string shown(const std::string& s) {
  const bool plain = std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  return plain ? s : str::quote(s);
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

struct FreeChars {
  void operator()(char* p) const { ::free(p); }
};
struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};
using UniqueChars = std::unique_ptr<char, FreeChars>;
using UniqueDir = std::unique_ptr<DIR, CloseDir>;

Result<std::string> read_link(int dirfd, const std::string& name, const std::string& what) {
  std::string buf(256, '\0');
  while (true) {
    const ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return errno_error("reading the symlink " + what, errno);
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

// Copies at most `size` bytes (the size counted against the limits: a file
// growing meanwhile cannot take the total past them).
Status copy_bytes(int src, int dst, std::uint64_t size, const std::string& what) {
  std::vector<char> buf;  // for filesystems copy_file_range refuses
  for (std::uint64_t left = size; left > 0;) {
    ssize_t n;
    if (buf.empty()) {
      n = ::copy_file_range(src, nullptr, dst, nullptr, left, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        buf.resize(1u << 16);
        continue;
      }
    } else {
      n = ::read(src, buf.data(), std::min<std::uint64_t>(left, buf.size()));
      for (ssize_t done = 0; n > 0 && done < n;) {
        const ssize_t w = ::write(dst, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno_error("copying " + what, errno);
        done += w;
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("copying " + what, errno);
    if (n == 0) break;  // the file shrank since it was counted
    left -= static_cast<std::uint64_t>(n);
  }
  return {};
}

// The ignore file that applies, docker's order: the Containerfile's own
// (FILE.containerignore / FILE.dockerignore) before the context's.
struct IgnoreFile {
  std::string path, name;  // name: what BuildContext::ignore_file reports
};

Result<IgnoreFile> find_ignore_file(const BuildContextOptions& opts) {
  std::vector<IgnoreFile> candidates;
  for (const char* suffix : {".containerignore", ".dockerignore"}) {
    if (!opts.containerfile.empty()) candidates.push_back({opts.containerfile + suffix, opts.containerfile + suffix});
  }
  for (const char* name : {".containerignore", ".dockerignore"}) candidates.push_back({join(opts.dir, name), name});
  for (IgnoreFile& c : candidates) {
    struct stat st {};
    if (::stat(c.path.c_str(), &st) == 0) return std::move(c);
    if (errno != ENOENT && errno != ENOTDIR) return errno_error(c.path, errno);
  }
  return IgnoreFile{};
}

Result<IgnoreMatcher> load_ignore(const IgnoreFile& file) {
  if (file.path.empty()) return IgnoreMatcher();
  auto text = fs::read_file(file.path, kMaxIgnoreFile);
  if (!text) return text.error().context("reading " + file.path);
  auto m = IgnoreMatcher::parse(*text);
  if (!m) return m.error().context(file.path);
  return m;
}

class Stager {
 public:
  Stager(const BuildContextOptions& opts, const IgnoreMatcher& matcher, std::string root, std::string staging,
         const struct stat& staging_st, const std::function<void(const std::string&)>& warn, BuildContext& out)
      : opts_(opts),
        matcher_(matcher),
        root_(std::move(root)),
        given_root_(strip_trailing_slashes(std::filesystem::absolute(opts.dir).lexically_normal().string())),
        staging_(std::move(staging)),
        staging_st_(staging_st),
        warn_(warn),
        out_(out) {}

  // Stages what is kept under the directory `dir` (context-relative `rel`).
  Status walk(unique_fd dir, const std::string& rel) {
    UniqueDir d(::fdopendir(dir.get()));
    if (!d) return errno_error("reading " + join(opts_.dir, rel), errno);
    dir.release();
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d.get())) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    }
    if (errno != 0) return errno_error("reading " + join(opts_.dir, rel), errno);
    std::sort(names.begin(), names.end());  // the same warnings, in the same order, every time

    const int fd = ::dirfd(d.get());
    for (const std::string& name : names) {
      const std::string path = join(rel, name);
      struct stat st {};
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed since it was listed
        return errno_error("reading " + join(opts_.dir, path), errno);
      }
      const bool ignored = matcher_.ignored(path);
      if (S_ISDIR(st.st_mode)) {
        BRIG_TRY(stage_dir(fd, name, path, st, ignored));
      } else if (ignored) {
        continue;
      } else if (S_ISREG(st.st_mode)) {
        BRIG_TRY(stage_file(fd, name, path, st));
      } else if (S_ISLNK(st.st_mode)) {
        BRIG_TRY(stage_link(fd, name, path));
      } else {
        const char* kind = S_ISFIFO(st.st_mode) ? "fifo" : S_ISSOCK(st.st_mode) ? "socket" : "device";
        warn_(std::string("skipped the ") + kind + " " + shown(path) +
              ": a build context holds only files, directories and symlinks");
      }
    }
    return {};
  }

 private:
  // A directory on the way down; made in staging when something in it is staged.
  struct Dir {
    std::string rel;
    mode_t mode;
    bool made;
  };

  std::string dest(const std::string& rel) const { return staging_ + "/" + rel; }

  Status make_pending() {
    for (Dir& d : dirs_) {
      if (d.made) continue;
      // Owner-writable while it is filled; its own mode once it is full.
      if (::mkdir(dest(d.rel).c_str(), 0700) != 0) return errno_error("staging " + d.rel, errno);
      d.made = true;
    }
    return {};
  }

  Status stage_dir(int parent, const std::string& name, const std::string& rel, const struct stat& st, bool ignored) {
    if (st.st_dev == staging_st_.st_dev && st.st_ino == staging_st_.st_ino) return {};  // staging inside the context
    if (ignored && !matcher_.may_reinclude_under(rel)) return {};
    unique_fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return errno_error("opening " + join(opts_.dir, rel), errno);
    // An ignored directory is made only if something in it is re-included.
    dirs_.push_back({rel, static_cast<mode_t>(st.st_mode & 07777), false});
    if (!ignored) BRIG_TRY(make_pending());
    BRIG_TRY(walk(std::move(fd), rel));
    const Dir d = dirs_.back();
    dirs_.pop_back();
    if (d.made && ::chmod(dest(rel).c_str(), d.mode) != 0) return errno_error("staging " + rel, errno);
    return {};
  }

  Status stage_file(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    // Decided on the size alone: a file that would cross the limit is never read.
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (out_.bytes + size > opts_.max_bytes) {
      return Error(
          Errc::invalid, "build context is larger than " + human_size(opts_.max_bytes) + " (at " + shown(rel) + ")",
          "leave out what the image does not need (build outputs, data, caches, .git) with a .containerignore in " +
              opts_.dir);
    }
    if (!warned_ && out_.bytes + size > opts_.warn_bytes) {
      warned_ = true;
      warn_("build context is over " + human_size(opts_.warn_bytes) +
            "; add a .containerignore to leave out what the image does not need");
    }
    // O_NONBLOCK: a fifo swapped in since the stat must not hang the open.
    unique_fd src(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!src) return errno_error("opening " + join(opts_.dir, rel), errno);
    struct stat now {};
    if (::fstat(src.get(), &now) != 0) return errno_error("reading " + join(opts_.dir, rel), errno);
    if (!S_ISREG(now.st_mode) || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
      return Error(Errc::failed, join(opts_.dir, rel) + " changed while the build context was staged", "build again");
    }
    BRIG_TRY(make_pending());
    unique_fd dst(::open(dest(rel).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst) return errno_error("staging " + rel, errno);
    BRIG_TRY(copy_bytes(src.get(), dst.get(), size, join(opts_.dir, rel)));
    if (::fchmod(dst.get(), st.st_mode & 07777) != 0) return errno_error("staging " + rel, errno);
    out_.bytes += size;
    ++out_.files;
    return {};
  }

  // The link's own text, taken from where it sits, stays in the context too:
  // a chain that leaves it and comes back would be staged pointing outside.
  bool text_inside(const std::string& rel, const std::string& target) const {
    namespace stdfs = std::filesystem;
    const stdfs::path t(target);
    const stdfs::path at = t.is_absolute() ? t : stdfs::path(root_) / stdfs::path(rel).parent_path() / t;
    const std::string p = strip_trailing_slashes(at.lexically_normal().string());
    return fs::is_under(p, root_) || fs::is_under(p, given_root_);
  }

  Status stage_link(int dirfd, const std::string& name, const std::string& rel) {
    auto target = read_link(dirfd, name, join(opts_.dir, rel));
    if (!target) return target.error();
    std::string why;
    UniqueChars resolved(::realpath(join(root_, rel).c_str(), nullptr));
    if (!resolved) {
      why = errno == ELOOP ? "it loops"
            : errno == ENOENT || errno == ENOTDIR
                ? "its target does not exist"
                : std::string("its target cannot be resolved (") + std::strerror(errno) + ")";
    } else if (!fs::is_under(resolved.get(), root_) || !text_inside(rel, *target)) {
      why = "it points outside the build context";
    }
    if (!why.empty()) {
      out_.dropped_links.push_back(rel);
      warn_("dropped symlink " + shown(rel) + " -> " + shown(*target) + ": " + why);
      return {};
    }
    BRIG_TRY(make_pending());
    if (::symlink(target->c_str(), dest(rel).c_str()) != 0) return errno_error("staging " + rel, errno);
    staged_links_.emplace_back(rel, *target);
    return {};
  }

 public:
  // The links as staged, judged again inside the staging tree, which only
  // brig writes: the context may have changed under the walk (a directory
  // swapped for a link), so one that now leaves the tree is removed.
  Status recheck_links() {
    UniqueChars staged_root(::realpath(staging_.c_str(), nullptr));
    if (!staged_root) return errno_error("staging directory " + staging_, errno);
    for (const auto& [rel, target] : staged_links_) {
      UniqueChars resolved(::realpath(join(staging_, rel).c_str(), nullptr));
      if (resolved && fs::is_under(resolved.get(), staged_root.get())) continue;
      if (::unlink(join(staging_, rel).c_str()) != 0) return errno_error("unstaging " + rel, errno);
      out_.dropped_links.push_back(rel);
      warn_("dropped symlink " + shown(rel) + " -> " + shown(target) + ": it points outside the build context");
    }
    return {};
  }

 private:
  std::vector<std::pair<std::string, std::string>> staged_links_;

  const BuildContextOptions& opts_;
  const IgnoreMatcher& matcher_;
  const std::string root_;        // realpath of the context
  const std::string given_root_;  // the context as named, made absolute
  const std::string staging_;
  const struct stat staging_st_;
  const std::function<void(const std::string&)>& warn_;
  BuildContext& out_;
  std::vector<Dir> dirs_;
  bool warned_ = false;
};

}  // namespace

Result<BuildContext> assemble_context(const BuildContextOptions& opts, const std::string& staging,
                                      const std::function<void(const std::string&)>& warn) {
  struct stat st {};
  if (::stat(opts.dir.c_str(), &st) != 0) {
    return errno_error("build context " + opts.dir, errno)
        .with_fix("give the directory that holds the files the build copies");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(Errc::invalid, "build context " + opts.dir + " is not a directory",
                 "give the directory that holds the files the build copies");
  }
  UniqueChars root(::realpath(opts.dir.c_str(), nullptr));
  if (!root) return errno_error("build context " + opts.dir, errno);
  struct stat staging_st {};
  if (::stat(staging.c_str(), &staging_st) != 0) return errno_error("staging directory " + staging, errno);

  BuildContext out;
  out.staged = staging;
  auto ignore_file = find_ignore_file(opts);
  if (!ignore_file) return ignore_file.error();
  out.ignore_file = ignore_file->name;
  auto matcher = load_ignore(*ignore_file);
  if (!matcher) return matcher.error();

  unique_fd fd(::open(root.get(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("opening " + opts.dir, errno);
  Stager stager(opts, *matcher, root.get(), staging, staging_st, warn, out);
  BRIG_TRY(stager.walk(std::move(fd), ""));
  BRIG_TRY(stager.recheck_links());
  return out;
}

Result<std::string> find_containerfile(const std::string& dir, const std::string& file_flag) {
  if (!file_flag.empty()) {
    struct stat st {};
    if (::stat(file_flag.c_str(), &st) != 0) {
      return errno_error(file_flag, errno)
          .with_fix("pass -f an existing Containerfile (relative to the current directory)");
    }
    if (!S_ISREG(st.st_mode)) {
      return Error(Errc::invalid, file_flag + " is not a file", "pass -f the Containerfile itself");
    }
    return file_flag;
  }
  for (const char* name : {"Containerfile", "Dockerfile"}) {
    const std::string path = join(dir, name);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
  }
  return Error(Errc::not_found, "no Containerfile or Dockerfile in " + dir,
               "add a Containerfile to " + dir + " or pass -f FILE");
}

}  // namespace brig::engine
