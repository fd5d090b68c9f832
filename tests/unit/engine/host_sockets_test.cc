// Host sockets: the start-time check on real sockets and symlinks in a
// temporary directory, and what run, preflight, start and inspect do with it.
#include "engine/host_sockets.h"

#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using namespace brig::engine::testing;  // NOLINT: the fixture's helpers
namespace stdfs = std::filesystem;

// A listening unix socket at `path`, closed (the file stays) at the end of the test.
class Listener {
 public:
  explicit Listener(const std::string& path) {
    stdfs::create_directories(stdfs::path(path).parent_path());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    EXPECT_LT(path.size(), sizeof a.sun_path) << path;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path << ": " << std::strerror(errno);
    EXPECT_EQ(::listen(fd_, 1), 0);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  int fd_ = -1;
};

std::string real(const std::string& p) {
  char buf[PATH_MAX];
  EXPECT_NE(::realpath(p.c_str(), buf), nullptr) << p;
  return buf;
}

// Sockets live outside $BRIG_HOME (the fixture's tmp), in their own directory.
class HostSocketCheck : public EngineTest {
 protected:
  TempDir dir;
  const std::string d = real(dir.path());
  const std::string home = paths.home();

  Error refused(const std::string& host_path, const std::string& brig_home = "") {
    auto r = check_host_socket("pg", host_path, brig_home.empty() ? home : brig_home);
    EXPECT_FALSE(r.ok()) << host_path << " was accepted as " << (r ? *r : "");
    return r ? Error() : r.error();
  }
};

TEST_F(HostSocketCheck, ARealSocketIsItsRealPath) {
  Listener s(d + "/pg.sock");
  auto r = check_host_socket("pg", d + "/pg.sock", home);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, d + "/pg.sock");
}

// A directory symlink on the way (/var/run -> /run) is fine: the real path is mounted.
TEST_F(HostSocketCheck, ASocketBehindADirectorySymlinkIsItsRealPath) {
  Listener s(d + "/real/pg.sock");
  stdfs::create_directory_symlink(d + "/real", d + "/via");
  auto r = check_host_socket("pg", d + "/via/pg.sock", home);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, d + "/real/pg.sock");
}

TEST_F(HostSocketCheck, ASymlinkIsRefused) {
  Listener s(d + "/pg.sock");
  stdfs::create_symlink(d + "/pg.sock", d + "/link.sock");
  const Error e = refused(d + "/link.sock");
  EXPECT_EQ(e.message(), "host socket pg: " + d + "/link.sock is a symlink");
  EXPECT_EQ(e.fix(), "give the socket's real path in host_path (readlink -f " + d + "/link.sock)");
  EXPECT_EQ(e.exit_code(), 125);
  // A dangling one too.
  stdfs::create_symlink(d + "/nowhere.sock", d + "/dangling.sock");
  EXPECT_EQ(refused(d + "/dangling.sock").message(), "host socket pg: " + d + "/dangling.sock is a symlink");
}

TEST_F(HostSocketCheck, NotASocketIsRefused) {
  spit(d + "/file", "x");
  stdfs::create_directory(d + "/dir");
  ASSERT_EQ(::mkfifo((d + "/fifo").c_str(), 0600), 0);
  for (const char* n : {"/file", "/dir", "/fifo"}) {
    const Error e = refused(d + n);
    EXPECT_EQ(e.message(), "host socket pg: " + d + n + " is not a unix socket");
    EXPECT_EQ(e.exit_code(), 125);
  }
}

TEST_F(HostSocketCheck, AMissingSocketIsRefused) {
  const Error e = refused(d + "/gone.sock");
  EXPECT_EQ(e.message(), "host socket pg: " + d + "/gone.sock does not exist");
  EXPECT_EQ(e.fix(), "start the service that provides it, or correct host_path");
}

// spec::engine_socket judges the real path: a harmless name in front of a
// directory named after an engine is still that engine's socket.
TEST_F(HostSocketCheck, AnEngineSocketBehindASymlinkIsRefused) {
  Listener s(d + "/podman/api.sock");
  stdfs::create_directory_symlink(d + "/podman", d + "/sockets");
  const Error e = refused(d + "/sockets/api.sock");
  EXPECT_EQ(e.message(), "host socket pg: " + d + "/sockets/api.sock resolves to " + d +
                             "/podman/api.sock, which is a podman engine socket (control of the host): never mounted "
                             "into a cell");
  EXPECT_EQ(e.fix(), "remove it from host_sockets");
  EXPECT_EQ(e.exit_code(), 125);
  // And by its own name.
  Listener docker(d + "/docker.sock");
  EXPECT_EQ(refused(d + "/docker.sock").message(),
            "host socket pg: " + d + "/docker.sock is a docker engine socket (control of the host): never mounted "
                                     "into a cell");
}

