#include "brig/state/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <map>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/core/unique_fd.h"

namespace brig::state {
namespace {

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// A value as `key=value` shows it; "" when there is nothing to show.
std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.find_first_of(" \t\"=") != std::string::npos) return dump(v);
    return s;
  }
  if ((v.is_array() || v.is_object()) && v.empty()) return "";
  return dump(v);
}

// Seconds since the epoch of an RFC 3339 UTC time, or nullopt.
std::optional<long long> epoch_seconds(const std::string& ts) {
  std::tm tm{};
  const char* end = ::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return std::nullopt;
  return static_cast<long long>(::timegm(&tm));
}

std::optional<int> int_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

std::optional<double> number_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string string_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

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

std::string format_event(const Event& e) {
  char head[128];
  std::snprintf(head, sizeof head, "%-20s  %-9s %s", e.ts.c_str(), e.kind.c_str(), e.cell.empty() ? "-" : e.cell.c_str());
  std::string line = head;
  if (e.extra.is_object()) {
    for (auto it = e.extra.begin(); it != e.extra.end(); ++it) {
      const std::string v = value_text(it.value());
      if (!v.empty()) line += "  " + it.key() + "=" + v;
    }
  }
  return line;
}

std::vector<PastCell> cell_history(std::string_view jsonl) {
  std::vector<PastCell> cells;
  std::map<std::string, std::size_t> current;  // cell -> its entry in `cells`, until rm
  std::map<std::string, std::string> started;  // cell -> time of its last start
  auto entry = [&](const std::string& name) -> PastCell& {
    auto it = current.find(name);
    if (it != current.end()) return cells[it->second];
    cells.push_back(PastCell{name, "", "", "", "", std::nullopt, "", std::nullopt});
    current[name] = cells.size() - 1;
    return cells.back();
  };
  // The end of a run: the first exit, stop or kill after a start. An rm
  // adds what podman knew last where the run's end said less.
  auto end = [&](PastCell& c, const Event& e, const char* reason) {
    if (!c.ended.empty()) return;
    c.ended = e.ts;
    c.exit_code = int_field(e.extra, "exit_code");
    c.reason = string_field(e.extra, "reason");
    if (c.reason.empty() && reason) c.reason = reason;
    c.duration_s = number_field(e.extra, "duration_s");
    if (!c.duration_s) {
      auto from = epoch_seconds(started[c.name]), to = epoch_seconds(e.ts);
      if (from && to && *to >= *from) c.duration_s = static_cast<double>(*to - *from);
    }
  };
  auto removed = [&](PastCell& c, const Event& e) {
    c.removed = e.ts;
    if (e.kind == "rollback" && c.ended.empty()) {
      c.ended = e.ts;
      c.reason = "rolled back";
    }
    if (auto code = int_field(e.extra, "exit_code")) {
      if (c.ended.empty()) c.ended = e.ts;
      if (!c.exit_code) c.exit_code = code;
      if (const std::string r = string_field(e.extra, "reason"); !r.empty() && c.reason != "killed") c.reason = r;
      if (!c.duration_s) c.duration_s = number_field(e.extra, "duration_s");
    }
  };
  for (const auto& line : str::split(jsonl, '\n')) {
    auto e = parse_event(line);
    if (!e || e->cell.empty()) continue;
    const std::string& name = e->cell;
    if (e->kind == "create") {
      if (auto it = current.find(name); it != current.end() && !cells[it->second].image.empty()) current.erase(it);
      PastCell& c = entry(name);
      c.created = e->ts;
      c.image = string_field(e->extra, "image");
    } else if (e->kind == "start") {
      PastCell& c = entry(name);
      started[name] = e->ts;
      c.ended.clear();  // restarted: the run that counts is the last one
      c.exit_code.reset();
      c.reason.clear();
      c.duration_s.reset();
    } else if (e->kind == "exit") {
      end(entry(name), *e, nullptr);
    } else if (e->kind == "kill") {
      end(entry(name), *e, "killed");
    } else if (e->kind == "stop") {
      end(entry(name), *e, "stopped");
    } else if (e->kind == "rm" || e->kind == "rollback") {
      removed(entry(name), *e);
      current.erase(name);
      started.erase(name);
    }
  }
  return cells;
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
