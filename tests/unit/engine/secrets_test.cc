// Secrets on disk: 0600 files, name rules, no following planted symlinks,
// listing, removal and replacement refused while in use, finding a value by
// digest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "brig/engine/secrets.h"
#include "unit/engine/engine_test_util.h"

namespace brig::engine {
namespace {

using testing::exists;
using testing::slurp;
using testing::spit;
using testing::TempDir;

class Secrets : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};

  mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode;
  }
  std::vector<std::string> dir_entries() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(paths.secrets_dir(), ec)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(Secrets, AddWritesExactContentMode0600) {
  ASSERT_TRUE(secret_add(paths, "openai-key", "sk-123\n").ok());
  EXPECT_EQ(slurp(paths.secret("openai-key")), "sk-123\n");
  const mode_t m = mode_of(paths.secret("openai-key"));
  EXPECT_TRUE(S_ISREG(m));
  EXPECT_EQ(m & 07777, 0600u);
  EXPECT_EQ(mode_of(paths.secrets_dir()) & 07777, 0700u);
  // No temp file left behind.
  EXPECT_EQ(dir_entries(), std::vector<std::string>{"openai-key"});
}

TEST_F(Secrets, AddReplacesExisting) {
  ASSERT_TRUE(secret_add(paths, "k", "a much longer old value").ok());
  ASSERT_TRUE(secret_add(paths, "k", "new").ok());
  EXPECT_EQ(slurp(paths.secret("k")), "new");
  EXPECT_EQ(mode_of(paths.secret("k")) & 07777, 0600u);
  EXPECT_EQ(dir_entries(), std::vector<std::string>{"k"});
}

TEST_F(Secrets, AddKeepsBinaryValue) {
  const std::string value("a\0b\xff", 4);
  ASSERT_TRUE(secret_add(paths, "bin", value).ok());
  EXPECT_EQ(slurp(paths.secret("bin")), value);
}

TEST_F(Secrets, InvalidNamesAreUsageErrorsAndWriteNothing) {
  for (const std::string& name : {std::string(""), std::string("../x"), std::string("-x"), std::string("a/b"),
                                  std::string("a\0b", 3), std::string(".."), std::string("x\n")}) {
    SCOPED_TRACE(name);
    auto st = secret_add(paths, name, "value");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), Errc::usage);
    EXPECT_THAT(st.error().message(), ::testing::StartsWith("invalid secret name "));
    EXPECT_EQ(st.error().fix(), "use letters, digits, '.', '_' and '-', e.g. openai-key");
  }
  EXPECT_FALSE(exists(paths.secrets_dir()));
  EXPECT_FALSE(exists(home.path() + "/x"));
}

TEST_F(Secrets, InvalidNameMessagesSayWhy) {
  EXPECT_EQ(secret_add(paths, "-x", "v").error().message(), "invalid secret name \"-x\": it starts with '-'");
  EXPECT_EQ(secret_add(paths, "a/b", "v").error().message(), "invalid secret name \"a/b\": it contains '/'");
  EXPECT_EQ(secret_add(paths, "", "v").error().message(), "invalid secret name \"\": it is empty");
  EXPECT_EQ(secret_add(paths, std::string("a\0b", 3), "v").error().message(),
            "invalid secret name \"a\\x00b\": it contains a NUL byte");
}

TEST_F(Secrets, TooLargeIsRefused) {
  auto st = secret_add(paths, "big", std::string((1u << 20) + 1, 'x'));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_FALSE(exists(paths.secret("big")));
}

TEST_F(Secrets, PlantedSymlinkIsReplacedNotFollowed) {
  const std::string target = home.path() + "/outside.txt";
  spit(target, "do not touch");
  std::filesystem::create_directories(paths.secrets_dir());
  std::filesystem::create_symlink(target, paths.secret("k"));
  ASSERT_TRUE(secret_add(paths, "k", "secret").ok());
  EXPECT_TRUE(S_ISREG(mode_of(paths.secret("k"))));
  EXPECT_EQ(slurp(paths.secret("k")), "secret");
  EXPECT_EQ(slurp(target), "do not touch");
}

