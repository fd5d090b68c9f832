// validate(): host services and host sockets.
#include <gtest/gtest.h>

#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"
#include "unit/spec/validate_test_util.h"

namespace brig::spec {
namespace {

// --- host services -----------------------------------------------------------

std::string services(int n, const std::string& protocol = "http") {
  std::string y = "host_services:\n";
  for (int i = 0; i < n; ++i) {
    y += "  - {name: s" + std::to_string(i) + ", port: " + std::to_string(5000 + i) + ", protocol: " + protocol + "}\n";
  }
  return y;
}

TEST(ValidateHostServices, AtMostSixteen) {
  expect_ok(services(16));
  EXPECT_EQ(err(services(17)), "cell.yaml:3: host_services: 17 entries; at most 16 are allowed");
}

TEST(ValidateHostServices, PortRangeAndReservedPorts) {
  EXPECT_EQ(err("host_services: [{name: db, port: 0}]\n"),
            "cell.yaml:2: host_services[0].port: 0 is not a port (1-65535)");
  EXPECT_EQ(err("host_services: [{name: db, port: 65536}]\n"),
            "cell.yaml:2: host_services[0].port: 65536 is not a port (1-65535)");
  for (int port : {3128, 8443, 9464}) {
    EXPECT_EQ(err("host_services: [{name: db, port: " + std::to_string(port) + "}]\n"),
              "cell.yaml:2: host_services[0].port: " + std::to_string(port) +
                  " is reserved by warden; expose the service on another host port");
  }
  expect_ok("host_services: [{name: a, port: 1}, {name: b, port: 65535}, {name: c, port: 3129}]\n");
}

TEST(ValidateHostServices, Protocol) {
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: TCP}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"TCP\"; use http or tcp (lowercase)");
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: Http}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"Http\"; use http or tcp (lowercase)");
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: udp}]\n"),
            "cell.yaml:2: host_services[0].protocol: unknown protocol \"udp\"; use http or tcp");
  expect_ok("host_services: [{name: db, port: 5432, protocol: tcp}, {name: web, port: 80, protocol: http}]\n");
}

TEST(ValidateHostServices, UntrustedForbidsTcpButAllowsHttp) {
  EXPECT_EQ(err("host_services: [{name: db, port: 5432, protocol: tcp}]\n", untrusted()),
            "cell.yaml:2: host_services[0].protocol: the untrusted profile forbids tcp host services (warden cannot "
            "inspect them); use protocol: http");
  expect_ok("host_services: [{name: llm, port: 4000}, {name: api, port: 80, protocol: http}]\n", untrusted());
}

TEST(ValidateHostServices, Names) {
  EXPECT_EQ(err("host_services: [{name: db, port: 1}, {name: db, port: 2}]\n"),
            "cell.yaml:2: host_services[1].name: duplicate host service \"db\"");
  EXPECT_EQ(err("host_services: [{name: my_db, port: 1}]\n"),
            "cell.yaml:2: host_services[0].name: invalid name \"my_db\"; use 1-31 lowercase letters, digits and '-' "
            "(it becomes <name>.host.brig)");
  EXPECT_EQ(err("host_services: [{name: \"" + std::string(32, 'a') + "\", port: 1}]\n"),
            "cell.yaml:2: host_services[0].name: invalid name \"" + std::string(32, 'a') +
                "\"; use 1-31 lowercase letters, digits and '-' (it becomes <name>.host.brig)");
}

// --- host sockets ------------------------------------------------------------

std::string sock(const std::string& name, const std::string& host, const std::string& mount,
                 const std::string& mode = "ro") {
  return "  - {name: " + name + ", host_path: \"" + host + "\", mount_point: \"" + mount + "\", mode: " + mode + "}\n";
}

// A probe where every path in `sockets` is a socket (resolving to itself).
FakeProbe sockets(std::initializer_list<std::string> paths) {
  FakeProbe p;
  for (const auto& s : paths) p.add(s, Kind::socket);
  return p;
}

