// What every CLI noun file shares: global options and the chosen action.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <vector>
#include <string>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::engine {
struct Check;
}

namespace brig::cli {

enum class Format { text, json };

struct Context {
  bool quiet = false;
  bool verbose = false;
  bool no_color = false;
  std::string format = "text";
  Paths paths = Paths::from_env();
  // Set by the callback of the verb that was parsed; returns the exit code.
  std::function<Result<int>()> action;

  bool json() const { return format == "json"; }
};

// "brig cell list" for a parsed subcommand.
std::string command_path(const CLI::App* app);

// Sets `verb`'s action.
void on_run(CLI::App* verb, Context& ctx, std::function<Result<int>()> fn);

// Nouns: each file adds its subtree to the root.
void add_run(CLI::App& root, Context& ctx);
void add_cell(CLI::App& root, Context& ctx);
void add_image(CLI::App& root, Context& ctx);
void add_system(CLI::App& root, Context& ctx);
void add_policy(CLI::App& root, Context& ctx);
void add_secrets(CLI::App& root, Context& ctx);
void add_config(CLI::App& root, Context& ctx);
void add_vm(CLI::App& root, Context& ctx);
void add_warden(CLI::App& root, Context& ctx);
void add_api(CLI::App& root, Context& ctx);
void add_pool(CLI::App& root, Context& ctx);

}  // namespace brig::cli

namespace brig::cli {

// `brig run [flags] IMAGE [CMD...]`: CLI11 cannot tell brig's flags from the
// command's, so the image and command are split off before parsing. A brig
// flag between the image and "--" is a usage error (it would otherwise be
// passed to the container silently).
struct RunTail {
  std::optional<std::string> image;
  std::vector<std::string> command;
  bool has_command = false;
};
Result<std::vector<std::string>> split_run_tail(const std::vector<std::string>& args, RunTail& tail);
RunTail& run_tail();

// What the macOS thin client reads of a `brig run` before forwarding it (the
// host-socket bridges its --file needs), with run's own flag table. Flags
// that do not parse are left to the brig in the VM to report.
struct RunArgs {
  std::optional<std::string> file, name;
  bool detach = false, rm = false, dry_run = false;
};
RunArgs scan_run_args(const std::vector<std::string>& args);

}  // namespace brig::cli

namespace brig::cli {

// The macOS thin client: runs `brig ARGS` inside the VM by exec'ing
// `limactl shell brig -- BRIG_HOME=... brig ARGS`; returns only on failure
// (limactl missing, VM absent or not running, exec failed). src/cli/vm.cc.
Result<int> forward_to_vm(const std::vector<std::string>& args, const Paths& paths);

// `brig policy validate FILE`, shared with `brig warden policy validate`.
Result<int> policy_validate(const std::string& file);

// `brig warden stats` (also `brig system stats`): per-cell figures from /metrics.
Result<int> warden_stats(const Context& ctx);

// The running brig binary (for the warden image).
std::string self_binary();

// Prints doctor/preflight lines ([OK]/[WARN]/[FAIL] + fix:); 1 if any failed.
int print_checks(const Context& ctx, const std::vector<engine::Check>& checks);

}  // namespace brig::cli
