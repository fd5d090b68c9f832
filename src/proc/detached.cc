// spawn_detached: a child that outlives brig (its own session, no terminal,
// stdio on /dev/null), reaped through a double fork so no zombie is left.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "brig/proc/command.h"

namespace brig::proc {

Status spawn_detached(const Command& cmd) {
  if (cmd.argv.empty()) return Error(Errc::usage, "cannot run an empty command");
  auto path = find_executable(cmd.argv[0]);
  if (!path) return Error(Errc::not_found, cmd.argv[0] + ": command not found");
  std::vector<char*> argv;
  for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store = cmd.env ? *cmd.env : std::vector<std::string>{};
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", errno);
  if (pid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    if (cmd.env) {
      ::execve(path->c_str(), argv.data(), envp.data());
    } else {
      ::execv(path->c_str(), argv.data());
    }
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return {};
}

}  // namespace brig::proc