TEST(ValidateHostSockets, AValidSocket) {
  auto probe = sockets({"/tmp/pg.sock"});
  expect_ok("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock", "rw"), with(probe));
  expect_ok("host_sockets: []\n", untrusted());  // an empty list is nothing to forbid
}

// Through the macOS thin client host_path would name a file in the VM: refused
// whole, before any host lookup (the probe is never asked).
TEST(ValidateHostSockets, RefusedWhenForwardedFromAMac) {
  FakeProbe none;  // every path missing: it would be a second error if asked
  ValidateOptions mac = {.probe = &none, .from_mac = true};
  EXPECT_EQ(all_errs("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock"), mac),
            (std::vector<std::string>{"cell.yaml:3: host_sockets: not supported yet on macOS (brig cannot bridge a "
                                      "socket on the Mac into its VM today); remove it, or run brig on a Linux host"}));
  expect_ok("host_sockets: []\n", mac);
}

// Bridged by the thin client: the Mac judged the file (host_socket_path_problem
// there), so the VM does not probe the Mac's path; the rules on the entry
// itself still hold. One entry without a bridge: the whole list is refused.
TEST(ValidateHostSockets, BridgedFromAMacAreJudgedWithoutTheProbe) {
  FakeProbe none;
  ValidateOptions mac = {.probe = &none, .from_mac = true,
                         .host_socket_bridges = {{"pg", "/tmp/brig-host-sockets/cell-a/0.sock"}}};
  expect_ok("host_sockets:\n" + sock("pg", "/Users/a/pg.sock", "/run/host/pg.sock"), mac);
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/Users/a/.docker/run/x.sock", "/run/host/pg.sock"), mac),
            "cell.yaml:3: host_sockets[0].host_path: /Users/a/.docker/run/x.sock looks like a docker engine socket, "
            "which gives control of the host; it is never allowed");
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/Users/a/pg.sock", "/run/host/pg.sock") +
                sock("docs", "/Users/a/docs.sock", "/run/host/docs.sock"), mac),
            "cell.yaml:3: host_sockets: not supported yet on macOS (brig cannot bridge a socket on the Mac into its "
            "VM today); remove it, or run brig on a Linux host");
}

TEST(HostSocketPathProblem, TheRuleTheMacAppliesBeforeBridging) {
  FakeProbe p;
  p.add("/s/pg.sock", Probe::Kind::socket)
      .add("/s/link.sock", Probe::Kind::symlink)
      .add("/s/file", Probe::Kind::file)
      .add("/s/sneaky.sock", Probe::Kind::socket, "/Users/a/.lima/brig/ssh.sock");
  EXPECT_EQ(host_socket_path_problem("/s/pg.sock", &p), std::nullopt);
  EXPECT_EQ(host_socket_path_problem("/s/link.sock", &p), "/s/link.sock is a symlink; give the socket's real path");
  EXPECT_EQ(host_socket_path_problem("/s/file", &p), "/s/file is not a unix socket");
  EXPECT_EQ(host_socket_path_problem("/s/none", &p),
            "/s/none does not exist; start the service that provides it, or correct host_path");
  EXPECT_EQ(host_socket_path_problem("/s/sneaky.sock", &p),
            "/s/sneaky.sock resolves to /Users/a/.lima/brig/ssh.sock, a lima engine socket; it is never allowed");
  EXPECT_EQ(host_socket_path_problem("rel.sock", &p), "\"rel.sock\" must be an absolute path without '..'");
  EXPECT_EQ(host_socket_path_problem("/var/run/docker.sock", nullptr),
            "/var/run/docker.sock looks like a docker engine socket, which gives control of the host; it is never "
            "allowed");
  EXPECT_EQ(host_socket_path_problem("/s/missing", nullptr), std::nullopt);  // no probe: the path only
}

