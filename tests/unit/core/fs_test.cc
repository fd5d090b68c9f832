#include "brig/core/fs.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "brig/core/paths.h"

namespace brig {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-fs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FsTest, WriteAtomicCreatesWithModeAndLeavesNoTemp) {
  const std::string p = dir_ + "/state.json";
  ASSERT_TRUE(fs::write_atomic(p, "{\"a\":1}", 0600).ok());
  auto text = fs::read_file(p);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "{\"a\":1}");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(FsTest, WriteAtomicReplacesAndTightensMode) {
  const std::string p = dir_ + "/f";
  ASSERT_TRUE(fs::write_atomic(p, "old", 0644).ok());
  ASSERT_TRUE(fs::write_atomic(p, "new", 0600).ok());
  EXPECT_EQ(*fs::read_file(p), "new");
  struct stat st {};
  ::stat(p.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FsTest, WriteAtomicFailsInMissingDirectory) {
  auto st = fs::write_atomic(dir_ + "/nope/f", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::not_found);
}

TEST_F(FsTest, ConcurrentWritersNeverTearAFile) {
  // The file exists before the writers start and the reader keeps reading
  // until both have finished, so every read overlaps the writes and every
  // read must succeed: a reader sees the whole old or the whole new content.
  const std::string p = dir_ + "/f";
  const std::string a(100000, 'a'), b(100000, 'b');
  ASSERT_TRUE(fs::write_atomic(p, a).ok());
  std::atomic<int> running{2}, write_failures{0};
  auto writer = [&](const std::string& text) {
    for (int i = 0; i < 50; ++i) {
      if (!fs::write_atomic(p, text).ok()) ++write_failures;
    }
    --running;
  };
  std::thread t1(writer, a);
  std::thread t2(writer, b);
  int reads = 0, torn = 0, failed = 0;
  do {
    auto r = fs::read_file(p);
    ++reads;
    if (!r.ok()) {
      ++failed;
    } else if (*r != a && *r != b) {
      ++torn;
    }
  } while (running.load() > 0);
  t1.join();
  t2.join();
  EXPECT_EQ(write_failures.load(), 0);
  EXPECT_EQ(failed, 0) << "of " << reads << " reads";
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
  EXPECT_GT(reads, 1);
}

TEST_F(FsTest, ReadFileRefusesOversized) {
  const std::string p = dir_ + "/big";
  ASSERT_TRUE(fs::write_atomic(p, std::string(2000, 'x')).ok());
  auto r = fs::read_file(p, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_TRUE(fs::read_file(p, 2000).ok());
}

TEST_F(FsTest, ReadFileMissingAndDirectory) {
  EXPECT_EQ(fs::read_file(dir_ + "/missing").error().code(), Errc::not_found);
  EXPECT_EQ(fs::read_file(dir_).error().code(), Errc::invalid);
}

TEST_F(FsTest, MakeDirsCreatesParentsAndRejectsFiles) {
  ASSERT_TRUE(fs::make_dirs(dir_ + "/a/b/c").ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b/c"));
  ASSERT_TRUE(fs::make_dirs(dir_ + "/a/b/c").ok());  // idempotent
  ASSERT_TRUE(fs::write_atomic(dir_ + "/file", "x").ok());
  EXPECT_FALSE(fs::make_dirs(dir_ + "/file").ok());
}

TEST_F(FsTest, ExclusiveLockExcludesAnotherProcess) {
  const std::string p = dir_ + "/lock";
  auto held = fs::FileLock::acquire(p);
  ASSERT_TRUE(held.ok());
  pid_t pid = ::fork();
  if (pid == 0) {
    auto again = fs::FileLock::try_acquire(p);
    auto timed = fs::FileLock::acquire(p, fs::FileLock::Mode::exclusive, std::chrono::milliseconds(50));
    ::_exit(!again.ok() && again.error().code() == Errc::exists && !timed.ok() &&
                    timed.error().code() == Errc::timeout
                ? 0
                : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(FsTest, LockIsReleasedOnDestruction) {
  const std::string p = dir_ + "/lock";
  { auto held = fs::FileLock::acquire(p); ASSERT_TRUE(held.ok()); }
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fs::FileLock::try_acquire(p).ok() ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(FsTest, SharedLocksCoexist) {
  const std::string p = dir_ + "/lock";
  auto a = fs::FileLock::acquire(p, fs::FileLock::Mode::shared);
  ASSERT_TRUE(a.ok());
  pid_t pid = ::fork();
  if (pid == 0) {
    bool shared_ok = fs::FileLock::try_acquire(p, fs::FileLock::Mode::shared).ok();
    bool excl_refused = !fs::FileLock::try_acquire(p, fs::FileLock::Mode::exclusive).ok();
    ::_exit(shared_ok && excl_refused ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(PathsTest, HonoursBrigHome) {
  ::setenv("BRIG_HOME", "/tmp/somewhere/", 1);
  auto p = Paths::from_env();
  EXPECT_EQ(p.home(), "/tmp/somewhere");
  EXPECT_EQ(p.global_policy(), "/tmp/somewhere/policy/network-policy.json");
  EXPECT_EQ(p.cell_policy("c1"), "/tmp/somewhere/policy/cells/c1.json");
  EXPECT_EQ(p.subnet_map(), "/tmp/somewhere/state/system/subnet-map.json");
  EXPECT_EQ(p.cell_log("c1"), "/tmp/somewhere/logs/cells/c1.jsonl");
  ::unsetenv("BRIG_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(Paths::from_env().home(), "/home/u/.brig");
}

TEST(UniqueFdTest, ClosesOnDestructionAndMove) {
  int raw = -1;
  {
    unique_fd a(::dup(0));
    raw = a.get();
    ASSERT_GE(raw, 0);
    unique_fd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
}

}  // namespace
}  // namespace brig

namespace brig {
namespace {

TEST(ListNamesTest, FiltersBySuffixAndSorts) {
  char tmpl[] = "/tmp/brig-ls-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const char* f : {"b.yaml", "a.yaml", "c.json", ".yaml"}) ASSERT_TRUE(fs::write_atomic(dir + "/" + f, "x").ok());
  EXPECT_EQ(fs::list_names(dir, ".yaml"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(fs::list_names(dir + "/missing", ".yaml").empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace brig
