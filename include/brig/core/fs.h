// File helpers: atomic writes, capped reads, advisory locks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/unique_fd.h"

namespace brig::fs {

// Writes `data` to `path` atomically: a temp file in the same directory is
// written, given `mode`, fsync'ed and renamed over `path`; the directory is then
// fsync'ed. Readers see the old or the new content, never a mix. With
// `owner`, the file is given that owner before the rename too (root only).
struct Owner {
  uid_t uid;
  gid_t gid;
};
Status write_atomic(const std::string& path, std::string_view data, mode_t mode = 0644, const Owner* owner = nullptr);

// Reads a whole file, refusing files larger than `max_bytes`.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 16u << 20);

// Creates `path` and its parents (like mkdir -p) with `mode` for new directories.
Status make_dirs(const std::string& path, mode_t mode = 0755);

bool exists(const std::string& path);

// Pure: `path` is `dir` or inside it (both absolute and normalised; by
// components, so /a/bc is not inside /a/b).
bool is_under(std::string_view path, std::string_view dir);

// Names of the entries in `dir` ending in `suffix`, suffix removed, sorted.
// A missing directory has none; "." and ".." are never listed.
std::vector<std::string> list_names(const std::string& dir, std::string_view suffix);

// An advisory lock (flock) held for the lifetime of the object.
class FileLock {
 public:
  enum class Mode { shared, exclusive };

  // Opens (creating if needed) `path` and locks it, waiting at most `timeout`.
  static Result<FileLock> acquire(const std::string& path, Mode mode = Mode::exclusive,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Like acquire but fails at once with Errc::exists when another holder has it.
  static Result<FileLock> try_acquire(const std::string& path, Mode mode = Mode::exclusive);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  ~FileLock() = default;  // closing the fd releases the lock

 private:
  explicit FileLock(unique_fd fd) : fd_(std::move(fd)) {}
  unique_fd fd_;
};

}  // namespace brig::fs