TEST(ValidateHostSockets, AtMostEight) {
  std::string y = "host_sockets:\n";
  for (int i = 0; i < 9; ++i) {
    auto n = std::to_string(i);
    y += sock("s" + n, "/tmp/s" + n + ".sock", "/run/host/s" + n + ".sock");
    if (i == 7) expect_ok(y);
  }
  EXPECT_EQ(err(y), "cell.yaml:3: host_sockets: 9 entries; at most 8 are allowed");
}

TEST(ValidateHostSockets, UntrustedForbidsThem) {
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock"), untrusted()),
            "cell.yaml:3: host_sockets: the untrusted profile forbids host sockets (traffic over them bypasses warden)");
}

TEST(ValidateHostSockets, Names) {
  EXPECT_EQ(err("host_sockets:\n" + sock("PG", "/tmp/pg.sock", "/run/host/pg.sock")),
            "cell.yaml:3: host_sockets[0].name: invalid name \"PG\"; use 1-31 lowercase letters, digits and '-'");
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/a.sock", "/run/host/a.sock") +
                sock("pg", "/tmp/b.sock", "/run/host/b.sock")),
            "cell.yaml:4: host_sockets[1].name: duplicate host socket \"pg\"");
}

TEST(ValidateHostSockets, EngineSocketsRefusedByName) {
  struct Case {
    const char* path;
    const char* engine;
  };
  for (const Case& c : {Case{"/var/run/docker.sock", "docker"}, Case{"/run/docker.sock", "docker"},
                        Case{"/run/user/1000/docker.sock", "docker"}, Case{"/home/a/.docker/run/docker.sock", "docker"},
                        Case{"/run/podman/podman.sock", "podman"}, Case{"/run/user/1000/podman/podman.sock", "podman"},
                        Case{"/run/containerd/containerd.sock", "containerd"},
                        Case{"/run/containerd/s/0123abcd", "containerd"}, Case{"/var/run/crio/crio.sock", "crio"},
                        Case{"/tmp/firecracker.socket", "firecracker"}, Case{"/srv/vm/Firecracker-1.sock", "firecracker"},
                        Case{"/home/a/.lima/default/sock/lima.sock", "lima"},
                        Case{"/home/a/.lima/default/ha.sock", "lima"}, Case{"/run//docker.sock", "docker"}}) {
    // Refused before any host lookup: the probe would call them sockets.
    auto probe = sockets({c.path});
    EXPECT_EQ(err("host_sockets:\n" + sock("e", c.path, "/run/host/e.sock"), with(probe)),
              std::string("cell.yaml:3: host_sockets[0].host_path: ") + c.path + " looks like a " + c.engine +
                  " engine socket, which gives control of the host; it is never allowed");
  }
}

// The one rule, public for the engine's start-time check of the real path.
TEST(EngineSocket, ByFileNameOrDirectory) {
  EXPECT_EQ(engine_socket("/var/run/docker.sock"), "docker");
  EXPECT_EQ(engine_socket("/tmp/t/podman/api.sock"), "podman");
  EXPECT_EQ(engine_socket("/home/a/.lima/vm/ha.sock"), "lima");
  EXPECT_EQ(engine_socket("/run/postgresql/.s.PGSQL.5432"), std::nullopt);
  EXPECT_EQ(engine_socket("/tmp/echo.sock"), std::nullopt);
}

