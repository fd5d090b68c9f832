// Logging setup. Modules log through spdlog (include <spdlog/spdlog.h> in .cc
// files only); this header only configures the sinks.
#pragma once

namespace brig::log {

enum class Verbosity { quiet, normal, verbose };

struct Options {
  Verbosity verbosity = Verbosity::normal;
  bool color = true;  // further disabled by NO_COLOR or a non-tty stderr
};

// Installs the default logger writing to stderr. Safe to call more than once.
void setup(const Options& opts);

// True when colored output is allowed on stderr under `opts` and the environment.
bool color_enabled(const Options& opts);

}  // namespace brig::log
