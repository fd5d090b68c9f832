// The start-time check of host sockets (host_sockets.h).
#include "host_sockets.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "brig/core/fs.h"
#include "brig/core/unique_fd.h"
#include "brig/spec/validate.h"

namespace brig::engine {
namespace {

Error refuse(Errc code, const std::string& name, const std::string& why, const std::string& fix) {
  return Error(code, "host socket " + name + ": " + why, fix).with_exit_code(125);
}

// `dir` as the kernel names it (symlinks resolved), or as given when it
// cannot be resolved (then nothing real is inside it anyway).
std::string real_dir(const std::string& dir) {
  char buf[PATH_MAX];
  return ::realpath(dir.c_str(), buf) ? std::string(buf) : dir;
}

}  // namespace

Result<std::string> check_host_socket(const std::string& name, const std::string& host_path,
                                      const std::string& brig_home) {
  const std::string fix_path = "give the socket's real path in host_path (readlink -f " + host_path + ")";
  // O_PATH opens a socket without connecting to it; with O_NOFOLLOW a final
  // symlink either fails (ELOOP) or is itself what is opened (S_ISLNK below).
  unique_fd fd(::open(host_path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) return refuse(Errc::invalid, name, host_path + " is a symlink", fix_path);
    if (err == ENOENT) {
      return refuse(Errc::not_found, name, host_path + " does not exist",
                    "start the service that provides it, or correct host_path");
    }
    return refuse(Errc::io, name, "opening " + host_path + ": " + std::strerror(err), "check host_path");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("host socket " + name + ": fstat " + host_path, errno);
  if (S_ISLNK(st.st_mode)) return refuse(Errc::invalid, name, host_path + " is a symlink", fix_path);
  if (!S_ISSOCK(st.st_mode)) {
    return refuse(Errc::invalid, name, host_path + " is not a unix socket", "give the path of the service's socket");
  }

  // The path the kernel has for this very file: every directory symlink on
  // the way resolved. It must still name this file (not "... (deleted)", not
  // another file moved in since).
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return errno_error("host socket " + name + ": resolving " + host_path + " (" + link + ")", errno);
  const std::string real(buf, static_cast<std::size_t>(n));
  struct stat again {};
  if (real.front() != '/' || ::lstat(real.c_str(), &again) != 0 || again.st_dev != st.st_dev ||
      again.st_ino != st.st_ino) {
    return refuse(Errc::failed, name, host_path + " changed while brig checked it", "try again");
  }
  const std::string said = real == host_path ? host_path : host_path + " resolves to " + real + ", which";
  if (auto engine = spec::engine_socket(real)) {
    return refuse(Errc::invalid, name,
                  said + " is a " + *engine + " engine socket (control of the host): never mounted into a cell",
                  "remove it from host_sockets");
  }
  if (fs::is_under(real, real_dir(brig_home))) {
    return refuse(Errc::invalid, name, said + " is inside brig's own state (" + brig_home + "): never mounted into a cell",
                  "remove it from host_sockets");
  }
  return real;
}

Status recheck_host_sockets(const CellRecord& rec, const std::string& brig_home) {
  for (const auto& s : rec.host_sockets) {
    auto real = check_host_socket(s.name, s.checked_path(), brig_home);
    if (!real && !s.bridge.empty()) {
      // Only the brig on the Mac brings the bridge up.
      return real.error().with_fix("start the cell from the Mac (brig cell start " + rec.name + "): brig there bridges " +
                                   s.host_path + " into the VM");
    }
    if (!real) return real.error();
    if (*real != s.source) {
      return refuse(Errc::invalid, s.name,
                    s.checked_path() + " now resolves to " + *real + ", not to " + s.source + " (what cell " + rec.name +
                        " was created with)",
                    "restore " + s.source + ", or remove the cell (brig cell rm " + rec.name + ") and run it again");
    }
  }
  return {};
}

std::string host_socket_note(const HostSocketRef& s) {
  return "host socket " + s.name + " (" + s.mount_point +
         ") bypasses warden: traffic over it is neither filtered nor logged";
}

}  // namespace brig::engine
