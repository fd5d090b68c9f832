#include "brig/core/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <thread>

namespace brig::fs {
namespace {

std::string dirname_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing " + path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(8, 'x');
  for (auto& c : s) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return s;
}

}  // namespace

Status write_atomic(const std::string& path, std::string_view data, mode_t mode, const Owner* owner) {
  const std::string dir = dirname_of(path);
  std::string tmp;
  unique_fd fd;
  for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
    tmp = path + ".tmp." + random_suffix();
    fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd && errno != EEXIST) return errno_error("creating " + tmp, errno);
  }
  if (!fd) return Error(Errc::io, "creating a temporary file next to " + path + " failed");

  auto fail = [&](Error e) -> Status {
    ::unlink(tmp.c_str());
    return e;
  };
  // Mode is set before the rename so the final name never has looser permissions.
  if (::fchmod(fd.get(), mode) != 0) return fail(errno_error("chmod " + tmp, errno));
  if (owner && ::fchown(fd.get(), owner->uid, owner->gid) != 0) return fail(errno_error("chown " + tmp, errno));
  if (auto st = write_all(fd.get(), data, tmp); !st) return fail(st.error());
  if (::fsync(fd.get()) != 0) return fail(errno_error("fsync " + tmp, errno));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_error("renaming over " + path, errno));
  unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return {};
}

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("reading " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat " + path, errno);
  if (S_ISDIR(st.st_mode)) return Error(Errc::invalid, path + " is a directory, not a file");
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return Error(Errc::invalid, path + " is " + std::to_string(st.st_size) + " bytes; the limit is " +
                                    std::to_string(max_bytes));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("reading " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // The file may grow after fstat: keep the cap honest.
    if (out.size() > max_bytes) {
      return Error(Errc::invalid, path + " is larger than the limit of " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return errno_error("creating " + cur, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Errc::io, path + " exists and is not a directory");
  }
  return {};
}

bool is_under(std::string_view path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_names(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (n.size() > suffix.size() && n.ends_with(suffix)) out.emplace_back(n.substr(0, n.size() - suffix.size()));
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<FileLock> FileLock::acquire(const std::string& path, Mode mode, std::chrono::milliseconds timeout) {
  unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return errno_error("opening lock " + path, errno);
  const int op = (mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    if (::flock(fd.get(), op) == 0) return FileLock(std::move(fd));
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return errno_error("locking " + path, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(Errc::timeout, "timed out waiting for lock " + path,
                   "another brig command holds it; wait for it to finish");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
}

Result<FileLock> FileLock::try_acquire(const std::string& path, Mode mode) {
  unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return errno_error("opening lock " + path, errno);
  const int op = (mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Error(Errc::exists, "lock " + path + " is held by another process");
    return errno_error("locking " + path, errno);
  }
  return FileLock(std::move(fd));
}

}  // namespace brig::fs
