// Warm pools end to end on real podman + runsc: a pool fills, claims are
// named, fresh and get their own policy, the pool refills, what a claim cannot
// change falls back to a cold start, the API claims too, system down empties
// the pool and up refills it, and pool rm leaves the claimed cells.
#include "e2e/e2e_fixture.h"

namespace brig::testing::e2e {
namespace {

constexpr const char* kPool = "e2e-pool";

nlohmann::json pool_row(const proc::Output& listed) {
  if (listed.exit_code != 0) return nlohmann::json::object();
  for (const auto& p : nlohmann::json::parse(listed.out)) {
    if (p.value("name", "") == kPool) return p;
  }
  return nlohmann::json::object();
}

// The state directories of the pool's waiting cells.
std::vector<std::string> members(const std::string& home) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(home + "/state")) {
    const std::string n = e.path().filename();
    if (n.rfind(std::string(kPool) + "-", 0) == 0) out.push_back(n);
  }
  return out;
}

TEST_F(Cells, WarmPoolClaimsAreNamedFreshAndRefilled) {
  // Waits (bounded) until the pool has `ready` ready cells; returns its row.
  auto wait_ready = [](int ready) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    nlohmann::json row;
    while (std::chrono::steady_clock::now() < end) {
      row = pool_row(brig({"--format", "json", "pool", "list"}));
      if (row.value("ready", -1) == ready) return row;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return row;
  };
  // Bad input first: nothing is made.
  auto bad_size = brig({"pool", "create", kPool, kDebian, "--size", "0"});
  EXPECT_EQ(bad_size.exit_code, 2) << bad_size.err;
  EXPECT_THAT(bad_size.err, HasSubstr("--size must be 1 to 64"));
  auto bad_name = brig({"pool", "create", "Bad_Name", kDebian, "--size", "1"});
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_THAT(bad_name.err, HasSubstr("invalid pool name"));
  const std::string spec = dir_ + "/pool-timeout.yaml";
  std::ofstream(spec) << "image: " << kDebian << "\ntimeout: 1h\n";
  auto unsupported = brig({"pool", "create", kPool, "--file", spec, "--size", "1"});
  EXPECT_NE(unsupported.exit_code, 0);
  EXPECT_THAT(unsupported.err, HasSubstr("timeout: not supported yet"));
  auto none = brig({"run", "--pool", "no-such-pool", "--", "true"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_THAT(none.err, HasSubstr("no pool named \"no-such-pool\""));
  EXPECT_FALSE(stdfs::exists(home_ + "/pools/" + kPool + ".json"));

  auto made = brig({"pool", "create", kPool, kDebian, "--size", "2"});
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  auto again = brig({"pool", "create", kPool, kDebian, "--size", "2"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("already exists"));
  auto image_given = brig({"run", "--pool", kPool, "echo", "hi"});
  EXPECT_EQ(image_given.exit_code, 2) << image_given.err;
  EXPECT_THAT(image_given.err, HasSubstr("give the command after --"));
  auto detached_env = brig({"run", "--pool", kPool, "-d", "--env", "A=b"});
  EXPECT_NE(detached_env.exit_code, 0);
  EXPECT_THAT(detached_env.err, HasSubstr("not supported yet"));
  auto row = wait_ready(2);
  ASSERT_EQ(row.value("ready", -1), 2) << row.dump();
  auto listed = brig({"cell", "list"});
  EXPECT_THAT(listed.out, HasSubstr(std::string("[pool ") + kPool + "]"));

  // A claim: its name inside and out, the claim's env, and the claim's
  // --allow live at once (the pool's spec allows nothing).
  auto a = brig({"run", "--pool", kPool, "--name", "e2e-claim-a", "--env", "CLAIM=alpha", "--allow", "allowed.test",
                 "--", "sh", "-c",
                 "echo env=$CLAIM; grep -o '\"name\": \"[a-z0-9-]*\"' /run/brig/cell.json; "
                 "echo mine > /work/mine; curl -sS --max-time 20 https://allowed.test/claimed; echo; exit 7"});
  EXPECT_EQ(a.exit_code, 7) << a.out << a.err;
  EXPECT_THAT(a.out, HasSubstr("env=alpha"));
  EXPECT_THAT(a.out, HasSubstr("\"name\": \"e2e-claim-a\""));
  EXPECT_THAT(a.out, HasSubstr("upstream allowed.test GET /claimed"));
  auto info = inspect("e2e-claim-a");
  EXPECT_EQ(info.value("state", ""), "exited");
  EXPECT_EQ(info["spec"].value("name", ""), "e2e-claim-a");

  // Another claim is a fresh cell: not the first one's files, not its policy.
  auto b = brig({"run", "--pool", kPool, "--rm", "--", "sh", "-c",
                 "ls /work; cat /work/mine 2>&1; curl -sS --max-time 20 https://allowed.test/x >/dev/null "
                 "&& echo reached || echo refused"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.out, Not(HasSubstr("mine\n")));
  EXPECT_THAT(b.out, HasSubstr("refused"));

  // Refilled in the background; the claimed cell is counted, never returned.
  row = wait_ready(2);
  EXPECT_EQ(row.value("ready", -1), 2) << row.dump();
  EXPECT_EQ(row.value("claimed", -1), 1) << row.dump();
  auto start = brig({"cell", "start", "e2e-claim-a"});
  EXPECT_NE(start.exit_code, 0);
  EXPECT_THAT(start.err, HasSubstr("was claimed from warm pool e2e-pool"));

  // What a running cell cannot take: a cold start of the pool's spec, said.
  auto cold = brig({"run", "--pool", kPool, "--rm", "--memory", "300m", "--", "sh", "-c", "echo cold"});
  EXPECT_EQ(cold.exit_code, 0) << cold.err;
  EXPECT_THAT(cold.out, HasSubstr("cold"));
  EXPECT_THAT(cold.err, HasSubstr("--memory changes what pool e2e-pool's cells were made with; starting a cold cell"));
  auto taken = brig({"run", "--pool", kPool, "--name", "e2e-claim-a", "--", "true"});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_THAT(taken.err, HasSubstr("already exists"));

  // The API claims as brig run does, and says so.
  auto api = run({"curl", "-sS", "--max-time", "60", "--unix-socket", home_ + "/run/api.sock", "-X", "POST",
                  "localhost/v1/cells", "-d", R"({"pool": "e2e-pool", "name": "e2e-claim-api"})"});
  ASSERT_EQ(api.exit_code, 0) << api.err;
  auto cell = nlohmann::json::parse(api.out);
  EXPECT_EQ(cell.value("name", ""), "e2e-claim-api") << api.out;
  EXPECT_EQ(cell.value("state", ""), "running") << api.out;
  EXPECT_EQ(cell.value("claimed", false), true) << api.out;
  auto in_api = brig({"cell", "exec", "e2e-claim-api", "--", "cat", "/run/brig/cell.json"});
  EXPECT_THAT(in_api.out, HasSubstr("\"name\": \"e2e-claim-api\""));

  // system down takes the waiting cells away; up makes them again.
  row = wait_ready(2);
  auto down = brig({"system", "down"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_TRUE(members(home_).empty());
  EXPECT_NE(run({"/usr/bin/podman", "ps", "-a", "--format", "{{.Names}}"}).out.find("brig-e2e-claim-api"),
            std::string::npos)
      << "claimed cells are cells: down stops them, never removes them";
  auto up = brig({"system", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  row = wait_ready(2);
  EXPECT_EQ(row.value("ready", -1), 2) << row.dump();

  // pool rm: its waiting cells go, the claimed ones stay.
  auto rm = brig({"pool", "rm", kPool});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_TRUE(members(home_).empty());
  EXPECT_TRUE(stdfs::exists(home_ + "/state/e2e-claim-a"));
  EXPECT_EQ(pool_row(brig({"--format", "json", "pool", "list"})), nlohmann::json::object());
  for (const char* c : {"e2e-claim-a", "e2e-claim-api"}) {
    auto gone = brig({"cell", "rm", "--force", c});
    EXPECT_EQ(gone.exit_code, 0) << gone.err;
  }
}

}  // namespace
}  // namespace brig::testing::e2e
