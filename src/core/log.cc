#include "brig/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

namespace brig::log {

bool color_enabled(const Options& opts) {
  if (!opts.color) return false;
  if (const char* nc = std::getenv("NO_COLOR"); nc && *nc) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

void setup(const Options& opts) {
  auto mode = color_enabled(opts) ? spdlog::color_mode::always : spdlog::color_mode::never;
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(mode);
  auto logger = std::make_shared<spdlog::logger>("brig", sink);
  logger->set_pattern("%^%l%$: %v");
  switch (opts.verbosity) {
    case Verbosity::quiet: logger->set_level(spdlog::level::err); break;
    case Verbosity::normal: logger->set_level(spdlog::level::info); break;
    case Verbosity::verbose: logger->set_level(spdlog::level::debug); break;
  }
  spdlog::set_default_logger(logger);
}

}  // namespace brig::log