TEST_F(Secrets, SymlinkedSecretsDirIsRefused) {
  const std::string elsewhere = home.path() + "/elsewhere";
  std::filesystem::create_directories(elsewhere);
  std::filesystem::create_symlink(elsewhere, paths.secrets_dir());
  auto st = secret_add(paths, "k", "secret");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), paths.secrets_dir() + " is not a directory");
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

TEST_F(Secrets, ListSortedWithSizesSkippingDotfiles) {
  ASSERT_TRUE(secret_add(paths, "zeta", "12345").ok());
  ASSERT_TRUE(secret_add(paths, "alpha", "1").ok());
  ASSERT_TRUE(secret_add(paths, "mid.key", "").ok());
  spit(paths.secrets_dir() + "/.hidden", "x");
  spit(paths.secrets_dir() + "/.k.tmp.123", "partial");
  auto l = secret_list(paths);
  ASSERT_TRUE(l.ok());
  std::vector<std::pair<std::string, std::uint64_t>> got;
  for (const auto& s : *l) got.emplace_back(s.name, s.size);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::uint64_t>>{{"alpha", 1}, {"mid.key", 0}, {"zeta", 5}}));
}

TEST_F(Secrets, ListOfMissingDirIsEmpty) {
  auto l = secret_list(paths);
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->empty());
}

TEST_F(Secrets, RmRemoves) {
  ASSERT_TRUE(secret_add(paths, "k", "v").ok());
  ASSERT_TRUE(secret_rm(paths, "k", {}, false).ok());
  EXPECT_FALSE(exists(paths.secret("k")));
}

TEST_F(Secrets, RmRefusesWhileRunningCellsUseItUnlessForced) {
  ASSERT_TRUE(secret_add(paths, "k", "v").ok());
  auto st = secret_rm(paths, "k", {"c1", "c2"}, false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::exists);
  EXPECT_EQ(st.error().message(), "secret k is used by running cell(s): c1, c2");
  EXPECT_EQ(st.error().fix(), "stop them first (brig cell stop CELL), or brig secrets rm k --force");
  EXPECT_TRUE(exists(paths.secret("k")));

  ASSERT_TRUE(secret_rm(paths, "k", {"c1", "c2"}, true).ok());
  EXPECT_FALSE(exists(paths.secret("k")));
}

TEST_F(Secrets, RmNamesTheOneCellToStop) {
  ASSERT_TRUE(secret_add(paths, "k", "v").ok());
  auto st = secret_rm(paths, "k", {"c1"}, false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().fix(), "stop it first (brig cell stop c1), or brig secrets rm k --force");
  EXPECT_TRUE(exists(paths.secret("k")));
}

// The rule `secrets add` asks before replacing a value.
TEST_F(Secrets, UnusedRefusesWhileRunningCellsMountItUnlessForced) {
  EXPECT_TRUE(secret_unused("k", {}, false, "brig secrets add k --force").ok());
  EXPECT_TRUE(secret_unused("k", {"c1"}, true, "brig secrets add k --force").ok());
  auto st = secret_unused("k", {"c1"}, false, "brig secrets add k FILE --force");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::exists);
  EXPECT_EQ(st.error().message(), "secret k is used by running cell(s): c1");
  EXPECT_EQ(st.error().fix(), "stop it first (brig cell stop c1), or brig secrets add k FILE --force");
}

