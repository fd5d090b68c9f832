// What injected secrets cost warden per request (secrets.h), in one run:
// copying a request head plus the head stage for a cell without secrets (the
// baseline every cell pays),
// for a cell with secrets whose request carries none, and for one placeholder
// injected; and the body scan of a streamed 16 KiB piece against copying it.
// scripts/bench/secrets.sh runs it and writes the table in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstring>

#include "warden/secrets.h"

namespace brig::warden {
namespace {

std::vector<CellSecret> make_secrets(int n) {
  std::vector<CellSecret> out;
  for (int i = 0; i < n; ++i) {
    const std::string name = "key" + std::to_string(i);
    CellSecret s{{name, "K" + std::to_string(i), state::make_placeholder(name, std::string(16, static_cast<char>('a' + i))),
                  "sk-value-" + std::to_string(i), {"api.test"}, false},
                 {}};
    s.hosts.push_back(*hostname::Pattern::parse("api.test"));
    out.push_back(std::move(s));
  }
  return out;
}

// A typical API request head: ten fields.
Request typical(const std::string& auth) {
  Request r{http::verb::post, "/v1/chat/completions", 11};
  r.set(http::field::host, "api.test");
  r.set(http::field::user_agent, "python-httpx/0.27.0");
  r.set(http::field::accept, "application/json");
  r.set(http::field::accept_encoding, "gzip, deflate");
  r.set(http::field::content_type, "application/json");
  r.set(http::field::content_length, "512");
  r.set(http::field::authorization, auth);
  r.set("x-request-id", "4f1c2b7e-9a0d-4a57-8f36-0b9e5c1d2a33");
  r.set("openai-organization", "org-123456");
  r.set(http::field::connection, "keep-alive");
  return r;
}

void head_stage(benchmark::State& st, int secrets, bool placeholder) {
  const auto list = make_secrets(secrets);
  const std::string auth = "Bearer " + (placeholder ? list.at(0).secret.placeholder : std::string("sk-not-a-placeholder-0123456789"));
  const Request proto = typical(auth);
  // Each iteration copies the head (as warden holds one per request), then injects.
  for (auto _ : st) {
    Request r = proto;
    std::string path = "/v1/chat/completions?stream=true";
    auto inj = inject(r, path, list, "api.test", true);
    benchmark::DoNotOptimize(inj);
    benchmark::DoNotOptimize(r);
  }
}
void BM_Head_NoSecrets(benchmark::State& st) { head_stage(st, 0, false); }
void BM_Head_SecretsNoPlaceholder(benchmark::State& st) { head_stage(st, 3, false); }
void BM_Head_Inject(benchmark::State& st) { head_stage(st, 3, true); }
BENCHMARK(BM_Head_NoSecrets);
BENCHMARK(BM_Head_SecretsNoPlaceholder);
BENCHMARK(BM_Head_Inject);

constexpr std::size_t kPiece = 16384;

void BM_Body_Copy(benchmark::State& st) {
  const std::string piece(kPiece, 'j');
  std::string dst(kPiece, '\0');
  for (auto _ : st) {
    std::memcpy(dst.data(), piece.data(), kPiece);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kPiece));
}
void BM_Body_Scan(benchmark::State& st) {
  const auto list = make_secrets(3);
  std::vector<std::string> needles;
  for (const auto& s : list) needles.push_back(s.secret.placeholder);
  NeedleScanner scan(needles);
  const std::string piece(kPiece, 'j');
  for (auto _ : st) benchmark::DoNotOptimize(scan.feed(piece));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kPiece));
}
BENCHMARK(BM_Body_Copy);
BENCHMARK(BM_Body_Scan);

}  // namespace
}  // namespace brig::warden
