// The compiled egress policy and its decision function. Pure and
// allocation-light: warden calls evaluate() for every request and CONNECT.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "brig/core/error.h"
#include "brig/spec/cell_spec.h"

namespace brig::policy {

// Policy files larger than this are refused (by warden and the CLI alike).
inline constexpr std::size_t kMaxPolicyBytes = 1u << 20;

// What is being asked. A CONNECT-level question (method and path unknown, as
// for a TLS passthrough tunnel) leaves method and path empty.
struct Request {
  std::string_view host;  // as the client sent it: any case, maybe a trailing dot or IDN
  std::uint16_t port = 443;
  std::string_view method;  // "" for a CONNECT-level question
  std::string_view path;    // raw request path, may hold a query; "" for CONNECT-level
};

enum class Decision : std::uint8_t { allow, deny };

enum class Reason : std::uint8_t {
  allowed,             // an allow rule matched
  denied_by_rule,      // a deny rule matched (deny wins)
  no_rule,             // default deny: no allow rule names this host
  port_not_allowed,    // a rule names the host, but not this port
  method_not_allowed,  // host and port match, the method does not
  path_not_allowed,    // host, port and method match, the path does not
  ip_literal,          // IP literals never match domain rules
  invalid_host,        // userinfo, control characters, bad labels
  invalid_path,        // a path that does not normalise (bad escapes, not absolute)
  airgapped,           // the cell is airgapped: nothing is allowed
};

// A short, stable explanation ("default deny: no allow rule matches the host").
std::string_view reason_text(Reason r);
// The reason as a stable code an agent can act on ("no_rule"; warden's
// X-Brig-Blocked header, docs/reference/warden.md).
std::string_view reason_code(Reason r);

struct Verdict {
  Decision decision = Decision::deny;
  Reason reason = Reason::no_rule;
  std::string_view rule;  // the rule as written with its source, or "default deny"; valid while the Policy lives

  bool allowed() const { return decision == Decision::allow; }
};

// True for a denial an allow rule would lift (no rule, port, method, path,
// invalid path); false for a deny rule, an airgapped cell, an invalid host or
// an IP literal, which no `policy set --allow` changes.
bool fixable(Reason r);

// The command that lifts a fixable denial of `host` (canonical) on `port`:
// "brig policy set CELL --allow HOST", with ":PORT" unless the port is 80 or
// 443 (a rule without a port covers only those), so the printed command works.
// `cell` empty: the literal "CELL". nullopt when !fixable(v.reason) or v allows.
std::optional<std::string> fix_for(const Verdict& v, std::string_view cell, std::string_view host,
                                   std::uint16_t port);

struct CompiledRule {
  std::string pattern;               // "api.example.com" or "*.example.com"
  std::uint16_t port = 0;            // 0: ports 80 and 443
  std::vector<std::string> paths;    // normalised globs; empty: any
  std::vector<std::string> decoded_paths;  // decode_path() of each glob, matched against the decoded request path
  std::vector<std::string> methods;  // empty: any
  std::int64_t expires = 0;          // a time-boxed grant's end (seconds since the epoch); 0: none
  std::string display;               // "allow api.example.com:8443 paths=[/v1/*] (cell.yaml:12)"
};

struct Options {
  bool airgapped = false;
  // The time to judge time-boxed grants at (seconds since the epoch): an
  // allow entry whose `expires` is at or before it is left out. 0: no clock
  // (`policy validate`), every entry counts.
  std::int64_t now = 0;
};

class Policy {
 public:
  // Effective policy = global ∪ cell for allow and for deny; deny wins; all
  // else is denied. `cell` may be null. Blocks must have passed validation;
  // compile() re-checks and fails with Errc::invalid rather than guessing.
  static Result<Policy> compile(const spec::PolicyBlock& global, const spec::PolicyBlock* cell,
                                const Options& opts = {});

  Verdict evaluate(const Request& req) const;
  // A name-level question (warden's resolver): allowed when some allow rule
  // names `host` on any port, method or path and no deny rule names it. A
  // name it allows resolves; every request to it is still evaluate()d.
  Verdict evaluate_name(std::string_view host) const;

  // True if the cell declared `host` (canonical) for TLS passthrough. Only the
  // cell's own block counts: uninspected egress exists only where a cell spec
  // declares it. The caller must still have an allow verdict for the host.
  bool passthrough(std::string_view canonical_host) const;

  std::size_t allow_count() const { return allow_.size(); }
  std::size_t deny_count() const { return deny_.size(); }
  const std::vector<CompiledRule>& allow_rules() const { return allow_; }
  const std::vector<CompiledRule>& deny_rules() const { return deny_; }
  bool airgapped() const { return airgapped_; }
  // The soonest end of a time-boxed grant still in force, or 0: when the
  // policy must be compiled again.
  std::int64_t next_expiry() const { return next_expiry_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, std::vector<std::uint32_t>, Hash, std::equal_to<>>;

  // Calls f(rule_index) for every rule of `index_exact`/`index_wild` naming `host`.
  template <class F>
  static bool visit(const Index& exact, const Index& wild, std::string_view host, F&& f);

  bool precheck(std::string_view raw, std::string& host, Verdict& v) const;

  std::vector<CompiledRule> allow_, deny_;
  std::vector<std::string> passthrough_exact_, passthrough_wild_;
  Index allow_exact_, allow_wild_, deny_exact_, deny_wild_;
  bool airgapped_ = false;
  std::int64_t next_expiry_ = 0;
};

// Parses and validates a policy document (JSON or YAML) already read from
// `filename`: the whole check `brig policy validate` performs.
Result<spec::PolicyBlock> parse_document(std::string_view text, const std::string& filename);

// The check of a cell's edited policy file (brig policy set, the API's
// PATCH): it parses and compiles as of `now` (time-boxed rules); the block
// and its rule counts.
struct CheckedDocument {
  spec::PolicyBlock block;
  std::size_t allow = 0, deny = 0;
};
Result<CheckedDocument> check_document(std::string_view text, const std::string& filename, std::int64_t now);

}  // namespace brig::policy
