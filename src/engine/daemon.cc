#include "daemon.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/proc/command.h"

namespace brig::engine::daemon {

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool is_process(long pid, const std::string& what) {
  const bool alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  return alive && cmdline_of(pid).find(what) != std::string::npos;
}

std::string cmdline_of(long pid) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  if (!text) return "";
  std::replace(text->begin(), text->end(), '\0', ' ');
  return *text;
}

namespace {
bool serving(const Spec& d) { return d.socket.empty() || is_socket(d.socket); }
}  // namespace

long pid(const Spec& d) {
  auto text = fs::read_file(d.pidfile, 64);
  if (!text) return 0;
  const long p = std::atol(std::string(str::trim(*text)).c_str());
  if (p <= 0) return 0;
  // Ours: one of this $BRIG_HOME (a stale pidfile may name another process).
  const std::string cmd = cmdline_of(p);
  const bool ours = cmd.find(d.verb) != std::string::npos && cmd.find(" --pidfile " + d.pidfile + " ") != std::string::npos;
  return ours ? p : 0;
}

Status start(EngineContext& ctx, const Spec& d, const std::vector<std::string>& argv, const std::string& brig_binary,
             const std::function<bool(long)>& keep, const nlohmann::json& event) {
  if (const long p = pid(d); p > 0) {
    // The same binary (not rebuilt since), serving, and as wanted: keep it.
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(p) + "/exe", ec);
    const auto want = std::filesystem::weakly_canonical(brig_binary, ec);
    if (!ec && exe == want && serving(d) && (!keep || keep(p))) return {};
    BRIG_TRY(stop(ctx, d));
  }
  proc::Command cmd;
  cmd.argv = argv;
  cmd.stdout_file = d.log;
  BRIG_TRY(fs::make_dirs(std::filesystem::path(d.log).parent_path().string(), 0755));
  BRIG_TRY(ctx.runner.spawn_detached(cmd));
  for (int i = 0; i < 150; ++i) {
    if (pid(d) > 0 && serving(d)) {
      ctx.event(d.event + "_start", "", event);
      return {};
    }
    ctx.clock.sleep_for(std::chrono::milliseconds(20));
  }
  auto log = fs::read_file(d.log, 1 << 20);
  std::string last;
  if (log) {
    auto lines = str::split(std::string(str::trim(*log)), '\n');
    if (!lines.empty()) last = "; its log: " + lines.back();
  }
  return Error(Errc::timeout, d.what + " did not start within 3 s" + last, "see " + d.log);
}

Status stop(EngineContext& ctx, const Spec& d) {
  const long p = pid(d);
  if (p > 0) {
    if (::kill(static_cast<pid_t>(p), SIGTERM) != 0) return errno_error("stopping " + d.what + " (pid " + std::to_string(p) + ")", errno);
    for (int i = 0; i < d.grace_ms / 20 && pid(d) == p; ++i) ctx.clock.sleep_for(std::chrono::milliseconds(20));
    if (pid(d) == p) {
      ::kill(static_cast<pid_t>(p), SIGKILL);
      for (int i = 0; i < 50 && pid(d) == p; ++i) ctx.clock.sleep_for(std::chrono::milliseconds(20));
      if (pid(d) == p) return Error(Errc::failed, d.what + " (pid " + std::to_string(p) + ") does not stop");
    }
    ctx.event(d.event + "_stop", "");
  }
  if (!d.socket.empty() && is_socket(d.socket)) ::unlink(d.socket.c_str());
  ::unlink(d.pidfile.c_str());
  return {};
}

}  // namespace brig::engine::daemon
