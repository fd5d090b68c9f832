// Reading a cell's workspace from the host without following what the cell planted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "brig/engine/workspace.h"
#include "unit/engine/engine_test_util.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using testing::spit;
using testing::TempDir;
namespace stdfs = std::filesystem;

class Workspace : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string ws = tmp.path() + "/ws";
  void SetUp() override { stdfs::create_directories(ws); }

  // The content read through the fd open_in_workspace returns.
  std::string read_via(const std::string& rel, const std::string& mount = "/work") {
    auto fd = open_in_workspace(ws, rel, mount);
    EXPECT_TRUE(fd.ok()) << rel << ": " << (fd ? "" : fd.error().message());
    if (!fd) return "";
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd->get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  Error error_of(const std::string& rel, const std::string& mount = "/work") {
    auto fd = open_in_workspace(ws, rel, mount);
    EXPECT_FALSE(fd.ok()) << rel << " opened";
    return fd ? Error() : fd.error();
  }
};

TEST_F(Workspace, ReadsARegularFile) {
  spit(ws + "/a.txt", "hello\n");
  spit(ws + "/sub/dir/b.txt", "deep");
  EXPECT_EQ(read_via("a.txt"), "hello\n");
  EXPECT_EQ(read_via("./sub//dir/b.txt"), "deep");
}

TEST_F(Workspace, AbsolutePathUnderTheMount) {
  spit(ws + "/a.txt", "hello\n");
  spit(ws + "/sub/b.txt", "b");
  EXPECT_EQ(read_via("/work/a.txt"), "hello\n");
  EXPECT_EQ(read_via("/work/sub/b.txt"), "b");
  EXPECT_EQ(read_via("/data/sub/b.txt", "/data"), "b");
}

TEST_F(Workspace, DotDotIsRefused) {
  spit(tmp.path() + "/outside.txt", "secret");
  for (const std::string rel : {"../outside.txt", "/work/../outside.txt", "sub/../../outside.txt"}) {
    Error e = error_of(rel);
    EXPECT_EQ(e.code(), Errc::usage) << rel;
    EXPECT_THAT(e.message(), HasSubstr("\"..\"")) << rel;
  }
  EXPECT_EQ(error_of("../outside.txt").message(), "path \"../outside.txt\" contains \"..\"");
}

// The fix names the cell when the caller knows it, never a placeholder.
TEST_F(Workspace, MissingFileFixNamesTheCell) {
  auto fd = open_in_workspace(ws, "nope.txt", "/work", "c1");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().message(), "nope.txt does not exist in the workspace");
  EXPECT_EQ(fd.error().fix(), "brig cell exec c1 -- ls /work");
  auto none = open_in_workspace(ws, "/work/", "/work", "c1");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().fix(), "brig cell exec c1 -- ls /work");
}

TEST_F(Workspace, SymlinkedFileIsRefused) {
  spit(tmp.path() + "/outside.txt", "secret");
  stdfs::create_symlink(tmp.path() + "/outside.txt", ws + "/link.txt");
  Error e = error_of("link.txt");
  EXPECT_EQ(e.code(), Errc::usage);
  EXPECT_THAT(e.message(), HasSubstr("symlink"));
  EXPECT_THAT(e.message(), ::testing::StartsWith("link.txt "));
}

TEST_F(Workspace, SymlinkedIntermediateDirIsRefused) {
  spit(tmp.path() + "/outside/x.txt", "secret");
  stdfs::create_directories(ws + "/real");
  stdfs::create_symlink(tmp.path() + "/outside", ws + "/real/dir");
  Error e = error_of("real/dir/x.txt");
  EXPECT_EQ(e.code(), Errc::usage);
  EXPECT_THAT(e.message(), ::testing::StartsWith("real/dir is a symlink"));
}

TEST_F(Workspace, MissingIsNotFound) {
  Error e = error_of("nope/x.txt");
  EXPECT_EQ(e.code(), Errc::not_found);
  EXPECT_EQ(e.message(), "nope does not exist in the workspace");
  EXPECT_EQ(e.fix(), "brig cell exec CELL -- ls /work");
}

TEST_F(Workspace, DirectoryIsNotARegularFile) {
  stdfs::create_directories(ws + "/sub");
  Error e = error_of("sub");
  EXPECT_EQ(e.code(), Errc::usage);
  EXPECT_EQ(e.message(), "sub is not a regular file");
}

TEST_F(Workspace, FifoIsNotOpenedForReadingAndDoesNotBlock) {
  ASSERT_EQ(::mkfifo((ws + "/pipe").c_str(), 0644), 0);
  Error e = error_of("pipe");
  EXPECT_EQ(e.message(), "pipe is not a regular file");
}

TEST_F(Workspace, EmptyPathIsUsage) {
  EXPECT_EQ(error_of("/work").code(), Errc::usage);
  EXPECT_EQ(error_of("").code(), Errc::usage);
}

