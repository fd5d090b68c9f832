#include "diagnosis.h"

#include "brig/core/strings.h"

namespace brig::engine {

std::string diagnose(const std::string& out, int exit_code, const CellRecord& rec) {
  auto has = [&](const char* s) { return out.find(s) != std::string::npos; };
  std::string why;
  if (has("Read-only file system")) {
    why = "the root filesystem is read-only: write to " + rec.workspace_mount +
          ", /tmp or /run, or set writable_rootfs: true (profile dev)";
  } else if (has("\"bash\"") || (has("bash") && (has("not found") || has("No such file")))) {
    why = "this image has no bash (busybox, alpine and minimal images): use sh";
  } else if (exit_code == 127 || has("executable file not found") || has("not found")) {
    why = "the command does not exist in the image: check the command and the image's PATH";
  } else if (exit_code == 126 || has("Permission denied")) {
    why = "the command is not executable (and /tmp, /run are noexec)";
  } else if (exit_code == 137) {
    why = "the cell was killed (out of memory?): raise --memory";
  }
  return why.empty() ? std::string() : "diagnosis: " + why + "\n";
}

namespace {

// The text between the first `open` after `marker` and the next `close`.
std::string between(const std::string& s, const std::string& marker, char open, char close) {
  auto at = s.find(marker);
  if (at == std::string::npos) return "";
  auto a = s.find(open, at + marker.size());
  if (a == std::string::npos) return "";
  auto b = s.find(close, a + 1);
  return b == std::string::npos ? "" : s.substr(a + 1, b - a - 1);
}

// runsc's own words: the last "a: b: c" segment of its first line.
std::string runsc_reason(const std::string& err) {
  std::string line = err.substr(0, err.find('\n'));
  for (const char* lead : {"starting container: ", "starting root container: ", "starting sandbox: ",
                           "creating process: ", "Error: "}) {
    if (line.rfind(lead, 0) == 0) line = line.substr(std::string(lead).size());
  }
  return line;
}

}  // namespace

const std::vector<std::string>& start_failure_prefixes() {
  static const std::vector<std::string> p = {"starting container: ", "Error: unable to start container ",
                                             "Error: OCI runtime error"};
  return p;
}

Error start_failure(const std::string& err, const CellRecord& rec) {
  const std::string cell = "cell " + rec.name + " did not start: ";
  // runsc: error finding executable "X" in PATH [/a /b]: no such file or directory
  std::string exe = between(err, "error finding executable", '"', '"');
  if (!exe.empty()) {
    const std::string path = between(err, "in PATH", '[', ']');
    return Error(Errc::failed, cell + "the command " + str::quote(exe) + " is not in the image" +
                                   (path.empty() ? "" : " (PATH " + path + ")"),
                 exe == "bash" ? "this image has no bash (busybox, alpine and minimal images): use sh"
                               : "check the command's name, or give its full path")
        .with_exit_code(127);
  }
  // runsc: failed to load /x: no such file or directory | permission denied
  auto load = err.find("failed to load ");
  if (load != std::string::npos) {
    auto rest = err.substr(load + 15);
    rest = rest.substr(0, rest.find('\n'));
    std::string file = rest.substr(0, rest.find(':'));
    if (rest.find("no such file") != std::string::npos) {
      return Error(Errc::failed, cell + str::quote(file) + " does not exist in the image",
                   "check the command's path")
          .with_exit_code(127);
    }
    return Error(Errc::failed, cell + str::quote(file) + " cannot be executed (" +
                                   std::string(str::trim(rest.substr(rest.find(':') + 1))) + ")",
                 "give a program: a directory, or a file without the execute bit, cannot run")
        .with_exit_code(126);
  }
  std::string why = diagnose(err, 125, rec);
  return Error(Errc::failed, cell + runsc_reason(err),
               why.empty() ? "brig system doctor" : std::string(str::trim(why.substr(why.find(':') + 1))))
      .with_exit_code(125);
}

}  // namespace brig::engine