TEST(ValidateHostSockets, EngineSocketsRefusedAfterRealpath) {
  FakeProbe probe;
  probe.add("/tmp/pg.sock", Kind::socket, "/var/run/docker.sock")
      .add("/tmp/x.sock", Kind::socket, "/run/containerd/containerd.sock");
  EXPECT_EQ(err("host_sockets:\n" + sock("pg", "/tmp/pg.sock", "/run/host/pg.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/pg.sock resolves to /var/run/docker.sock, a docker engine "
            "socket; it is never allowed");
  EXPECT_EQ(err("host_sockets:\n" + sock("x", "/tmp/x.sock", "/run/host/x.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/x.sock resolves to /run/containerd/containerd.sock, a "
            "containerd engine socket; it is never allowed");
}

TEST(ValidateHostSockets, HostPathMustBeARealSocket) {
  FakeProbe probe;
  probe.add("/tmp/link.sock", Kind::symlink, "/tmp/pg.sock")
      .add("/tmp/file", Kind::file)
      .add("/tmp/dir", Kind::directory)
      .add("/tmp/fifo", Kind::other);
  auto one = [&](const std::string& path) {
    return err("host_sockets:\n" + sock("s", path, "/run/host/s.sock"), with(probe));
  };
  const std::string pre = "cell.yaml:3: host_sockets[0].host_path: ";
  EXPECT_EQ(one("/tmp/link.sock"), pre + "/tmp/link.sock is a symlink; give the socket's real path");
  EXPECT_EQ(one("/tmp/none.sock"),
            pre + "/tmp/none.sock does not exist; start the service that provides it, or correct host_path");
  EXPECT_EQ(one("/tmp/file"), pre + "/tmp/file is not a unix socket");
  EXPECT_EQ(one("/tmp/dir"), pre + "/tmp/dir is not a unix socket");
  EXPECT_EQ(one("/tmp/fifo"), pre + "/tmp/fifo is not a unix socket");
}

TEST(ValidateHostSockets, UnresolvableSocketIsRefused) {
  class NoRealpath final : public Probe {
   public:
    Kind kind(const std::string&) const override { return Kind::socket; }
    std::optional<std::string> realpath(const std::string&) const override { return std::nullopt; }
  } probe;
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock"), with(probe)),
            "cell.yaml:3: host_sockets[0].host_path: /tmp/s.sock cannot be resolved");
}

TEST(ValidateHostSockets, HostPathMustBeAbsolute) {
  const std::string msg = " must be an absolute path without '..'";
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "tmp/s.sock", "/run/host/s.sock")),
            "cell.yaml:3: host_sockets[0].host_path: \"tmp/s.sock\"" + msg);
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/../var/run/docker.sock", "/run/host/s.sock")),
            "cell.yaml:3: host_sockets[0].host_path: \"/tmp/../var/run/docker.sock\"" + msg);
}

TEST(ValidateHostSockets, MountPointMustBeInsideRunHost) {
  const std::string msg = " must be a path inside /run/host/, without '..'";
  auto mount = [&](const std::string& m) { return err("host_sockets:\n" + sock("s", "/tmp/s.sock", m)); };
  const std::string pre = "cell.yaml:3: host_sockets[0].mount_point: ";
  for (const char* bad : {"/run/host", "/run/host/", "/run/host//", "/run/hostile/s.sock", "/run/s.sock",
                          "/run/secrets/s.sock", "/run/host/../brig/s.sock", "run/host/s.sock", "/var/run/host/s"}) {
    EXPECT_EQ(mount(bad), pre + "\"" + bad + "\"" + msg);
  }
  expect_ok("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/a/b.sock"));
}

TEST(ValidateHostSockets, DuplicateMountPointsAfterNormalisation) {
  for (const char* other : {"/run/host/x", "/run/host//x", "/run/host/./x", "/run/host/x/"}) {
    EXPECT_EQ(err("host_sockets:\n" + sock("a", "/tmp/a.sock", "/run/host/x") + sock("b", "/tmp/b.sock", other)),
              "cell.yaml:4: host_sockets[1].mount_point: another host socket already mounts at /run/host/x")
        << other;
  }
}

TEST(ValidateHostSockets, Mode) {
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock", "RW")),
            "cell.yaml:3: host_sockets[0].mode: unknown mode \"RW\"; use ro or rw");
  EXPECT_EQ(err("host_sockets:\n" + sock("s", "/tmp/s.sock", "/run/host/s.sock", "wo")),
            "cell.yaml:3: host_sockets[0].mode: unknown mode \"wo\"; use ro or rw");
}

}  // namespace
}  // namespace brig::spec
