#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

TEST_F(Cells, AllowedHttpsSucceedsWithTheAutoMountedCaAndNoFlags) {
  auto out = in_cell("e2e-allow", "curl -sS --max-time 20 https://allowed.test/hello", {"--allow", "allowed.test"}, kDebian);
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /hello"));
}

TEST_F(Cells, DisallowedRequestIsRefusedWithWardensReason) {
  auto out = in_cell("e2e-deny", "curl -sS --max-time 20 http://denied.test/x", {"--allow", "allowed.test"}, kDebian);
  EXPECT_THAT(out.out, HasSubstr("e2e-deny"));
  EXPECT_THAT(out.out, HasSubstr("brig policy set e2e-deny --allow denied.test"));
  auto net = brig({"cell", "network", "e2e-deny"});
  // The cell is gone (--rm) but its warden log stays until pruned.
  EXPECT_THAT(net.out + net.err, HasSubstr("denied.test"));
}

TEST_F(Cells, IgnoringTheProxyGetsNowhere) {
  const std::string a = upstream_->address();
  auto out = in_cell("e2e-direct",
                     "curl -sS --noproxy '*' --max-time 5 http://" + a + "/ && echo DIRECT-OK; "
                     "curl -sS --noproxy '*' --max-time 5 -k https://" + a + "/ && echo DIRECT-OK; "
                     "curl -sS --max-time 10 http://allowed.test/ok",
                     {"--allow", "allowed.test"}, kDebian);
  EXPECT_THAT(out.out, Not(HasSubstr("DIRECT-OK")));
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /ok"));  // the proxy path works
}

