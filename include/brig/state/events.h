// $BRIG_HOME/logs/events.jsonl: brig's lifecycle history, one JSON object per
// line: {"ts": "2026-12-01T10:00:00Z", "event": "create", "cell": "c1", ...}
// ("cell" absent for system events; any other keys are the event's details).
// The engine appends; `brig system events|history` and `brig cell events` read.
// Past kEventsMaxBytes the file is renamed to events.jsonl.1 (one old file kept).
//
// A cell's lifecycle, in the order written: create {image, subnet, runtime},
// start, then one of exit {exit_code, reason?, podman_exit_code?, duration_s}
// (an attached run), stop, kill {signal}; rm {kept_workspace, exit_code?,
// reason?, duration_s?} (the state podman last reported); or rollback
// {error, undone, undo_failed} when a run failed part way. `reason` is
// "timeout" (exit_code 124, as timeout(1)) or "oom" where brig knows it.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// Pure. One readable line, no newline: the time, the event, the cell ("-" for
// a system event), then the other keys as key=value (sorted; empty values
// left out; a string with spaces or quotes JSON-quoted; arrays and objects as
// compact JSON).
std::string format_event(const Event& e);

// One cell's life as events.jsonl tells it (`brig system history`).
struct PastCell {
  std::string name, image;
  std::string created, ended, removed;  // RFC 3339, "" when not (yet) known
  std::optional<int> exit_code;         // when known
  // How it ended, where brig knows more than the exit code: "timeout",
  // "oom", "killed" (brig cell kill), "stopped" (brig cell stop), "rolled
  // back" (brig run failed part way and undid it), or "".
  std::string reason;
  std::optional<double> duration_s;     // how long it ran, when known
};
// Pure. Every cell created in `jsonl`, oldest first; a name reused after rm is
// a new entry. Lines that are not events are skipped. A cell whose create
// was rotated away (or a run rolled back before it) has no created time.
std::vector<PastCell> cell_history(std::string_view jsonl);

// The rotated file: events.jsonl -> events.jsonl.1.
std::string rotated_events_path(const std::string& path);

// Appends one line (O_APPEND: whole lines from concurrent brig processes),
// then rotates past kEventsMaxBytes. Errc::io when the line could not be written.
Status append_event(const Paths& paths, const Event& e);
// The current file's text ("" when there is none yet).
Result<std::string> read_events(const Paths& paths);

}  // namespace brig::state
