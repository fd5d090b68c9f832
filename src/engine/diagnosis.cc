#include "diagnosis.h"

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

}  // namespace brig::engine