TEST_F(HostSocketCheck, ASocketInsideBrigHomeIsRefused) {
  Listener s(home + "/run/api.sock");
  EXPECT_EQ(refused(home + "/run/api.sock").message(),
            "host socket pg: " + home + "/run/api.sock is inside brig's own state (" + home +
                "): never mounted into a cell");
  // Reached from outside through a symlinked directory, or with $BRIG_HOME itself a symlink.
  stdfs::create_directory_symlink(home + "/run", d + "/brig-run");
  EXPECT_THAT(refused(d + "/brig-run/api.sock").message(), HasSubstr("resolves to " + real(home) + "/run/api.sock"));
  stdfs::create_directory_symlink(home, d + "/home-link");
  EXPECT_THAT(refused(home + "/run/api.sock", d + "/home-link").message(), HasSubstr("inside brig's own state"));
}

TEST_F(HostSocketCheck, RecheckRefusesASocketThatResolvesElsewhereNow) {
  Listener a(d + "/a/pg.sock");
  Listener b(d + "/b/pg.sock");
  stdfs::create_directory_symlink(d + "/a", d + "/cur");
  CellRecord rec;
  rec.name = "c1";
  rec.host_sockets = {{"pg", d + "/cur/pg.sock", d + "/a/pg.sock", "/run/host/pg.sock", false}};
  EXPECT_TRUE(recheck_host_sockets(rec, home).ok());
  stdfs::remove(d + "/cur");
  stdfs::create_directory_symlink(d + "/b", d + "/cur");
  auto st = recheck_host_sockets(rec, home);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "host socket pg: " + d + "/cur/pg.sock now resolves to " + d + "/b/pg.sock, not to " +
                                      d + "/a/pg.sock (what cell c1 was created with)");
  EXPECT_EQ(st.error().fix(), "restore " + d + "/a/pg.sock, or remove the cell (brig cell rm c1) and run it again");
  EXPECT_EQ(st.error().exit_code(), 125);
}

// --- run, preflight and start over the FakeRunner ---

class HostSocketRun : public HostSocketCheck {
 protected:
  void SetUp() override {
    HostSocketCheck::SetUp();
    set_host_uds("host-uds=open");
  }
  void set_host_uds(const std::string& flag) {
    auto cfg = load_host_config(paths);
    ASSERT_TRUE(cfg.ok());
    cfg->runsc_host_uds = flag;
    ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  }
  spec::Resolved with_socket(const std::string& host_path, const std::string& mode = "rw") {
    spec::Resolved r = resolved();
    const auto o = spec::Origin::file("cell.yaml", 3);
    r.spec.host_sockets.set({spec::HostSocket{"pg", host_path, "/run/host/pg.sock", mode, o}}, o);
    return r;
  }
  Argv start_argv() const {
    long i = find_call({"podman", "--runtime-flag"});
    EXPECT_GE(i, 0) << all_calls();
    return i < 0 ? Argv{} : fake.calls[static_cast<std::size_t>(i)].argv;
  }
};

TEST_F(HostSocketRun, RunMountsTheRealPathAndStartsWithHostUds) {
  Listener s(d + "/real/pg.sock");
  stdfs::create_directory_symlink(d + "/real", d + "/via");
  ::testing::internal::CaptureStderr();
  run_ok(with_socket(d + "/via/pg.sock"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("note: host socket pg (/run/host/pg.sock) bypasses warden: traffic over it is neither "
                             "filtered nor logged\n"));
  EXPECT_TRUE(has_pair(run_argv(), "--volume", d + "/real/pg.sock:/run/host/pg.sock:rw")) << str(run_argv());
  EXPECT_TRUE(starts_with(run_argv(), {"podman", "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=host",
                                       "--runtime-flag", "host-uds=open", "run", "-d"}))
      << str(run_argv());
  // Inspect names it (with the mount's real source); cell.json never a host path.
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ((*j)["host_sockets"], nlohmann::json::parse(R"([{"name":"pg","mount_point":"/run/host/pg.sock","mode":"rw"}])"));
  EXPECT_EQ((*j)["mounts"].back(),
            (nlohmann::json{{"source", d + "/real/pg.sock"}, {"target", "/run/host/pg.sock"}, {"mode", "rw"}}));
  const std::string cell_json = slurp(paths.cell_state("c1") + "/brig/cell.json");
  EXPECT_THAT(cell_json, HasSubstr("/run/host/pg.sock"));
  EXPECT_THAT(cell_json, Not(HasSubstr(d)));
}

TEST_F(HostSocketRun, QuietRunPrintsNoNote) {
  Listener s(d + "/pg.sock");
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_socket(d + "/pg.sock"), RunOptions{.detach = true, .quiet = true});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_THAT(err, Not(HasSubstr("bypasses warden")));
}