TEST_F(Workspace, CountFiles) {
  EXPECT_EQ(count_files(tmp.path() + "/absent"), 0u);
  EXPECT_EQ(count_files(ws), 0u);
  spit(ws + "/a.txt", "a");
  spit(ws + "/sub/b.txt", "b");
  spit(ws + "/sub/deeper/c.txt", "c");
  // a.txt, sub, sub/b.txt, sub/deeper, sub/deeper/c.txt
  EXPECT_EQ(count_files(ws), 5u);
}

TEST_F(Workspace, CountFilesDoesNotFollowSymlinkedDirs) {
  spit(ws + "/a.txt", "a");
  for (int i = 0; i < 10; ++i) spit(tmp.path() + "/outside/f" + std::to_string(i), "x");
  stdfs::create_symlink(tmp.path() + "/outside", ws + "/link");
  // outside/ (10 files) is never walked. a.txt counts; whether the link entry
  // itself counts is loose (the header says "regular files and directories",
  // the implementation counts every entry).
  EXPECT_LE(count_files(ws), 2u);
  EXPECT_GE(count_files(ws), 1u);
}

// brig cell rm: when the workspace goes, stays, is asked about or refused.
using Action = WorkspaceDecision::Action;

WorkspaceRemoval removal(std::size_t files) {
  WorkspaceRemoval in;
  in.cell = "c1";
  in.owned = true;
  in.files = files;
  return in;
}

TEST(WorkspaceRemovalRule, EmptyWorkspaceIsRemovedWithoutAsking) {
  auto d = decide_workspace_removal(removal(0));
  EXPECT_EQ(d.action, Action::remove);
  EXPECT_EQ(d.message, "");
}

TEST(WorkspaceRemovalRule, KeepWorkspaceKeepsEvenWithForce) {
  auto in = removal(3);
  in.keep_workspace = true;
  in.force = true;
  EXPECT_EQ(decide_workspace_removal(in).action, Action::keep);
  in.owned = false;
  EXPECT_EQ(decide_workspace_removal(in).action, Action::keep);
  in.files = 0;
  EXPECT_EQ(decide_workspace_removal(in).action, Action::keep);
}

TEST(WorkspaceRemovalRule, ForceRemovesFilesWithoutATerminal) {
  auto in = removal(3);
  in.force = true;
  EXPECT_EQ(decide_workspace_removal(in).action, Action::remove);
}

TEST(WorkspaceRemovalRule, AUserMountedWorkspaceIsNeverAskedAbout) {
  // Engine::remove leaves a directory the user mounted in place.
  auto in = removal(3);
  in.owned = false;
  EXPECT_EQ(decide_workspace_removal(in).action, Action::remove);
}

TEST(WorkspaceRemovalRule, FilesWithoutATerminalAreRefused) {
  auto d = decide_workspace_removal(removal(3));
  EXPECT_EQ(d.action, Action::refuse);
  EXPECT_EQ(d.message, "the workspace of c1 holds 3 files");
  EXPECT_EQ(d.fix, "brig cell rm c1 --force (delete it) or --keep-workspace");
}

TEST(WorkspaceRemovalRule, FilesOnATerminalAreAskedAbout) {
  auto in = removal(2);
  in.tty = true;
  auto d = decide_workspace_removal(in);
  EXPECT_EQ(d.action, Action::ask);
  EXPECT_EQ(d.message, "the workspace of c1 holds 2 files; delete it?");
}

// Anything but yes (an empty line and EOF included) aborts: the cell stays too.
TEST(WorkspaceRemovalRule, OnlyYesDeletesAnyOtherAnswerAborts) {
  auto in = removal(2);
  in.tty = true;
  for (const char* yes : {"y", "Y", "yes"}) {
    in.answer = yes;
    EXPECT_EQ(decide_workspace_removal(in).action, Action::remove) << yes;
  }
  for (const char* no : {"", "n", "N", "no", "YES", " y", "yes please"}) {
    in.answer = no;
    auto d = decide_workspace_removal(in);
    EXPECT_EQ(d.action, Action::abort) << "'" << no << "'";
    EXPECT_EQ(d.message, "not removed: c1 and its workspace are untouched");
    EXPECT_EQ(d.fix, "brig cell rm c1 --keep-workspace (removes the cell, keeps the files)");
  }
}

TEST_F(Workspace, RemovalCountsTheWorkspaceOnDisk) {
  WorkspaceRemoval in;
  in.cell = "c1";
  EXPECT_EQ(decide_workspace_removal(in, ws, ws).action, Action::remove);  // empty
  spit(ws + "/a.txt", "a");
  auto d = decide_workspace_removal(in, ws, ws);
  EXPECT_EQ(d.action, Action::refuse);
  EXPECT_EQ(d.message, "the workspace of c1 holds 1 file");
  // A workspace elsewhere (the user's --workspace) is not brig's to delete or ask about.
  EXPECT_EQ(decide_workspace_removal(in, ws, tmp.path() + "/state/c1/workspace").action, Action::remove);
  in.keep_workspace = true;
  EXPECT_EQ(decide_workspace_removal(in, ws, ws).action, Action::keep);
}

}  // namespace
}  // namespace brig::engine
