#include "brig/engine/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/unique_fd.h"
#include "brig/spec/validate.h"

namespace brig::engine {
namespace {

Status check_name(const std::string& name) {
  if (auto why = spec::check_secret_name(name)) {
    return Error(Errc::usage, "invalid secret name " + str::quote(name) + ": " + *why,
                 "use letters, digits, '.', '_' and '-', e.g. openai-key");
  }
  return {};
}

}  // namespace

Status secret_add(const Paths& paths, const std::string& name, const std::string& value) {
  BRIG_TRY(check_name(name));
  if (value.size() > (1u << 20)) return Error(Errc::invalid, "secret is larger than 1 MiB", "store a smaller value");
  BRIG_TRY(fs::make_dirs(paths.secrets_dir(), 0700));
  ::chmod(paths.secrets_dir().c_str(), 0700);
  // The directory itself must not be a symlink planted somewhere else.
  struct stat st {};
  if (::lstat(paths.secrets_dir().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Errc::io, paths.secrets_dir() + " is not a directory", "remove it and retry");
  }
  const std::string tmp = paths.secret("." + name + ".tmp." + std::to_string(::getpid()));
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return errno_error("creating " + tmp, errno);
  std::size_t off = 0;
  while (off < value.size()) {
    ssize_t n = ::write(fd.get(), value.data() + off, value.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return errno_error("writing " + tmp, e);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), paths.secret(name).c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errno_error("storing secret " + name, e);
  }
  return {};
}

Result<std::vector<SecretInfo>> secret_list(const Paths& paths) {
  std::vector<SecretInfo> out;
  for (const auto& n : fs::list_names(paths.secrets_dir(), "")) {
    if (n.empty() || n[0] == '.') continue;
    struct stat st {};
    if (::lstat(paths.secret(n).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({n, static_cast<std::uint64_t>(st.st_size)});
  }
  return out;
}

Status secret_rm(const Paths& paths, const std::string& name, const std::vector<std::string>& running_users, bool force) {
  BRIG_TRY(check_name(name));
  if (!fs::exists(paths.secret(name))) {
    return Error(Errc::not_found, "no secret named " + str::quote(name), "brig secrets list");
  }
  if (!running_users.empty() && !force) {
    return Error(Errc::exists, "secret " + name + " is mounted in running cell(s): " + str::join(running_users, ", "),
                 "stop them first, or brig secrets rm " + name + " --force");
  }
  if (::unlink(paths.secret(name).c_str()) != 0) return errno_error("removing secret " + name, errno);
  return {};
}

}  // namespace brig::engine
