// The everyday verbs as a docker user expects them, on real podman + runsc:
// a terminal in a cell, ls in a Debian image, stdin, cp, a missing command.
#include "e2e/e2e_fixture.h"
#include "util/files.h"

namespace brig::testing::e2e {
namespace {

TEST_F(Cells, ShellOpensUnderATerminalAndExitClosesIt) {
  running("e2e-tty");
  auto out = brig_on_tty({"cell", "shell", "e2e-tty"}, "echo hi-$((6*7)); [ -t 0 ] && echo is-a-tty; exit 3\n");
  EXPECT_EQ(out.exit_code, 3) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("hi-42"));
  EXPECT_THAT(out.out, HasSubstr("is-a-tty"));
  EXPECT_THAT(out.out, Not(HasSubstr("flag provided but not defined")));
}

TEST_F(Cells, ExecWithATerminalRunsTheCommandOnOne) {
  running("e2e-tty");
  auto out = brig_on_tty({"cell", "exec", "-it", "e2e-tty", "--", "sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on-a-tty"}, "");
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("on-a-tty"));
}

TEST_F(Cells, LsAndStatWorkInADebianImage) {
  running("e2e-deb", kDebian);
  auto ls = brig({"cell", "exec", "e2e-deb", "--", "ls", "-la", "/work", "/etc/hostname"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("hostname"));
  EXPECT_THAT(ls.err, Not(HasSubstr("Invalid argument")));
  auto st = brig({"cell", "exec", "e2e-deb", "--", "stat", "-c", "%n %F", "/etc"});
  EXPECT_EQ(st.exit_code, 0) << st.err;
  EXPECT_THAT(st.out, HasSubstr("/etc directory"));
  auto cp = brig({"cell", "exec", "e2e-deb", "--", "sh", "-c", "cp -r /etc/apt /tmp/apt && ls /tmp/apt"});
  EXPECT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_THAT(cp.out, HasSubstr("sources.list"));
}

TEST_F(Cells, RunAndExecForwardPipedStdin) {
  auto out = brig({"run", "--rm", "--name", "e2e-stdin", kBusybox, "--", "cat"}, {}, "piped-in\n");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "piped-in\n");
  running("e2e-tty");
  auto ex = brig({"cell", "exec", "e2e-tty", "--", "wc", "-c"}, {}, "12345");
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_THAT(ex.out, HasSubstr("5"));
  auto i = brig({"run", "--rm", "-i", "--name", "e2e-stdin-i", kBusybox, "--", "cat"}, {}, "with -i\n");
  EXPECT_EQ(i.out, "with -i\n") << i.err;
}

TEST_F(Cells, AMissingCommandExits127WithBrigsWordsAndLeavesNothing) {
  for (bool detach : {false, true}) {
    std::vector<std::string> a = {"run", "--name", "e2e-nocmd"};
    if (detach) a.push_back("-d");
    a.insert(a.end(), {kBusybox, "--", "nosuch-cmd"});
    auto out = brig(a);
    EXPECT_EQ(out.exit_code, 127) << out.out << out.err;
    EXPECT_THAT(out.err, HasSubstr("\"nosuch-cmd\" is not in the image"));
    EXPECT_THAT(out.err, Not(HasSubstr("Error: unable to start container")));
    EXPECT_NE(run({"/usr/bin/podman", "container", "exists", "brig-e2e-nocmd"}).exit_code, 0);
    EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-nocmd"));
    auto list = brig({"cell", "list", "--all"});
    EXPECT_THAT(list.out, Not(HasSubstr("e2e-nocmd")));
  }
  auto dir = brig({"run", "--rm", kBusybox, "--", "/etc"});
  EXPECT_EQ(dir.exit_code, 126) << dir.err;
  EXPECT_THAT(dir.err, HasSubstr("cannot be executed"));
}

TEST_F(Cells, CpMovesFilesAndDirectoriesBothWaysInARunningCell) {
  running("e2e-cp");
  const std::string d = dir_ + "/cp";
  stdfs::create_directories(d + "/tree/sub");
  std::ofstream(d + "/tree/sub/f.txt") << "tree-file";
  std::ofstream(d + "/one.txt") << "one";
  // Into the cell: a file into a directory, a directory under a new name.
  EXPECT_EQ(brig({"cell", "cp", d + "/one.txt", "e2e-cp:/tmp/"}).exit_code, 0);
  auto in = brig({"cell", "cp", d + "/tree", "e2e-cp:/tmp/copied"});
  EXPECT_EQ(in.exit_code, 0) << in.err;
  auto check = brig({"cell", "exec", "e2e-cp", "--", "cat", "/tmp/one.txt", "/tmp/copied/sub/f.txt"});
  EXPECT_EQ(check.out, "onetree-file");
  // Out of the cell: a directory to a new name creates it, touching nothing else.
  std::ofstream(d + "/keep.txt") << "mine";
  auto out = brig({"cell", "cp", "e2e-cp:/tmp/copied", d + "/back"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(slurp(d + "/back/sub/f.txt"), "tree-file");
  EXPECT_FALSE(stdfs::exists(d + "/sub"));
  EXPECT_EQ(slurp(d + "/keep.txt"), "mine");
  // The root filesystem is read-only: said so, with where to write.
  auto ro = brig({"cell", "cp", d + "/one.txt", "e2e-cp:/etc/"});
  EXPECT_NE(ro.exit_code, 0);
  EXPECT_THAT(ro.err, HasSubstr("read-only"));
  // A trailing slash names a directory that must exist.
  auto slash = brig({"cell", "cp", "e2e-cp:/tmp/one.txt", d + "/nodir/"});
  EXPECT_NE(slash.exit_code, 0);
  EXPECT_FALSE(stdfs::exists(d + "/nodir"));
}

TEST_F(Cells, CpOutOfAStoppedCellsWorkspaceCreatesTheNamedDirectory) {
  auto made = brig({"run", "--name", "e2e-cpstop", kBusybox, "--", "sh", "-c", "mkdir -p /work/w && echo saved > /work/w/s.txt"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string d = dir_ + "/cpstop";
  stdfs::create_directories(d);
  std::ofstream(d + "/s.txt") << "do not touch";
  auto out = brig({"cell", "cp", "e2e-cpstop:/work", d + "/backup"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(slurp(d + "/backup/w/s.txt"), "saved\n");
  EXPECT_EQ(slurp(d + "/s.txt"), "do not touch");
  auto outside = brig({"cell", "cp", "e2e-cpstop:/etc/hostname", d + "/h"});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_THAT(outside.err, HasSubstr("brig cell start e2e-cpstop"));
}

}  // namespace
}  // namespace brig::testing::e2e
