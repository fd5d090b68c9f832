// $BRIG_HOME/logs/events.jsonl: brig's lifecycle history, one JSON object per
// line: {"ts": "2026-12-01T10:00:00Z", "event": "create", "cell": "c1", ...}
// ("cell" absent for system events; any other keys are the event's details).
// The engine appends; `brig system events|history` and `brig cell events` read.
// Past kEventsMaxBytes the file is renamed to events.jsonl.1 (one old file kept).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

struct Event {
  std::string ts;    // RFC 3339, UTC, seconds
  std::string kind;  // "event"
  std::string cell;  // "" for system events
  nlohmann::json extra = nlohmann::json::object();  // the other keys
};

inline constexpr std::size_t kEventsMaxBytes = 4u << 20;
inline constexpr std::size_t kMaxEventsReadBytes = 64u << 20;

// Pure. One line, no newline; keys sorted; invalid UTF-8 replaced. Keys of
// `extra` named ts, event or cell are ignored (the fields win).
std::string serialize_event(const Event& e);
// Pure. Errc::invalid when the line is not a JSON object with string "ts" and
// "event" (and, if present, a string "cell").
Result<Event> parse_event(std::string_view line);
// The rotated file: events.jsonl -> events.jsonl.1.
std::string rotated_events_path(const std::string& path);

// Appends one line (O_APPEND: whole lines from concurrent brig processes),
// then rotates past kEventsMaxBytes. Errc::io when the line could not be written.
Status append_event(const Paths& paths, const Event& e);
// The current file's text ("" when there is none yet).
Result<std::string> read_events(const Paths& paths);

}  // namespace brig::state
