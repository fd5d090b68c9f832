#include "brig/engine/context.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "brig/core/timefmt.h"
#include "brig/state/events.h"

namespace brig::engine {

Clock& real_clock() {
  struct Real final : Clock {
    std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  };
  static Real real;
  return real;
}

void EngineContext::event(const std::string& kind, const std::string& cell, const nlohmann::json& extra) const {
  state::Event e{timefmt::now_rfc3339(), kind, cell, extra.is_object() ? extra : nlohmann::json::object()};
  // The history is a record of what happened, not part of it: a lifecycle
  // action that succeeded must not fail (or be rolled back) because its event
  // could not be written, so a write error is a warning, never an error.
  if (auto st = state::append_event(paths, e); !st) {
    spdlog::warn("cannot record the {} event in brig's history: {}", kind, st.error().message());
  }
}

}  // namespace brig::engine