TEST_F(Cells, CannotReachAnotherCellByIp) {
  auto a = brig({"run", "-d", "--name", "e2e-peer", kBusybox, "--", "sh", "-c",
                 "while true; do echo pong | nc -l -p 8080; done"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string peer = inspect("e2e-peer")["address"];
  // Positive control: the listener answers inside its own cell.
  auto self = brig({"cell", "exec", "e2e-peer", "--", "sh", "-c", "echo ping | nc -w 3 127.0.0.1 8080"});
  EXPECT_THAT(self.out, HasSubstr("pong"));
  auto out = in_cell("e2e-attacker", "echo ping | nc -w 3 " + peer + " 8080 && echo REACHED; echo done");
  EXPECT_THAT(out.out, Not(HasSubstr("pong")));
  EXPECT_THAT(out.out, Not(HasSubstr("REACHED")));
  EXPECT_THAT(out.out, HasSubstr("done"));
  brig({"cell", "rm", "--force", "e2e-peer"});
}

TEST_F(Cells, CannotReachHostServicesOrWardensOpsPort) {
  // A host service listening on every address, as careless services do.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  auto cell = brig({"run", "-d", "--name", "e2e-host", kBusybox, "--", "sleep", "300"});
  ASSERT_EQ(cell.exit_code, 0) << cell.err;
  const std::string me = inspect("e2e-host")["address"];
  const std::string gw = gateway_of(me);
  const std::string warden = gw.substr(0, gw.size() - 1) + "2";
  auto probe = [&](const std::string& host, const std::string& p) {
    auto out = brig({"cell", "exec", "e2e-host", "--", "sh", "-c", "echo x | nc -w 3 " + host + " " + p + " >/dev/null && echo OPEN || echo CLOSED"});
    return std::string(out.out);
  };
  EXPECT_THAT(probe(gw, port), HasSubstr("CLOSED")) << "host service on the gateway";
  EXPECT_THAT(probe(upstream_->address().substr(0, upstream_->address().rfind('.')) + ".1", port), HasSubstr("CLOSED"))
      << "host service on another host address";
  EXPECT_THAT(probe(warden, "9464"), HasSubstr("CLOSED")) << "warden's ops port";
  EXPECT_THAT(probe("10.59.0.2", "9464"), HasSubstr("CLOSED")) << "warden's external address";
  EXPECT_THAT(probe(gw, "22"), HasSubstr("CLOSED"));
  EXPECT_THAT(probe(warden, "3128"), HasSubstr("OPEN")) << "positive control: warden's proxy port";
  ::close(fd);
  brig({"cell", "rm", "--force", "e2e-host"});
}

TEST_F(Cells, SecretsAreFilesNeverEnvironment) {
  add_secret("e2e-token", "s3cr3t-value-42");
  auto out = in_cell("e2e-secret", "cat /run/secrets/e2e-token; echo; env; echo x > /run/secrets/e2e-token && echo WROTE; true",
                     {"--secret", "e2e-token"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("s3cr3t-value-42\n"));
  const auto env_part = out.out.substr(out.out.find('\n') + 1);
  EXPECT_THAT(env_part, Not(HasSubstr("s3cr3t-value-42")));
  EXPECT_THAT(out.out, Not(HasSubstr("WROTE")));
  auto list = brig({"secrets", "list"});
  EXPECT_THAT(list.out, HasSubstr("e2e-token"));
  EXPECT_THAT(list.out, Not(HasSubstr("s3cr3t")));
}

TEST_F(Cells, WritesOnlyToWorkspaceTmpAndRun) {
  auto out = in_cell("e2e-fs",
                     "touch /etc/x && echo ETC; touch /bin/x && echo BIN; touch /work/ok && echo WORK; "
                     "touch /tmp/ok && echo TMP; touch /run/ok && echo RUN; cat /run/brig/cell.json");
  EXPECT_THAT(out.out, Not(HasSubstr("ETC")));
  EXPECT_THAT(out.out, Not(HasSubstr("BIN")));
  EXPECT_THAT(out.out, HasSubstr("WORK"));
  EXPECT_THAT(out.out, HasSubstr("TMP"));
  EXPECT_THAT(out.out, HasSubstr("RUN"));
  EXPECT_THAT(out.out, HasSubstr("\"name\": \"e2e-fs\""));
  EXPECT_THAT(out.out, Not(HasSubstr(home_)));  // cell.json holds no host path
}

TEST_F(Cells, CannotExecuteFromTmp) {
  auto out = in_cell("e2e-noexec", "cp /bin/busybox /tmp/bb && chmod +x /tmp/bb && /tmp/bb echo EXECUTED; echo done");
  EXPECT_THAT(out.out, Not(HasSubstr("EXECUTED")));
  EXPECT_THAT(out.out, HasSubstr("done"));
}

TEST_F(Cells, MemoryAndPidsLimitsStopTheCell) {
  auto mem = in_cell("e2e-mem", "tail /dev/zero; echo SURVIVED", {"--memory", "64m"});
  EXPECT_NE(mem.exit_code, 0);
  EXPECT_THAT(mem.out, Not(HasSubstr("SURVIVED")));
  auto pids = in_cell("e2e-pids", "i=0; while [ $i -lt 3000 ]; do sleep 30 & i=$((i+1)); done; echo SPAWNED-ALL",
                      {"--pids-limit", "1000"});
  EXPECT_THAT(pids.out, Not(HasSubstr("SPAWNED-ALL")));
}

TEST_F(Cells, KernelIsGvisor) {
  auto out = in_cell("e2e-kernel", "dmesg | head -n 3; cat /proc/version");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("gVisor"));
  auto verify = brig({"system", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A failed run leaves no container, state, policy, subnet or network: made
// for it (the spares all held by other cells, so each step runs) or taken
// from the spares (removed, not handed back).
TEST_F(Cells, RollbackLeavesNothingBehind) {
  auto expect_no_trace = [&](const std::string& name, const std::string& step) {
    EXPECT_NE(run({"/usr/bin/podman", "container", "exists", "brig-" + name}).exit_code, 0) << step;
    EXPECT_FALSE(stdfs::exists(home_ + "/state/" + name)) << step;
    EXPECT_FALSE(stdfs::exists(home_ + "/policy/cells/" + name + ".json")) << step;
    std::ifstream map(home_ + "/state/system/subnet-map.json");
    std::string text((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
    EXPECT_THAT(text, Not(HasSubstr(name))) << step;
  };
  // Hold every spare, so the runs below make their own network.
  std::vector<std::string> holders;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // every spare can be handed out
  const std::size_t held = spare_networks().size();
  for (std::size_t i = 0; i < held; ++i) {
    holders.push_back("e2e-rb-hold-" + std::to_string(i));
    auto h = brig({"run", "-d", "--name", holders.back(), kBusybox, "--", "sleep", "300"});
    ASSERT_EQ(h.exit_code, 0) << h.err;
  }
  ASSERT_TRUE(spare_networks().empty());
  for (const char* step : {"network", "connect", "create", "start"}) {
    const std::string name = std::string("e2e-rb-") + step;
    const auto before = cell_networks();
    auto out = brig({"run", "--name", name, kBusybox, "--", "true"}, {std::string("BRIG_FAIL_AT=") + step});
    EXPECT_NE(out.exit_code, 0) << step;
    EXPECT_THAT(out.err, HasSubstr("step " + std::string(step) + " failed")) << step;
    EXPECT_EQ(cell_networks(), before) << step;
    expect_no_trace(name, step);
  }
  // Their networks become spares; a run that takes one and fails removes it.
  for (const auto& h : holders) EXPECT_EQ(brig({"cell", "rm", "--force", h}).exit_code, 0) << h;
  const auto spares = spare_networks();
  ASSERT_EQ(spares.size(), holders.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a freed spare is handed out after a second
  auto out = brig({"run", "--name", "e2e-rb-spare", kBusybox, "--", "true"}, {"BRIG_FAIL_AT=start"});
  EXPECT_NE(out.exit_code, 0);
  expect_no_trace("e2e-rb-spare", "start from a spare");
  const auto left = spare_networks();
  EXPECT_EQ(left.size(), spares.size() - 1);
  for (const auto& n : spares) {
    const bool exists = run({"/usr/bin/podman", "network", "exists", n}).exit_code == 0;
    EXPECT_EQ(exists, left.count(n) == 1) << n << ": the one taken is gone, the others stay";
  }
  auto events = brig({"--format", "json", "system", "events"});
  EXPECT_THAT(events.out, HasSubstr("\"event\":\"rollback\""));
}

TEST_F(Cells, SameNameTwiceIsRefusedWithAFix) {
  auto a = brig({"run", "-d", "--name", "e2e-twice", kBusybox, "--", "sleep", "60"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = brig({"run", "-d", "--name", "e2e-twice", kBusybox, "--", "sleep", "60"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_THAT(b.err, HasSubstr("already exists"));
  EXPECT_THAT(b.err, HasSubstr("brig cell rm e2e-twice"));
  // A user container whose name merely contains "brig-" is not a cell.
  run({"/usr/bin/podman", "run", "-d", "--name", "my-brig-x", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
       kBusybox, "sleep", "60"});
  auto list = brig({"cell", "list", "--all"});
  EXPECT_THAT(list.out, HasSubstr("e2e-twice"));
  EXPECT_THAT(list.out, Not(HasSubstr("my-brig-x")));
  EXPECT_THAT(list.out, Not(HasSubstr("brig-warden")));
  run({"/usr/bin/podman", "rm", "-f", "-t", "0", "my-brig-x"});
  brig({"cell", "rm", "--force", "e2e-twice"});
}

TEST_F(Cells, DownUpAndStartBringsEgressBack) {
  auto a = brig({"run", "-d", "--name", "e2e-restart", "--allow", "allowed.test", kDebian, "--", "sleep", "600"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(brig({"system", "down"}).exit_code, 0);
  EXPECT_NE(run({"/usr/bin/nft", "list", "table", "inet", "brig"}).exit_code, 0);
  EXPECT_FALSE(stdfs::exists(home_ + "/run/api.sock"));  // down stops the API
  auto up = brig({"system", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_TRUE(stdfs::exists(home_ + "/run/api.sock"));
  auto start = brig({"cell", "start", "e2e-restart"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto out = brig({"cell", "exec", "e2e-restart", "--", "curl", "-sS", "--max-time", "20", "https://allowed.test/back"});
  EXPECT_THAT(out.out, HasSubstr("upstream allowed.test GET /back")) << out.err;
  brig({"cell", "rm", "--force", "e2e-restart"});
}

TEST_F(Cells, TenConcurrentDetachedRunsGetDistinctSubnets) {
  std::vector<std::future<proc::Output>> runs;
  for (int i = 0; i < 10; ++i) {
    runs.push_back(std::async(std::launch::async, [i] {
      return brig({"run", "-d", "--name", "e2e-many-" + std::to_string(i), kBusybox, "--", "sleep", "120"});
    }));
  }
  for (auto& r : runs) {
    auto out = r.get();
    EXPECT_EQ(out.exit_code, 0) << out.err;
  }
  std::set<std::string> addresses;
  for (int i = 0; i < 10; ++i) addresses.insert(inspect("e2e-many-" + std::to_string(i)).value("address", ""));
  EXPECT_EQ(addresses.size(), 10u);
  auto list = brig({"cell", "list"});
  for (int i = 0; i < 10; ++i) EXPECT_THAT(list.out, HasSubstr("e2e-many-" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) brig({"cell", "rm", "--force", "e2e-many-" + std::to_string(i)});
}

TEST_F(Cells, VerifyReportsAForeignContainerOnACellNetwork) {
  auto a = brig({"run", "-d", "--name", "e2e-verify", kBusybox, "--", "sleep", "120"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string network = inspect("e2e-verify").value("network", "");
  ASSERT_FALSE(network.empty());
  auto foreign = run({"/usr/bin/podman", "run", "-d", "--name", "e2e-intruder", "--network", network, "--ulimit",
                      "nofile=1024:1024", "--ulimit", "nproc=1024:1024", kBusybox, "sleep", "120"});
  ASSERT_EQ(foreign.exit_code, 0) << foreign.err;
  auto v = brig({"system", "verify"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.out, HasSubstr("foreign container e2e-intruder"));
  run({"/usr/bin/podman", "rm", "-f", "-t", "0", "e2e-intruder"});
  auto clean = brig({"system", "verify"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  // A rule slipped into brig's bridge chain that would open the cell bridges.
  ASSERT_EQ(run({"/usr/sbin/nft", "insert", "rule", "bridge", "brig", "forward", "ip", "saddr", "10.60.0.0/16", "accept"}).exit_code, 0);
  auto tampered = brig({"system", "verify"});
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_THAT(tampered.out, HasSubstr("unexpected rule: ip saddr 10.60.0.0/16 accept"));
  ASSERT_EQ(brig({"system", "up"}).exit_code, 0);  // up reinstalls the tables
  EXPECT_EQ(brig({"system", "verify"}).exit_code, 0);
  // One more port opened to cells inside warden's own network namespace.
  std::string pid = run({"/usr/bin/podman", "inspect", "-f", "{{.State.Pid}}", "brig-warden"}).out;
  pid.erase(pid.find_last_not_of(" \n") + 1);
  ASSERT_EQ(run({"nsenter", "--net=/proc/" + pid + "/ns/net", "--", "/usr/sbin/nft", "insert", "rule", "inet", "brig_warden",
                 "input", "ip", "saddr", "10.60.0.0/16", "tcp", "dport", "22", "accept"}).exit_code, 0);
  auto inside = brig({"system", "verify"});
  EXPECT_EQ(inside.exit_code, 1);
  EXPECT_THAT(inside.out, HasSubstr("inside warden: inet brig_warden input: unexpected rule: ip saddr 10.60.0.0/16 tcp dport 22 accept"));
  ASSERT_EQ(brig({"system", "up"}).exit_code, 0);
  EXPECT_EQ(brig({"system", "verify"}).exit_code, 0);
  brig({"cell", "rm", "--force", "e2e-verify"});
}

TEST_F(Cells, ReadRefusesSymlinksOutOfTheWorkspace) {
  auto a = brig({"run", "-d", "--name", "e2e-read", kBusybox, "--", "sh", "-c",
                 "echo hello > /work/out.txt; ln -s /etc/passwd /work/link; mkdir /work/d; ln -s / /work/d/up; sleep 120"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto ok = brig({"cell", "read", "e2e-read", "out.txt"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "hello\n");
  auto link = brig({"cell", "read", "e2e-read", "link"});
  EXPECT_NE(link.exit_code, 0);
  EXPECT_THAT(link.err, HasSubstr("symlink"));
  auto up = brig({"cell", "read", "e2e-read", "d/up/etc/passwd"});
  EXPECT_NE(up.exit_code, 0);
  auto dots = brig({"cell", "read", "e2e-read", "../../config.json"});
  EXPECT_NE(dots.exit_code, 0);
  EXPECT_THAT(dots.err, HasSubstr(".."));
  auto rm = brig({"cell", "rm", "e2e-read"});  // no TTY, workspace has files
  EXPECT_EQ(rm.exit_code, 2);
  EXPECT_THAT(rm.err, HasSubstr("--force"));
  EXPECT_TRUE(stdfs::exists(home_ + "/state/e2e-read/workspace/out.txt"));
  brig({"cell", "rm", "--force", "e2e-read"});
  EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-read"));
}


TEST_F(Cells, PolicySetOpensAHostForARunningCell) {
  auto a = brig({"run", "-d", "--name", "e2e-policy", kDebian, "--", "sleep", "300"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto curl = [] {
    return brig({"cell", "exec", "e2e-policy", "--", "curl", "-sS", "--max-time", "20", "http://allowed.test/late"});
  };
  EXPECT_THAT(curl().out, HasSubstr("brig policy set e2e-policy --allow allowed.test"));
  auto set = brig({"policy", "set", "e2e-policy", "--allow", "allowed.test"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  std::string seen;
  for (int i = 0; i < 30 && seen.find("upstream allowed.test") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warden reloads within 1 s
    seen = curl().out;
  }
  EXPECT_THAT(seen, HasSubstr("upstream allowed.test GET /late"));
  auto bad = brig({"policy", "set", "e2e-policy", "--allow", "*.*bad"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(curl().out, HasSubstr("upstream allowed.test"));  // the old policy stands
  brig({"cell", "rm", "--force", "e2e-policy"});
}

TEST_F(Cells, DetachedRunDiagnosesAnEarlyExitAndRmReapsIt) {
  auto early = brig({"run", "-d", "--name", "e2e-early", kBusybox, "--", "sh", "-c", "echo starting; touch /etc/state"});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_THAT(early.err, HasSubstr("exited within 1.5 s"));
  EXPECT_THAT(early.err, HasSubstr("starting"));
  EXPECT_THAT(early.err, HasSubstr("diagnosis: the root filesystem is read-only"));
  brig({"cell", "rm", "--force", "e2e-early"});
  auto nobash = brig({"run", "-d", "--name", "e2e-nobash", kBusybox, "--", "bash", "-c", "true"});
  EXPECT_NE(nobash.exit_code, 0);
  EXPECT_THAT(nobash.err, HasSubstr("fix: this image has no bash"));
  EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-nobash"));  // rolled back

  auto reaped = brig({"run", "-d", "--rm", "--name", "e2e-reaped", kBusybox, "--", "sleep", "2"});
  ASSERT_EQ(reaped.exit_code, 0) << reaped.err;
  EXPECT_TRUE(stdfs::exists(home_ + "/state/e2e-reaped"));
  for (int i = 0; i < 100 && stdfs::exists(home_ + "/state/e2e-reaped"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_FALSE(stdfs::exists(home_ + "/state/e2e-reaped"));
}

TEST_F(Cells, TimeoutStopsTheCell) {
  const auto t0 = std::chrono::steady_clock::now();
  auto out = in_cell("e2e-timeout", "sleep 120; echo FINISHED", {"--timeout", "3s"});
  EXPECT_THAT(out.out, Not(HasSubstr("FINISHED")));
  EXPECT_EQ(out.exit_code, 124) << out.err;  // as timeout(1)
  EXPECT_THAT(out.err, HasSubstr("stopped after the 3s timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
}

TEST_F(Cells, SecretInUseCannotBeRemovedAndPreflightNamesWhatIsMissing) {
  add_secret("e2e-used", "value");
  auto a = brig({"run", "-d", "--name", "e2e-user", "--secret", "e2e-used", kBusybox, "--", "sleep", "300"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto rm = brig({"secrets", "rm", "e2e-used"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_THAT(rm.err, HasSubstr("e2e-user"));
  EXPECT_THAT(rm.err, HasSubstr("--force"));
  EXPECT_TRUE(stdfs::exists(home_ + "/secrets/e2e-used"));
  brig({"cell", "rm", "--force", "e2e-user"});
  EXPECT_EQ(brig({"secrets", "rm", "e2e-used"}).exit_code, 0);

  std::ofstream(dir_ + "/pre.yaml") << "name: e2e-pre\nimage: localhost/nope:latest\nsecrets: [e2e-absent]\n";
  auto pre = brig({"cell", "preflight", dir_ + "/pre.yaml"});
  EXPECT_EQ(pre.exit_code, 1);
  EXPECT_THAT(pre.out, HasSubstr("[FAIL]  secret e2e-absent"));
  EXPECT_THAT(pre.out, HasSubstr("[FAIL]  image"));
  EXPECT_THAT(pre.out, HasSubstr("[OK]    warden"));
}

}  // namespace
}  // namespace brig::testing::e2e
