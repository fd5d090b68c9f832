// state/<system>/secrets/<cell>.json: the placeholder's shape, the checks on
// a value, the round trip, what the parser refuses, and the file on disk
// (0700 directory, 0400 file, warden's when root; an empty list removes it).
#include "brig/state/secret_injections.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using ::testing::HasSubstr;
using testing::exists;
using testing::slurp;
using testing::spit;
using testing::TempDir;

const std::string kRandom = std::string("\x00\x01\x7f\x80\xfe\xff", 6) + "0123456789";  // 16 bytes

InjectedSecret llm() {
  return {"llm-key", "OPENAI_API_KEY", make_placeholder("llm-key", kRandom), "sk-live-123",
          {"api.openai.com", "*.anthropic.com"}, false};
}

std::string parse_error(const std::string& text) {
  auto r = parse_secret_injections(text, "secrets/c1.json");
  EXPECT_FALSE(r.ok()) << text;
  return r ? "" : r.error().message();
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(SecretInjections, PlaceholderIsPrefixNameAnd32Hex) {
  EXPECT_EQ(make_placeholder("llm-key", kRandom), "brig-secret-llm-key-00017f80feff30313233343536373839");
  // Only the first 16 bytes count.
  EXPECT_EQ(make_placeholder("k", kRandom + "extra"), make_placeholder("k", kRandom));
  EXPECT_TRUE(make_placeholder("k", kRandom).starts_with(kPlaceholderPrefix));
}

TEST(SecretInjections, InjectedValueDropsOneTrailingNewline) {
  EXPECT_EQ(injected_value("sk-1\n"), "sk-1");
  EXPECT_EQ(injected_value("sk-1\r\n"), "sk-1");
  EXPECT_EQ(injected_value("sk-1\n\n"), "sk-1\n");
  EXPECT_EQ(injected_value("sk-1"), "sk-1");
  EXPECT_EQ(injected_value(" sk-1 "), " sk-1 ");  // spaces are the value's own
}

TEST(SecretInjections, ValueMustFitInAHeader) {
  EXPECT_EQ(check_secret_value("sk-live-123"), std::nullopt);
  EXPECT_EQ(check_secret_value("a\tb"), std::nullopt);
  EXPECT_EQ(check_secret_value(""), "it is empty");
  EXPECT_EQ(check_secret_value("a\nb"), "it holds a line break (only one at the end is dropped)");
  EXPECT_EQ(check_secret_value("a\rb"), "it holds a line break (only one at the end is dropped)");
  EXPECT_EQ(check_secret_value(std::string("a\0b", 3)), "it holds control bytes, which no HTTP header may carry");
  EXPECT_EQ(check_secret_value("a\x7f"), "it holds control bytes, which no HTTP header may carry");
}

TEST(SecretInjections, RoundTrip) {
  InjectedSecret plain = {"p", "P", make_placeholder("p", std::string(16, 'x')), "v", {"h.example"}, true};
  const std::vector<InjectedSecret> list = {llm(), plain};
  auto back = parse_secret_injections(serialize_secret_injections(list), "f");
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*back)[i].name, list[i].name);
    EXPECT_EQ((*back)[i].env, list[i].env);
    EXPECT_EQ((*back)[i].placeholder, list[i].placeholder);
    EXPECT_EQ((*back)[i].value, list[i].value);
    EXPECT_EQ((*back)[i].hosts, list[i].hosts);
    EXPECT_EQ((*back)[i].allow_plaintext, list[i].allow_plaintext);
  }
}

TEST(SecretInjections, ParserRefusesWhatWardenMustNotInject) {
  EXPECT_THAT(parse_error("{"), HasSubstr("secrets/c1.json: not JSON: "));
  EXPECT_EQ(parse_error("[]"), "secrets/c1.json: expected {\"secrets\": [...]}");
  EXPECT_EQ(parse_error(R"({"secrets": [1]})"), "secrets/c1.json: a secret is not an object");
  EXPECT_EQ(parse_error(R"({"secrets": [{"name": "k"}]})"),
            "secrets/c1.json: a secret needs string name, env, placeholder, value and a list of hosts");
  auto with = [](auto edit) {
    InjectedSecret s = llm();
    edit(s);
    return serialize_secret_injections({s});
  };
  EXPECT_EQ(parse_error(with([](InjectedSecret& s) { s.placeholder = "brig-secret-llm-key-short"; })),
            "secrets/c1.json: secret \"llm-key\": malformed placeholder");
  EXPECT_EQ(parse_error(with([](InjectedSecret& s) { s.placeholder = make_placeholder("other", kRandom); })),
            "secrets/c1.json: secret \"llm-key\": malformed placeholder");
  EXPECT_EQ(parse_error(with([](InjectedSecret& s) { s.value = "a\nb"; })),
            "secrets/c1.json: secret \"llm-key\": it holds a line break (only one at the end is dropped)");
  EXPECT_EQ(parse_error(with([](InjectedSecret& s) { s.hosts.clear(); })), "secrets/c1.json: secret \"llm-key\": no hosts");
  // The value never appears in an error.
  EXPECT_THAT(parse_error(with([](InjectedSecret& s) { s.value = "sk-live\x01"; })), ::testing::Not(HasSubstr("sk-live")));
  const std::string twice = serialize_secret_injections({llm(), llm()});
  EXPECT_EQ(parse_error(twice), "secrets/c1.json: secret \"llm-key\": placeholder used twice");
}

TEST(SecretInjections, StoredFileIsWardensAndReadOnly) {
  TempDir tmp;
  Paths paths(tmp.path());
  ASSERT_TRUE(store_secret_injections(paths, "c1", {llm()}).ok());
  const std::string path = secret_injections_path(paths, "c1");
  EXPECT_EQ(path, tmp.path() + "/state/system/secrets/c1.json");
  auto back = parse_secret_injections(slurp(path), path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->at(0).value, "sk-live-123");
  const struct stat f = stat_of(path), d = stat_of(secret_injections_dir(paths));
  EXPECT_EQ(f.st_mode & 07777, 0400u);
  EXPECT_EQ(d.st_mode & 07777, 0700u);
  const uid_t owner = ::geteuid() == 0 ? kWardenUid : ::geteuid();
  EXPECT_EQ(f.st_uid, owner);
  EXPECT_EQ(d.st_uid, owner);

  // Rewritten whole (a start with new values), then removed by an empty list.
  InjectedSecret rotated = llm();
  rotated.value = "sk-live-456";
  ASSERT_TRUE(store_secret_injections(paths, "c1", {rotated}).ok());
  EXPECT_THAT(slurp(path), HasSubstr("sk-live-456"));
  EXPECT_THAT(slurp(path), ::testing::Not(HasSubstr("sk-live-123")));
  EXPECT_EQ(stat_of(path).st_mode & 07777, 0400u);
  ASSERT_TRUE(store_secret_injections(paths, "c1", {}).ok());
  EXPECT_FALSE(exists(path));
}

TEST(SecretInjections, RemoveIsQuietWhenThereIsNone) {
  TempDir tmp;
  Paths paths(tmp.path());
  EXPECT_TRUE(remove_secret_injections(paths, "c1").ok());
  ASSERT_TRUE(store_secret_injections(paths, "c1", {llm()}).ok());
  ASSERT_TRUE(store_secret_injections(paths, "c2", {llm()}).ok());
  EXPECT_TRUE(remove_secret_injections(paths, "c1").ok());
  EXPECT_FALSE(exists(secret_injections_path(paths, "c1")));
  EXPECT_TRUE(exists(secret_injections_path(paths, "c2")));
}

}  // namespace
}  // namespace brig::state