TEST_F(Secrets, RmMissingIsNotFound) {
  auto st = secret_rm(paths, "nope", {}, false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
  EXPECT_EQ(st.error().message(), "no secret named \"nope\"");
  EXPECT_EQ(st.error().fix(), "brig secrets list");
}

TEST_F(Secrets, RmInvalidNameIsUsage) {
  spit(home.path() + "/x", "keep");
  auto st = secret_rm(paths, "../x", {}, true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::usage);
  EXPECT_EQ(slurp(home.path() + "/x"), "keep");
}

// --- SHA-256 (FIPS 180-4 vectors) and finding a value by digest ---

std::string hex(const Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

TEST(Sha256, MatchesTheStandardVectors) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(sha256(std::string(1000000, 'a'))), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// The padding's edges: one block or two, and several blocks (python3 hashlib).
TEST(Sha256, HandlesEveryPaddingEdge) {
  const std::vector<std::pair<std::size_t, std::string>> cases = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  for (const auto& [n, want] : cases) EXPECT_EQ(hex(sha256(std::string(n, 'a'))), want) << n;
  std::string bytes;
  for (int i = 0; i < 256 * 3; ++i) bytes += static_cast<char>(i % 256);
  EXPECT_EQ(hex(sha256(bytes)), "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363");
}

TEST_F(Secrets, DigestsFindAValueWholeOrInsideAText) {
  ASSERT_TRUE(secret_add(paths, "api-key", "sk-live-0123456789\n").ok());  // as `echo ... > FILE` leaves it
  ASSERT_TRUE(secret_add(paths, "pin", "4711").ok());
  ASSERT_TRUE(secret_add(paths, "tiny", "abc").ok());
  ASSERT_TRUE(secret_add(paths, "empty", "").ok());
  auto d = SecretDigests::load(paths);
  ASSERT_TRUE(d.ok()) << d.error().message();
  using V = std::vector<std::string>;
  EXPECT_EQ(d->found_in("sk-live-0123456789"), V{"api-key"});
  EXPECT_EQ(d->found_in("sk-live-0123456789\n"), V{"api-key"});
  EXPECT_EQ(d->found_in("  sk-live-0123456789 "), V{"api-key"});
  EXPECT_EQ(d->found_in("Bearer sk-live-0123456789"), V{"api-key"});
  EXPECT_EQ(d->found_in("sk-live-0123456789,4711"), V{"api-key"});  // 4711 only whole: too short to look for inside
  EXPECT_EQ(d->found_in("xsk-live-0123456789x"), V{"api-key"});
  EXPECT_EQ(d->found_in("4711"), V{"pin"});
  EXPECT_EQ(d->found_in("47110"), V{});
  EXPECT_EQ(d->found_in("sk-live-012345678"), V{});   // one byte short
  EXPECT_EQ(d->found_in("sk-live-0123456788"), V{});  // same length, one byte off
  EXPECT_EQ(d->found_in("abc"), V{});                 // below kMinEqual: never looked for
  EXPECT_EQ(d->found_in(""), V{});
}

TEST_F(Secrets, DigestsNameEverySecretFoundOnceSorted) {
  ASSERT_TRUE(secret_add(paths, "zz", "value-of-zz-1234").ok());
  ASSERT_TRUE(secret_add(paths, "aa", "value-of-aa-5678").ok());
  ASSERT_TRUE(secret_add(paths, "same", "value-of-aa-5678").ok());
  auto d = SecretDigests::load(paths);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->found_in("value-of-zz-1234:value-of-aa-5678:value-of-zz-1234"),
            (std::vector<std::string>{"aa", "same", "zz"}));
}

TEST_F(Secrets, DigestsOfNoSecretsFindNothing) {
  auto d = SecretDigests::load(paths);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());
  EXPECT_TRUE(d->found_in("anything at all").empty());
}

// One brig did not write (larger than secret_add takes): nothing can be said about it.
TEST_F(Secrets, DigestsOfAnUnreadableSecretAreAnError) {
  ASSERT_TRUE(secret_add(paths, "a", "value-1234").ok());
  spit(paths.secret("k"), std::string((1u << 20) + 1, 'x'));
  auto d = SecretDigests::load(paths);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message(), ::testing::StartsWith("cannot read secret k to compare: "));
  EXPECT_EQ(d.error().fix(), "brig secrets rm k, or brig secrets add k FILE --force");
}

}  // namespace
}  // namespace brig::engine
