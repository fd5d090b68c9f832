#include "brig/state/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "brig/core/fs.h"
#include "brig/core/unique_fd.h"

namespace brig::state {

std::string serialize_event(const Event& e) {
  nlohmann::json j = nlohmann::json::object();
  if (e.extra.is_object()) {
    for (auto it = e.extra.begin(); it != e.extra.end(); ++it) j[it.key()] = it.value();
  }
  j["ts"] = e.ts;
  j["event"] = e.kind;
  if (e.cell.empty()) {
    j.erase("cell");
  } else {
    j["cell"] = e.cell;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Event> parse_event(std::string_view line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, std::string("event line is not JSON: ") + e.what());
  }
  if (!j.is_object()) return Error(Errc::invalid, "event line is not a JSON object");
  Event e;
  for (auto [key, field] : {std::pair{"ts", &e.ts}, std::pair{"event", &e.kind}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      return Error(Errc::invalid, "event line has no string \"" + std::string(key) + "\"");
    }
    *field = it->get<std::string>();
    j.erase(it);
  }
  if (auto it = j.find("cell"); it != j.end()) {
    if (!it->is_string()) return Error(Errc::invalid, "event line has a \"cell\" that is not a string");
    e.cell = it->get<std::string>();
    j.erase(it);
  }
  e.extra = std::move(j);
  return e;
}

std::string rotated_events_path(const std::string& path) { return path + ".1"; }

Status append_event(const Paths& paths, const Event& e) {
  const std::string path = paths.events_log();
  BRIG_TRY(fs::make_dirs(paths.logs_dir(), 0755));
  const std::string line = serialize_event(e) + "\n";
  {
    // One write(2) of one line with O_APPEND: lines of concurrent brig
    // processes never interleave.
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) return errno_error("cannot open " + path, errno);
    std::string_view rest = line;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("cannot append to " + path, errno);
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Keep the history bounded.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) > kEventsMaxBytes) {
    if (::rename(path.c_str(), rotated_events_path(path).c_str()) != 0) {
      return errno_error("cannot rotate " + path, errno);
    }
  }
  return {};
}

Result<std::string> read_events(const Paths& paths) {
  auto text = fs::read_file(paths.events_log(), kMaxEventsReadBytes);
  if (!text && text.error().code() == Errc::not_found) return std::string();
  return text;
}

}  // namespace brig::state
