// Policy evaluation cost: the compiled policy (hash index on the host and its
// suffixes) against a naive linear scan over the same rules, in one run.
// A 1,000-rule allow list (700 exact, 200 wildcards, 100 with paths and
// methods) plus 50 deny rules. scripts/bench/policy.sh runs it and writes the
// table in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "brig/core/hostname.h"
#include "brig/policy/path.h"
#include "brig/policy/policy.h"

// Counts every heap allocation so each benchmark can report allocs/decision.
namespace {
std::atomic<std::uint64_t> g_allocs{0};
}  // namespace

// GCC 12 flags free() on memory from this very operator new once both are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace brig::policy {
namespace {

enum class Case { exact, wildcard, no_rule, path };

spec::PolicyBlock make_block() {
  spec::PolicyBlock b;
  int line = 1;
  auto origin = [&] { return spec::Origin::file("bench-policy.yaml", line++); };
  for (int i = 0; i < 700; ++i) {
    b.allow.push_back({"svc" + std::to_string(i) + ".team" + std::to_string(i % 40) + ".example.com", std::nullopt,
                       {}, {}, origin()});
  }
  for (int i = 0; i < 200; ++i) {
    b.allow.push_back({"*.wild" + std::to_string(i) + ".example.net", std::nullopt, {}, {}, origin()});
  }
  for (int i = 0; i < 100; ++i) {
    b.allow.push_back({"api" + std::to_string(i) + ".example.org", std::nullopt, {"/v1/*", "/v2/items/*"},
                       {"GET", "POST"}, origin()});
  }
  for (int i = 0; i < 40; ++i) b.deny.push_back({"blocked" + std::to_string(i) + ".example.com", origin()});
  for (int i = 0; i < 10; ++i) b.deny.push_back({"*.deny" + std::to_string(i) + ".example.net", origin()});
  return b;
}

Request request_for(Case c) {
  switch (c) {
    case Case::exact: return {"svc350.team30.example.com", 443, "GET", "/"};
    case Case::wildcard: return {"a.b.c.wild150.example.net", 443, "GET", "/"};
    case Case::no_rule: return {"unknown.nowhere.example.io", 443, "GET", "/"};
    case Case::path: return {"api50.example.org", 443, "POST", "/v2/items/42?expand=1"};
  }
  return {};
}

// What a straightforward implementation does: normalise the host, then test
// every deny and every allow rule in turn.
struct NaiveRule {
  hostname::Pattern pattern;
  std::uint16_t port = 0;
  std::vector<std::string> paths, methods;
};

struct Naive {
  std::vector<NaiveRule> allow, deny;

  bool allowed(const Request& req) const {
    auto host = hostname::normalize(req.host);
    if (!host || hostname::is_ip_literal(*host)) return false;
    for (const auto& r : deny)
      if (r.pattern.matches(*host)) return false;
    std::string path;
    const bool path_ok = req.method.empty() || normalize_path(req.path, path);
    for (const auto& r : allow) {
      if (!r.pattern.matches(*host)) continue;
      if (r.port ? req.port != r.port : req.port != 443 && req.port != 80) continue;
      if (req.method.empty()) return true;
      if (!r.methods.empty() && std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end()) continue;
      if (r.paths.empty()) return true;
      if (!path_ok) continue;
      for (const auto& g : r.paths)
        if (glob_match(g, path)) return true;
    }
    return false;
  }
};

struct Fixture {
  Policy compiled;
  Naive naive;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    const auto block = make_block();
    auto p = Policy::compile(block, nullptr);
    if (!p) {
      std::fprintf(stderr, "compile failed: %s\n", p.error().message().c_str());
      std::abort();
    }
    x.compiled = std::move(*p);
    for (const auto& a : block.allow) {
      NaiveRule r{*hostname::Pattern::parse(a.domain), a.port.value_or(0), {}, a.methods};
      for (const auto& g : a.paths) {
        std::string n;
        normalize_path(g, n);
        r.paths.push_back(n);
      }
      x.naive.allow.push_back(std::move(r));
    }
    for (const auto& d : block.deny) x.naive.deny.push_back({*hostname::Pattern::parse(d.domain), 0, {}, {}});
    // Both implementations must agree with the expected decision, or the figures mean nothing.
    for (Case c : {Case::exact, Case::wildcard, Case::no_rule, Case::path}) {
      const bool want = c != Case::no_rule;
      const auto req = request_for(c);
      if (x.compiled.evaluate(req).allowed() != want || x.naive.allowed(req) != want) {
        std::fprintf(stderr, "bench setup: unexpected decision for %.*s\n", static_cast<int>(req.host.size()),
                     req.host.data());
        std::abort();
      }
    }
    return x;
  }();
  return f;
}

void report_allocs(benchmark::State& state, std::uint64_t before) {
  const auto n = g_allocs.load(std::memory_order_relaxed) - before;
  state.counters["allocs/decision"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
}

void BM_Compiled(benchmark::State& state, Case c) {
  const auto& f = fixture();
  const auto req = request_for(c);
  benchmark::DoNotOptimize(f.compiled.evaluate(req));  // warm the thread-local buffers
  const auto before = g_allocs.load(std::memory_order_relaxed);
  for (auto _ : state) {
    auto v = f.compiled.evaluate(req);
    benchmark::DoNotOptimize(v);
  }
  report_allocs(state, before);
}

void BM_Naive(benchmark::State& state, Case c) {
  const auto& f = fixture();
  const auto req = request_for(c);
  const auto before = g_allocs.load(std::memory_order_relaxed);
  for (auto _ : state) {
    bool v = f.naive.allowed(req);
    benchmark::DoNotOptimize(v);
  }
  report_allocs(state, before);
}

BENCHMARK_CAPTURE(BM_Compiled, exact_allowed, Case::exact);
BENCHMARK_CAPTURE(BM_Compiled, wildcard_3_deep_allowed, Case::wildcard);
BENCHMARK_CAPTURE(BM_Compiled, no_rule_denied, Case::no_rule);
BENCHMARK_CAPTURE(BM_Compiled, path_allowed, Case::path);
BENCHMARK_CAPTURE(BM_Naive, exact_allowed, Case::exact);
BENCHMARK_CAPTURE(BM_Naive, wildcard_3_deep_allowed, Case::wildcard);
BENCHMARK_CAPTURE(BM_Naive, no_rule_denied, Case::no_rule);
BENCHMARK_CAPTURE(BM_Naive, path_allowed, Case::path);

}  // namespace
}  // namespace brig::policy
