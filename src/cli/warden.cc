// brig warden ... — the egress proxy daemon and its status.
#include "context.h"

namespace brig::cli {

void add_warden(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("warden", "the egress proxy every cell goes through");
  stub_verb(n, ctx, "serve", "run warden in the foreground",
            {"--config", "--proxy-listen", "--ops-listen", "--ingress-listen", "--resolve", "--upstream-ca", "--threads"});
  stub_verb(n, ctx, "status", "is warden running?");
  stub_verb(n, ctx, "stats", "per-cell figures from warden's metrics");
  stub_verb(n, ctx, "health", "query warden's /healthz");
  stub_verb(n, ctx, "ca", "print the CA certificate path");
  auto* pol = n->add_subcommand("policy", "warden's policy files");
  static std::string file;
  auto* validate = pol->add_subcommand("validate", "same as brig policy validate");
  validate->add_option("FILE", file, "policy file")->required();
  on_run(validate, ctx, [] { return policy_validate(file); });
}

}  // namespace brig::cli
