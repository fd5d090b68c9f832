// brig warden ... — the egress proxy daemon and its status.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/warden/config.h"
#include "brig/warden/netaddr.h"
#include "brig/warden/ops_client.h"
#include "brig/warden/warden.h"
#include "context.h"

namespace brig::cli {
namespace {

struct ServeOpts {
  std::string config, proxy, ops, ingress, upstream_ca, dns, http, https, host_relay, host_service_listen;
  std::string ingress_domain, ingress_cert, ingress_key;
  std::uint64_t ingress_max_body = 0;
  std::vector<std::string> resolve;
  int threads = 0;
};

// warden.yaml first, then flags (flags win).
Result<warden::Config> build_config(const Context& ctx, const ServeOpts& o) {
  warden::Config cfg;
  cfg.home = ctx.paths.home();
  const std::string file = o.config.empty() ? ctx.paths.warden_yaml() : o.config;
  if (auto st = warden::load_config_file(file, cfg); !st) return st.error();
  auto endpoint = [](const std::string& text, warden::Endpoint& dst) -> Status {
    if (text.empty()) return {};
    auto ep = warden::Endpoint::parse(text);
    if (!ep) return ep.error();
    dst = *ep;
    return {};
  };
  BRIG_TRY(endpoint(o.proxy, cfg.proxy_listen));
  BRIG_TRY(endpoint(o.ops, cfg.ops_listen));
  if (!o.ingress.empty()) {
    warden::Endpoint ep;
    BRIG_TRY(endpoint(o.ingress, ep));
    cfg.ingress_listen = ep;
  }
  for (auto [text, dst] : {std::pair{&o.dns, &cfg.dns_listen}, {&o.http, &cfg.http_listen}, {&o.https, &cfg.https_listen}}) {
    if (text->empty()) continue;
    warden::Endpoint ep;
    BRIG_TRY(endpoint(*text, ep));
    *dst = ep;
  }
  if (!o.ingress_domain.empty()) cfg.ingress_domain = o.ingress_domain;
  if (!o.ingress_cert.empty()) cfg.ingress_cert = o.ingress_cert;
  if (!o.ingress_key.empty()) cfg.ingress_key = o.ingress_key;
  if (o.ingress_max_body) cfg.ingress_max_body = o.ingress_max_body;
  for (const auto& r : o.resolve) {
    auto ov = warden::ResolveOverride::parse(r);
    if (!ov) return ov.error();
    cfg.resolve.push_back(*ov);
  }
  if (!o.upstream_ca.empty()) cfg.upstream_ca = o.upstream_ca;
  if (!o.host_relay.empty()) cfg.host_relay = o.host_relay;
  if (!o.host_service_listen.empty()) {
    if (!warden::parse_ip(o.host_service_listen)) {
      return Error(Errc::usage, "--host-service-listen " + o.host_service_listen + " is not an IP address", "e.g. 0.0.0.0");
    }
    cfg.host_service_address = o.host_service_listen;
  }
  if (o.threads < 0 || o.threads > 256) return Error(Errc::usage, "--threads must be 0 (one per core) to 256");
  if (o.threads) cfg.threads = o.threads;
  return cfg;
}

// GET `path` from the running warden's ops endpoint.
Result<warden::HttpReply> ops_get(const Context& ctx, const std::string& path) {
  auto info = warden::read_runtime_info(ctx.paths);
  if (!info) return info.error();
  return warden::http_get(info->ops, path);
}

// Warden keeps a removed cell's figures until it restarts: JSON marks them
// ("removed": true), the table leaves them out and says how many it left out.
void print_stats(const Context& ctx, const std::map<std::string, warden::CellStats>& cells) {
  auto removed = [&](const std::string& cell) { return !fs::exists(ctx.paths.cell_state(cell)); };
  if (ctx.json()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [cell, s] : cells) {
      out[cell] = {{"requests", s.requests}, {"denied", s.denied}, {"ratelimited", s.ratelimited}, {"errors", s.errors},
                   {"bytes_in", s.bytes_in}, {"bytes_out", s.bytes_out}, {"ingress", s.ingress}, {"p50_ms", s.p50_ms}, {"p95_ms", s.p95_ms},
                   {"p99_ms", s.p99_ms}, {"removed", removed(cell)}};
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  int hidden = 0;
  bool header = false;
  for (const auto& [cell, s] : cells) {
    if (removed(cell)) {
      ++hidden;
      continue;
    }
    if (!header) {
      std::printf("%-24s %10s %9s %12s %12s %8s %8s %8s %8s\n", "CELL", "REQUESTS", "BLOCKED", "BYTES IN", "BYTES OUT",
                  "P50 MS", "P95 MS", "P99 MS", "INGRESS");
      header = true;
    }
    const double blocked = s.requests > 0 ? 100.0 * (s.denied + s.ratelimited) / s.requests : 0;
    std::printf("%-24s %10.0f %8.1f%% %12.0f %12.0f %8.1f %8.1f %8.1f %8.0f\n", cell.c_str(), s.requests, blocked, s.bytes_in,
                s.bytes_out, s.p50_ms, s.p95_ms, s.p99_ms, s.ingress);
  }
  if (!header) std::printf(hidden ? "no traffic from existing cells\n" : "no traffic yet\n");
  if (hidden > 0) {
    std::printf("(%d removed cell%s not shown; --format json lists them)\n", hidden, hidden == 1 ? "" : "s");
  }
}

}  // namespace

Result<int> warden_stats(const Context& ctx) {
  auto m = ops_get(ctx, "/metrics");
  if (!m) return m.error();
  print_stats(ctx, warden::parse_metrics(m->body));
  return 0;
}

void add_warden(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("warden", "the egress proxy every cell goes through");
  static ServeOpts o;
  auto* serve = n->add_subcommand("serve", "run warden in the foreground (SIGTERM drains, SIGHUP reloads)");
  serve->add_option("--config", o.config, "warden.yaml (default $BRIG_HOME/warden.yaml)");
  serve->add_option("--proxy-listen", o.proxy, "cells' forward proxy ADDR:PORT (default 0.0.0.0:3128; port 0 picks one)");
  serve->add_option("--ops-listen", o.ops, "/healthz and /metrics ADDR:PORT (default 127.0.0.1:9464)");
  serve->add_option("--ingress-listen", o.ingress, "ingress HTTPS ADDR:PORT (default: no ingress)");
  serve->add_option("--ingress-domain", o.ingress_domain, "ingress serves https://<cell>.DOMAIN/ (default localhost)");
  serve->add_option("--ingress-cert", o.ingress_cert, "ingress certificate chain (PEM; default: leaves from brig's CA)");
  serve->add_option("--ingress-key", o.ingress_key, "the key of --ingress-cert (PEM)");
  serve->add_option("--ingress-max-body", o.ingress_max_body, "largest request body ingress takes, in bytes (default 64 MiB)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--dns-listen", o.dns, "the cells' resolver, UDP and TCP ADDR:PORT (default: none)");
  serve->add_option("--http-listen", o.http, "transparent HTTP ADDR:PORT, routed by Host (default: none)");
  serve->add_option("--https-listen", o.https, "transparent HTTPS ADDR:PORT, routed by SNI (default: none)");
  serve->add_option("--host-relay", o.host_relay, "the host relay's unix socket: host services (default: none, refused)");
  serve->add_option("--host-service-listen", o.host_service_listen,
                    "address of the listener for each declared tcp host service port (default 0.0.0.0)");
  serve->add_option("--resolve", o.resolve, "HOST:PORT:ADDR like curl's --resolve (repeatable)");
  serve->add_option("--upstream-ca", o.upstream_ca, "extra trust anchors for upstream TLS (PEM)");
  serve->add_option("--threads", o.threads, "I/O threads (default: one per core)");
  on_run(serve, ctx, [&ctx]() -> Result<int> {
    auto cfg = build_config(ctx, o);
    if (!cfg) return cfg.error();
    if (auto st = warden::serve(*cfg); !st) return st.error();
    return 0;
  });
  auto* status = n->add_subcommand("status", "is warden running? (exit 0 if healthy)");
  on_run(status, ctx, [&ctx]() -> Result<int> {
    auto info = warden::read_runtime_info(ctx.paths);
    if (!info) return info.error();
    auto h = ops_get(ctx, "/healthz");
    if (!h) return h.error();
    if (ctx.json()) {
      std::printf("{\"running\": true, \"pid\": %ld, \"proxy\": \"%s\", \"ops\": \"%s\", \"health\": %s}\n", info->pid,
                  info->proxy.c_str(), info->ops.c_str(), h->body.c_str());
    } else {
      std::printf("warden running (pid %ld): proxy %s, ops %s\n%s", info->pid, info->proxy.c_str(), info->ops.c_str(),
                  h->body.c_str());
    }
    return h->status == 200 ? 0 : 1;
  });
  auto* health = n->add_subcommand("health", "print warden's /healthz (exit 0 if healthy)");
  on_run(health, ctx, [&ctx]() -> Result<int> {
    auto h = ops_get(ctx, "/healthz");
    if (!h) return h.error();
    std::fputs(h->body.c_str(), stdout);
    return h->status == 200 ? 0 : 1;
  });
  auto* stats = n->add_subcommand("stats", "per-cell requests, blocked %, bytes and latency from /metrics");
  on_run(stats, ctx, [&ctx]() -> Result<int> { return warden_stats(ctx); });
  auto* ca = n->add_subcommand("ca", "print the CA certificate path");
  on_run(ca, ctx, [&ctx]() -> Result<int> {
    std::printf("%s\n", ctx.paths.ca_cert().c_str());
    return 0;
  });
  auto* pol = n->add_subcommand("policy", "warden's policy files");
  static std::string file;
  auto* validate = pol->add_subcommand("validate", "same as brig policy validate");
  validate->add_option("FILE", file, "policy file")->required();
  on_run(validate, ctx, [] { return policy_validate(file); });
}

}  // namespace brig::cli
