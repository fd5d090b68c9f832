// Secrets on disk: 0600 files, name rules, no following planted symlinks,
// listing, removal refused while in use.
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
  EXPECT_EQ(st.error().message(), "secret k is mounted in running cell(s): c1, c2");
  EXPECT_EQ(st.error().fix(), "stop them first, or brig secrets rm k --force");
  EXPECT_TRUE(exists(paths.secret("k")));

  ASSERT_TRUE(secret_rm(paths, "k", {"c1", "c2"}, true).ok());
  EXPECT_FALSE(exists(paths.secret("k")));
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

}  // namespace
}  // namespace brig::engine
