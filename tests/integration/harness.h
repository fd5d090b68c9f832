// Real traffic for warden's integration tests: a child-process handle, an
// upstream nginx in a network namespace the test creates (198.18.N.2), test
// certificates from the openssl CLI, curl as the client.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "brig/proc/command.h"

namespace brig::testing {

// A background child process (argv, no shell) with its stdout on a pipe.
class Child {
 public:
  Child(std::vector<std::string> argv, std::vector<std::string> env);
  ~Child();  // SIGKILL if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Next stdout line, or nullopt after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  void signal(int sig);
  // Exit status once exited (waits at most `timeout`); nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::optional<int> status_;
};

// Runs a command to completion (20 s deadline) and returns its output.
proc::Output run(std::vector<std::string> argv);
// Runs `c` to completion; a start failure comes back as exit 127 with the reason on err.
proc::Output run_command(const proc::Command& c);

// Why root-only network tests cannot run here, or "" when they can.
std::string network_skip_reason();

// A network namespace holding nginx on 198.18.N.2:80 (plain) and :443 (TLS,
// a certificate for the given names signed by a test CA in `dir`). It
// answers "upstream HOST METHOD URI", or 64 MiB of zeros for GET /big.
class Upstream {
 public:
  Upstream(const std::string& dir, const std::vector<std::string>& names);
  ~Upstream();
  const std::string& address() const { return addr_; }
  const std::string& netns() const { return ns_; }
  std::string ca_file() const { return dir_ + "/upstream-ca.crt"; }
  // One line per request: "HOST METHOD URI authorization="..." x-api-key="..."".
  std::string access_log() const { return dir_ + "/access.log"; }
  bool ok() const { return ok_; }

 private:
  std::string dir_, ns_, veth_, addr_;
  bool ok_ = false;
};

// A loopback TCP port nothing listens on (at the time of asking).
int free_loopback_port();

// A TCP connection to host:port from source address `src`, or -1.
int connect_from(const std::string& src, const std::string& host, int port);

// Sends raw bytes to host:port from source address `src` and returns what
// comes back until the peer closes or `timeout` passes.
std::string raw_exchange(const std::string& host, int port, const std::string& src, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A DNS query for `name` (dotted) of `type` (1 = A, 28 = AAAA) with `id`, RD set.
std::string dns_query(const std::string& name, std::uint16_t type, std::uint16_t id = 0x4242);
// A DNS response, as far as the tests read it.
struct DnsReply {
  std::uint16_t id = 0;
  int rcode = -1;
  int answers = 0;
  std::string address;  // the first A record's, dotted
  std::uint32_t ttl = 0;
};
std::optional<DnsReply> parse_dns_reply(const std::string& bytes);
// Sends one UDP datagram from `src` to host:port; the reply, or nullopt after `timeout`.
std::optional<std::string> udp_exchange(const std::string& src, const std::string& host, int port,
                                        const std::string& bytes, std::chrono::milliseconds timeout);

}  // namespace brig::testing
