// What the engine's parts (System, Cells) share: the podman client, brig's
// paths, the clock they wait on and the kernel's sysctls.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "brig/core/paths.h"
#include "brig/engine/podman_client.h"
#include "brig/proc/command.h"

namespace brig::engine {

// Time as the engine waits on it: the real clock by default; tests pass one
// that never sleeps.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
};
Clock& real_clock();

// The engine's seams in front of the host besides proc::Runner.
struct HostSeams {
  Clock* clock = nullptr;              // nullptr: real_clock()
  std::string proc_sys = "/proc/sys";  // the kernel's sysctls (IPv6 off on cell bridges)
};

// One doctor (or preflight) line.
struct Check {
  enum class Level { ok, warn, fail };
  Level level = Level::ok;
  std::string name, detail, fix;
};

struct EngineContext {
  EngineContext(proc::Runner& r, Paths p, HostSeams seams)
      : runner(r),
        podman(r),
        paths(std::move(p)),
        clock(seams.clock ? *seams.clock : real_clock()),
        proc_sys(std::move(seams.proc_sys)) {}
  EngineContext(const EngineContext&) = delete;
  EngineContext& operator=(const EngineContext&) = delete;

  // Appends a lifecycle event to logs/events.jsonl. The history is a record of
  // what happened, not part of it: a write error is a warning, never an error.
  void event(const std::string& kind, const std::string& cell, const nlohmann::json& extra = {}) const;

  proc::Runner& runner;  // the other programs: nft, curl, tar, ldd, sha256sum
  Podman podman;
  Paths paths;
  Clock& clock;
  std::string proc_sys;
};

}  // namespace brig::engine