// A symlink swapped in after validation: refused before anything is made.
TEST_F(HostSocketRun, RunRefusesASymlinkBeforeAnythingIsMade) {
  Listener s(d + "/pg.sock");
  stdfs::create_symlink(d + "/pg.sock", d + "/link.sock");
  auto rc = engine.run(with_socket(d + "/link.sock"), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "host socket pg: " + d + "/link.sock is a symlink");
  EXPECT_EQ(rc.error().exit_code(), 125);
  EXPECT_FALSE(called({"podman", "network", "create"})) << all_calls();
  EXPECT_LT(find_run(), 0);
  expect_no_trace_of_c1();
}

TEST_F(HostSocketRun, RunRefusesWhenRunscCannotReachHostSockets) {
  Listener s(d + "/pg.sock");
  set_host_uds("");
  auto rc = engine.run(with_socket(d + "/pg.sock"), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(),
            "this runsc cannot connect a cell to a host unix socket (it has neither -host-uds nor "
            "-fsgofer-host-uds, or brig system init has not probed it yet)");
  EXPECT_EQ(rc.error().fix(), "upgrade runsc, then brig system init (it probes runsc again); or remove host_sockets");
  EXPECT_LT(find_run(), 0);
  expect_no_trace_of_c1();
  // A runc cell needs no runsc flag.
  spec::Resolved runc = with_socket(d + "/pg.sock");
  runc.spec.runtime.set("runc", spec::Origin::flag("--runtime"));
  run_ok(runc);
}

TEST_F(HostSocketRun, PreflightListsEachSocketWithRunsWords) {
  Listener s(d + "/pg.sock");
  std::vector<Check> socket_checks;
  for (const auto& c : engine.preflight(with_socket(d + "/pg.sock", "ro"))) {
    if (c.name == "host socket pg") socket_checks.push_back(c);
  }
  ASSERT_EQ(socket_checks.size(), 1u);
  EXPECT_EQ(socket_checks[0].level, Check::Level::ok);
  EXPECT_EQ(socket_checks[0].detail, d + "/pg.sock -> /run/host/pg.sock (ro, bypasses warden)");

  stdfs::create_symlink(d + "/pg.sock", d + "/link.sock");
  const spec::Resolved bad = with_socket(d + "/link.sock");
  auto rc = engine.run(bad, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  std::vector<Check> failed;
  for (const auto& c : engine.preflight(bad)) {
    if (c.level == Check::Level::fail) failed.push_back(c);
  }
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].name, "host socket pg");
  EXPECT_EQ(failed[0].detail, rc.error().message());
  EXPECT_EQ(failed[0].fix, rc.error().fix());
}

TEST_F(HostSocketRun, StartChecksAgainAndPassesTheFlagAgain) {
  Listener s(d + "/pg.sock");
  run_ok(with_socket(d + "/pg.sock"));
  fake.calls.clear();
  ASSERT_TRUE(engine.start("c1").ok());
  EXPECT_TRUE(has_pair(start_argv(), "--runtime-flag", "host-uds=open")) << all_calls();
}

// Swapped for a symlink while the cell was stopped: start refuses before
// anything changes (no network, no podman start).
TEST_F(HostSocketRun, StartRefusesASymlinkSwappedInWhileStopped) {
  Listener s(d + "/pg.sock");
  run_ok(with_socket(d + "/pg.sock"));
  stdfs::rename(d + "/pg.sock", d + "/real.sock");
  stdfs::create_symlink(d + "/real.sock", d + "/pg.sock");
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "host socket pg: " + d + "/pg.sock is a symlink");
  EXPECT_EQ(st.error().exit_code(), 125);
  EXPECT_FALSE(called({"podman", "network"})) << all_calls();
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
}

// From the Mac: host_path is the Mac's; the engine checks and mounts the
// socket the thin client bridged it to, and so does every start.
TEST_F(HostSocketRun, FromTheMacTheBridgedSocketIsCheckedAndMounted) {
  auto bridge = std::make_unique<Listener>(d + "/bridges/0.sock");
  spec::Resolved r = with_socket("/Users/a/pg.sock");
  r.host_socket_bridges = {{"pg", d + "/bridges/0.sock"}};
  run_ok(r);
  EXPECT_TRUE(has_pair(run_argv(), "--volume", d + "/bridges/0.sock:/run/host/pg.sock:rw")) << str(run_argv());
  const std::string record = slurp(paths.cell_state("c1") + "/cell-state.json");
  EXPECT_THAT(record, HasSubstr("\"host_path\": \"/Users/a/pg.sock\""));

  bridge.reset();
  stdfs::remove(d + "/bridges/0.sock");  // the bridge is down
  fake.calls.clear();
  auto st = engine.start("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "host socket pg: " + d + "/bridges/0.sock does not exist");
  EXPECT_EQ(st.error().fix(), "start the cell from the Mac (brig cell start c1): brig there bridges /Users/a/pg.sock "
                              "into the VM");
  EXPECT_FALSE(called({"podman", "--runtime-flag"})) << all_calls();
}

}  // namespace
}  // namespace brig::engine
