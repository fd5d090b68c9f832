// brig policy validate|show|test|set|rm|suggest — over module policy.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/policy/effective.h"
#include "brig/policy/policy.h"
#include "brig/policy/suggest.h"
#include "brig/policy/target.h"
#include "brig/spec/json.h"
#include "brig/spec/merge.h"
#include "brig/spec/validate.h"
#include "brig/state/cell_logs.h"
#include "brig/state/cell_policy.h"
#include "brig/state/host_services.h"
#ifndef BRIG_CLIENT_ONLY
#include "brig/engine/engine.h"
#include "brig/proc/command.h"
#endif
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {
namespace {

// Reads a policy document; a missing default global file is an empty policy.
Result<spec::PolicyBlock> read_policy(const std::string& path, bool missing_ok) {
  auto text = fs::read_file(path, policy::kMaxPolicyBytes);
  if (!text) {
    if (missing_ok && text.error().code() == Errc::not_found) return spec::PolicyBlock{};
    return text.error();
  }
  return policy::parse_document(*text, path);
}

// The inputs of policy::effective, read from files: the same function warden
// calls on the same files, so `policy test|show` and warden agree.
struct Sources {
  spec::PolicyBlock global;
  std::optional<spec::PolicyBlock> cell;
  bool airgapped = false;  // a cell yaml's profile (a cell's policy file says so itself)
  std::string cell_name;
  // Time-boxed grants are judged now, as warden judges them.
  std::int64_t now = timefmt::now_seconds();

  Result<policy::EffectivePolicy> effective() const {
    return policy::effective(global, cell ? &*cell : nullptr, cell_name, {airgapped, now});
  }
};

Result<Sources> load_sources(const Context& ctx, const std::string& policy_file, const std::string& cell_file,
                                 const std::string& cell) {
  Sources e;
  auto g = policy_file.empty() ? read_policy(ctx.paths.global_policy(), true) : read_policy(policy_file, false);
  if (!g) return g.error();
  e.global = std::move(*g);
  if (!cell_file.empty()) {
    auto s = read_cell_file(cell_file);
    if (!s) return s.error();
    if (s->policy.has()) {
      if (auto d = spec::validate_policy(*s->policy, "policy"); !d.empty()) return spec::to_error(d);
      e.cell = *s->policy;
    }
    e.airgapped = s->profile.value_or("") == "airgapped";
    e.cell_name = s->name.value_or("");
  } else if (!cell.empty()) {
    // Through its owner, as warden reads it.
    auto text = spec::check_cell_name(cell) ? Result<std::string>(Error(Errc::not_found, cell))
                                            : state::read_cell_policy(ctx.paths, cell);
    if (!text) {
      if (text.error().code() == Errc::not_found) {
        return Error(Errc::not_found, "no policy for cell " + str::quote(cell), "check the name with: brig cell list");
      }
      return text.error();
    }
    auto c = policy::parse_document(*text, ctx.paths.cell_policy(cell));
    if (!c) return c.error();
    e.cell = std::move(*c);
    e.cell_name = cell;
  }
  return e;
}

// " (14m left)" after a time-boxed grant's display (which ends "until
// <time>"), judged at `now`; "" for any other rule.
std::string time_left(const policy::CompiledRule& r, std::int64_t now) {
  return r.expires ? " (" + timefmt::short_span(r.expires - now) + " left)" : "";
}

Result<int> do_validate(const std::string& file) {
  auto block = read_policy(file, false);
  if (!block) return block.error();
  auto compiled = policy::Policy::compile(*block, nullptr);
  if (!compiled) return compiled.error();
  std::printf("%s: valid (%zu allow, %zu deny, %zu tls_passthrough rules)\n", file.c_str(), compiled->allow_count(),
              compiled->deny_count(), block->tls_passthrough.size());
  return 0;
}

// Whether `cell` runs untrusted (engine::is_untrusted).
Result<bool> cell_untrusted(const Context& ctx, const std::string& cell) {
#ifdef BRIG_CLIENT_ONLY
  (void)ctx;
  return Error(Errc::unavailable, "cannot tell whether cell " + cell + " is untrusted in the client-only build",
               "unset BRIG_PLATFORM so brig forwards it to the VM");
#else
  static proc::PosixRunner runner;
  engine::Engine e(runner, ctx.paths);
  auto rec = e.load_record(cell);
  if (!rec) return rec.error();
  return engine::is_untrusted(*rec);
#endif
}

// The passthrough rules of a cell spec (spec::check_passthrough), applied to
// the edited policy: the same validator, so `policy set --passthrough` cannot
// create what `brig run` would refuse.
Status check_cell_passthrough(const Context& ctx, const std::string& cell, const spec::PolicyBlock& block) {
  if (block.tls_passthrough.empty()) return {};
  auto untrusted = cell_untrusted(ctx, cell);
  if (!untrusted) return untrusted.error();
  const auto diags = spec::check_passthrough(block, "", *untrusted);
  if (diags.empty()) return {};
  std::string msg;
  for (const auto& d : diags) msg += (msg.empty() ? "" : "\n") + ("cell " + cell + ": " + d.field + ": " + d.message);
  if (*untrusted) return Error(Errc::invalid, msg, "run it again without --passthrough");
  // The first offending host, for a command that fixes it.
  const auto& f = diags.front().field;
  const std::size_t i = std::stoul(f.substr(f.find('[') + 1));
  const std::string host = block.tls_passthrough.at(i).domain;
  if (diags.front().message.find("not covered") != std::string::npos) {
    return Error(Errc::invalid, msg, "brig policy set " + cell + " --allow " + host + " --passthrough " + host);
  }
  return Error(Errc::invalid, msg, "brig policy set " + cell + " --remove " + host + " --allow " + host + " --passthrough " + host);
}

// The hosts given to `policy set`, judged as flags (spec::check_policy_host)
// before the cell's file is touched: an error names the flag, never a line of
// a file the user did not write. Every bad value at once; the fix is the same
// command corrected when each has one answer.
Status check_set_flags(const std::string& cell, const std::vector<std::string>& allow,
                       const std::vector<std::string>& deny, const std::vector<std::string>& pass,
                       const std::vector<std::string>& remove) {
  if (spec::check_cell_name(cell)) return {};  // edit_cell_policy refuses the name
  std::string msg, fix = "brig policy set " + cell;
  bool fixable = true;
  auto judge = [&](const char* flag, const std::vector<std::string>& values, spec::PolicyList list) {
    for (const auto& v : values) {
      auto why = spec::check_policy_host(v, list, flag);
      if (why) {
        msg += (msg.empty() ? "" : "\n") + std::string(flag) + ": " + why->message;
        fixable = fixable && !why->corrected.empty();
      }
      fix += std::string(" ") + flag + " " + (why ? why->corrected : v);
    }
  };
  judge("--allow", allow, spec::PolicyList::allow);
  judge("--deny", deny, spec::PolicyList::deny);
  judge("--passthrough", pass, spec::PolicyList::tls_passthrough);
  if (msg.empty()) return {};
  for (const auto& r : remove) fix += " --remove " + r;
  return Error(Errc::usage, msg, fixable ? fix : "brig policy set --help");
}

// `policy set --host-service|--remove-host-service`: the engine's, live.
Status set_host_services(const Context& ctx, const std::string& cell, const std::vector<spec::HostService>& parsed,
                         const std::vector<std::string>& remove) {
#ifdef BRIG_CLIENT_ONLY
  (void)ctx;
  (void)cell;
  (void)parsed;
  (void)remove;
  return Error(Errc::unavailable, "host services are set inside the VM", "unset BRIG_PLATFORM so brig forwards it to the VM");
#else
  static proc::PosixRunner runner;
  engine::Engine e(runner, ctx.paths);
  auto now = e.cells().set_host_services(cell, parsed, remove);
  if (!now) return now.error();
  if (ctx.quiet) return {};
  for (const auto& r : remove) std::printf("host service %s removed\n", r.c_str());
  for (const auto& h : parsed) {
    std::printf("host service %s: %s -> this host's port %d\n", h.name.c_str(),
                state::host_service_url({h.name, h.port, h.protocol}).c_str(), h.port);
  }
  std::printf("cell %s: %zu host service%s (live now)\n", cell.c_str(), now->size(), now->size() == 1 ? "" : "s");
  return {};
#endif
}

// Read-modify-write of policy/cells/<cell>.json under the state lock (by its
// owner, state/cell_policy.h); the new document must parse, compile and keep
// the spec's passthrough rules, or the file stays as it was.
Result<int> edit_cell_policy(const Context& ctx, const std::string& cell, std::int64_t now,
                             const std::function<Status(nlohmann::json&)>& change,
                             const std::function<void()>& report = {}) {
  if (auto why = spec::check_cell_name(cell)) return Error(Errc::usage, *why, "check the name with: brig cell list --all");
  std::size_t allow = 0, deny = 0, passthrough = 0;
  auto check = [&](const std::string& text, const std::string& path) -> Status {
    auto doc = policy::check_document(text, path, now);
    if (!doc) return doc.error();
    BRIG_TRY(check_cell_passthrough(ctx, cell, doc->block));
    allow = doc->allow;
    deny = doc->deny;
    passthrough = doc->block.tls_passthrough.size();
    return {};
  };
  BRIG_TRY(state::edit_cell_policy(ctx.paths, cell, change, check));
  if (!ctx.quiet) {
    if (report) report();
    std::printf("cell %s: %zu allow, %zu deny, %zu tls_passthrough rules (warden reloads within 1 s)\n", cell.c_str(),
                allow, deny, passthrough);
  }
  return 0;
}

}  // namespace

void add_policy(CLI::App& root, Context& ctx) {
  auto* noun = root.add_subcommand("policy", "egress policy: validate, show, test, set, rm, suggest");

  static std::string validate_file;
  auto* validate = noun->add_subcommand("validate", "check a policy file (JSON or YAML)");
  validate->add_option("FILE", validate_file, "policy file")->required();
  on_run(validate, ctx, [] { return do_validate(validate_file); });

  static std::string test_target, test_method, test_policy, test_file, test_cell;
  auto* test = noun->add_subcommand("test", "would warden allow this? TARGET is a URL or host[:port]");
  test->add_option("TARGET", test_target, "https://host/path, http://host:8080/x, or host[:port]")->required();
  test->add_option("--method", test_method, "HTTP method (default GET for URLs)");
  test->add_option("--policy", test_policy, "global policy file (default $BRIG_HOME/policy/network-policy.json)");
  test->add_option("-f,--file", test_file, "a cell yaml whose policy: block applies too");
  test->add_option("--cell", test_cell, "a running cell whose policy applies too");
  test->footer("Exit status: 0 allow, 1 deny, 2 usage or invalid policy.");
  on_run(test, ctx, [&ctx]() -> Result<int> {
    if (!test_file.empty() && !test_cell.empty()) {
      return Error(Errc::usage, "--file and --cell are exclusive", "give one of them");
    }
    auto target = policy::parse_target(test_target);
    if (!target) return target.error();
    auto src = load_sources(ctx, test_policy, test_file, test_cell);
    if (!src) return src.error();
    auto eff = src->effective();
    if (!eff) return eff.error();
    std::string method = test_method;
    if (method.empty() && !target->connect_only) method = "GET";
    if (!method.empty() && target->connect_only) {
      return Error(Errc::usage, "--method needs a URL target", "write https://" + test_target + "/path");
    }
    const auto v = eff->policy.evaluate({target->host, target->port, method, target->path});
    if (ctx.json()) {
      // "resolves": whether the cell's resolver (warden) answers the name
      // with its address rather than NXDOMAIN.
      nlohmann::json j = {{"decision", v.allowed() ? "allow" : "deny"},
                          {"rule", std::string(v.rule)},
                          {"reason", std::string(policy::reason_text(v.reason))},
                          {"resolves", eff->policy.evaluate_name(target->host).allowed()}};
      std::cout << j.dump() << "\n";
    } else if (v.allowed()) {
      // The matching rule reads "allow HOST ... (FILE:LINE)": the decision is its first word.
      const bool says_allow = v.rule.substr(0, 6) == "allow ";
      std::string left;  // a time-boxed grant: how long it still allows this
      for (const auto& r : eff->policy.allow_rules()) {
        if (r.display == v.rule) left = time_left(r, src->now);
      }
      std::printf("%s%.*s%s\n", says_allow ? "" : "allow ", static_cast<int>(v.rule.size()), v.rule.data(),
                  left.c_str());
    } else {
      const auto reason = policy::reason_text(v.reason);
      std::printf("deny %.*s", static_cast<int>(reason.size()), reason.data());
      if (v.reason == policy::Reason::denied_by_rule) std::printf(" (%.*s)", static_cast<int>(v.rule.size()), v.rule.data());
      std::printf("\n");
      if (auto fix = policy::fix_for(v, src->cell_name, target->host, target->port)) std::printf("fix: %s\n", fix->c_str());
    }
    return v.allowed() ? 0 : 1;
  });

  static std::string show_cell, show_policy;
  auto* show = noun->add_subcommand("show", "print the effective policy (global, or global + CELL)");
  show->add_option("CELL", show_cell, "a cell name");
  show->add_option("--policy", show_policy, "global policy file");
  on_run(show, ctx, [&ctx]() -> Result<int> {
    auto src = load_sources(ctx, show_policy, "", show_cell);
    if (!src) return src.error();
    auto eff = src->effective();
    if (!eff) return eff.error();
    // The cell's host services, as warden's table has them now.
    std::vector<state::HostServiceEntry> services;
    if (!show_cell.empty()) {
      auto table = state::load_host_services(ctx.paths);
      if (!table) return table.error();
      if (auto it = table->find(show_cell); it != table->end()) services = it->second.services;
    }
    if (ctx.json()) {
      nlohmann::json j = {{"global", spec::to_json(policy::in_force(src->global, src->now))}};
      if (src->cell) j["cell"] = spec::to_json(policy::in_force(*src->cell, src->now));
      j["rate_limit"] = eff->rate ? nlohmann::json{{"rate", eff->rate->rate}, {"burst", eff->rate->burst}} : nullptr;
      if (!show_cell.empty()) {
        j["host_services"] = nlohmann::json::array();
        for (const auto& h : services) j["host_services"].push_back({{"name", h.name}, {"port", h.port}, {"protocol", h.protocol}});
      }
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    const auto& compiled = eff->policy;
    if (compiled.airgapped()) std::printf("airgapped: everything is denied\n");
    else if (compiled.allow_count() == 0) std::printf("no allow rules: everything is denied (default deny)\n");
    for (const auto& r : compiled.deny_rules()) std::printf("%s\n", r.display.c_str());
    for (const auto& r : compiled.allow_rules()) {
      std::printf("%s%s\n", r.display.c_str(), time_left(r, src->now).c_str());
    }
    // What warden enforces for the cell (policy::resolve_rate).
    if (eff->rate) std::printf("rate limit: %g requests/s, burst %g\n", eff->rate->rate, eff->rate->burst);
    else std::printf("rate limit: none\n");
    for (const auto& h : services) {
      std::printf("host service %s: %s -> this host's port %d\n", h.name.c_str(), state::host_service_url(h).c_str(), h.port);
    }
    return 0;
  });

  static std::string set_cell, set_ttl;
  static std::vector<std::string> add_allow, add_deny, add_pass, remove, add_service, remove_service;
  auto* set = noun->add_subcommand("set", "change a running cell's egress rules (warden reloads within 1 s)");
  set->add_option("CELL", set_cell, "cell name")->required();
  set->add_option("--allow", add_allow, "allow DOMAIN[:PORT] (repeatable)");
  set->add_option("--ttl", set_ttl, "the --allow rules lapse after DURATION (15m, 2h, 1d; warden enforces it)");
  set->add_option("--deny", add_deny, "deny DOMAIN (repeatable)");
  set->add_option("--passthrough", add_pass, "pass TLS to DOMAIN uninspected (must also be allowed)");
  set->add_option("--remove", remove, "remove every rule naming DOMAIN (repeatable)");
  set->add_option("--host-service", add_service, "let the cell reach NAME.host.brig: this host's PORT (http, or /tcp)")
      ->type_name("NAME:PORT[/tcp]");
  set->add_option("--remove-host-service", remove_service, "take host service NAME away (repeatable)")->type_name("NAME");
  on_run(set, ctx, [&ctx]() -> Result<int> {
    std::int64_t ttl_seconds = 0;
    if (!set_ttl.empty()) {
      const std::string hosts = add_allow.empty() ? " --allow HOST" : " --allow " + str::join(add_allow, " --allow ");
      const auto ttl = spec::parse_duration(set_ttl);
      if (!ttl || *ttl == 0) {
        return Error(Errc::usage, "invalid --ttl " + str::quote(set_ttl) + "; give a positive duration such as 90s, 15m, 2h or 1d",
                     "brig policy set " + set_cell + hosts + " --ttl 15m");
      }
      if (add_allow.empty()) {
        return Error(Errc::usage, "--ttl limits the --allow rules of the same command, and there are none",
                     "brig policy set " + set_cell + hosts + " --ttl " + set_ttl);
      }
      ttl_seconds = static_cast<std::int64_t>(*ttl);
    }
    const bool egress = !add_allow.empty() || !add_deny.empty() || !add_pass.empty() || !remove.empty();
    if (!egress && add_service.empty() && remove_service.empty()) {
      return Error(Errc::usage, "nothing to change", "brig policy set " + set_cell + " --allow HOST");
    }
    BRIG_TRY(check_set_flags(set_cell, add_allow, add_deny, add_pass, remove));
    std::vector<spec::HostService> services;
    for (const auto& a : add_service) {
      auto h = spec::parse_host_service_flag(a, false);  // the engine checks the cell's profile
      if (!h) return h.error();
      services.push_back(std::move(*h));
    }
    // The egress rules first (refused whole, before anything changes), then
    // the host services (the engine's checks, then the change).
    const bool has_services = !services.empty() || !remove_service.empty();
    auto host_services = [&]() -> Result<int> {
      BRIG_TRY(set_host_services(ctx, set_cell, services, remove_service));
      return 0;
    };
    if (!egress) return host_services();
    const std::int64_t now = timefmt::now_seconds();
    state::PolicyEdit edit;
    for (const auto& h : add_allow) edit.allow.push_back({h, {}, {}});
    edit.deny = add_deny;
    edit.passthrough = add_pass;
    edit.remove = remove;
    if (ttl_seconds) edit.allow_expires = now + ttl_seconds;
    state::PolicyEditResult done;
    auto report = [&] {
      using What = state::AllowOutcome::What;
      for (const auto& o : done.allow) {
        const char* host = o.rule.domain.c_str();
        if (o.what == What::kept_permanent) {
          std::printf("allow %s: already allowed without a time limit (kept)\n", host);
        } else if (o.what == What::made_permanent) {
          std::printf("allow %s: now without a time limit\n", host);
        } else if (o.expires && (o.what == What::added || o.what == What::renewed)) {
          std::printf("allow %s until %s (%s)\n", host, timefmt::rfc3339(*o.expires).c_str(), set_ttl.c_str());
        }
      }
      if (done.lapsed) std::printf("dropped %zu lapsed time-boxed rule%s\n", done.lapsed, done.lapsed == 1 ? "" : "s");
    };
    auto rc = edit_cell_policy(
        ctx, set_cell, now,
        [&](nlohmann::json& j) -> Status {
          auto r = state::apply_policy_edit(j, set_cell, edit, now);
          if (!r) return r.error();
          done = std::move(*r);
          return {};
        },
        report);
    if (!rc || *rc != 0 || !has_services) return rc;
    return host_services();
  });
  static std::string rm_cell;
  auto* rm = noun->add_subcommand("rm", "remove a cell's own rules (the global policy still applies)");
  rm->add_option("CELL", rm_cell, "cell name")->required();
  on_run(rm, ctx, [&ctx]() -> Result<int> {
    return edit_cell_policy(ctx, rm_cell, timefmt::now_seconds(), [](nlohmann::json& j) -> Status {
      state::clear_cell_policy(j);
      return {};
    });
  });

  static std::string sg_cell, sg_since = "1h", sg_format;
  static bool sg_apply = false, sg_yes = false;
  auto* suggest = noun->add_subcommand("suggest", "the allow rules that would have let a cell's logged denials through");
  suggest->add_option("CELL", sg_cell, "cell name")->required();
  suggest->add_option("--since", sg_since, "denials of the last DURATION (default 1h; 90s, 15m, 2h, 1d)");
  suggest->add_option("--format", sg_format, "yaml (default) | json")->check(CLI::IsMember({"yaml", "json"}));
  suggest->add_flag("--apply", sg_apply, "add the rules to the cell's policy (asks first when stdin is a terminal)");
  suggest->add_flag("-y,--yes", sg_yes, "with --apply: do not ask");
  suggest->footer("Reads $BRIG_HOME/logs/cells/CELL.jsonl (and its rotated files). --apply asks only when stdin is a\n"
                  "terminal; from a script it applies without asking.");
  on_run(suggest, ctx, [&ctx]() -> Result<int> {
    if (auto why = spec::check_cell_name(sg_cell)) return Error(Errc::usage, *why, "check the name with: brig cell list --all");
    const auto since = spec::parse_duration(sg_since);
    if (!since || *since == 0) {
      return Error(Errc::usage, "invalid --since " + str::quote(sg_since) + "; give a positive duration such as 90s, 15m, 2h or 1d",
                   "brig policy suggest " + sg_cell + " --since 1h");
    }
    // What the cell may reach now (global + its own rules), so the denials
    // already lifted are not suggested again; only the global policy once
    // the cell is gone (its log outlives it).
    auto src = load_sources(ctx, "", "", sg_cell);
    if (!src && src.error().code() == Errc::not_found && !sg_apply) src = load_sources(ctx, "", "", "");
    if (!src) return src.error();
    auto eff = src->effective();
    if (!eff) return eff.error();
    const std::int64_t from = src->now - static_cast<std::int64_t>(*since);

    std::vector<policy::Denial> denials;
    for (const auto& f : state::log_files_oldest_first(ctx.paths.cell_log(sg_cell))) {
      std::ifstream in(f);
      std::string line;
      while (in && std::getline(in, line)) {
        nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);  // a damaged line is skipped
        const auto ts = policy::record_time(rec);
        if (!ts || *ts < from) continue;
        if (auto d = policy::denial_from_record(rec)) denials.push_back(std::move(*d));
      }
    }
    const auto s = policy::suggest(denials, &eff->policy);
    const bool json = sg_format == "json" || (sg_format.empty() && ctx.json());
    const std::string from_ts = timefmt::rfc3339(from);
    if (s.policy.allow.empty()) {
      std::string msg = "no denials since " + from_ts;
      if (s.already_allowed) msg += " that the cell's policy still refuses (" + std::to_string(s.already_allowed) + " are allowed now)";
      if (json) {
        std::printf("{\"allow\": []}\n");
        if (!ctx.quiet) std::fprintf(stderr, "%s\n", msg.c_str());
      } else {
        std::printf("%s\n", msg.c_str());
      }
      return 0;
    }
    const std::size_t n = s.policy.allow.size();
    if (json) {
      std::cout << nlohmann::json{{"allow", spec::to_json(s.policy)["allow"]}}.dump(2) << "\n";
    } else {
      std::printf("# %zu denial%s of cell %s since %s\n%s", s.denials, s.denials == 1 ? "" : "s", sg_cell.c_str(),
                  from_ts.c_str(), policy::suggestion_yaml(s.policy).c_str());
    }
    if (!sg_apply) return 0;
    std::fflush(stdout);
    if (!sg_yes && ::isatty(0)) {
      std::fprintf(stderr, "apply %zu rule%s to cell %s? [y/N] ", n, n == 1 ? "" : "s", sg_cell.c_str());
      std::fflush(stderr);
      std::string answer;
      char c = 0;
      while (::read(0, &c, 1) == 1 && c != '\n') answer += c;
      if (answer != "y" && answer != "Y" && answer != "yes") {
        return Error(Errc::failed, "not applied: cell " + sg_cell + "'s policy is unchanged",
                     "brig policy suggest " + sg_cell + " --since " + sg_since + " --apply --yes");
      }
    }
    state::PolicyEdit edit;
    for (const auto& a : s.policy.allow) {
      edit.allow.push_back({a.domain + (a.port ? ":" + std::to_string(*a.port) : ""), a.paths, a.methods});
    }
    return edit_cell_policy(ctx, sg_cell, src->now, [&](nlohmann::json& j) -> Status {
      auto r = state::apply_policy_edit(j, sg_cell, edit, src->now);
      return r ? Status{} : Status(r.error());
    });
  });
}

Result<int> policy_validate(const std::string& file) { return do_validate(file); }

}  // namespace brig::cli
