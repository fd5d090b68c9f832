#include "integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

namespace brig::testing {

Child::Child(std::vector<std::string> argv, std::vector<std::string> env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  std::vector<char*> a, e;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  for (auto& s : env) e.push_back(s.data());
  e.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::execve(a[0], a.data(), e.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_ = fds[0];
}

Child::~Child() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (out_ >= 0) ::close(out_);
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

void Child::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

proc::Output run(std::vector<std::string> argv) {
  proc::Command c;
  c.argv = std::move(argv);
  c.timeout = std::chrono::seconds(20);
  return run_command(c);
}

proc::Output run_command(const proc::Command& c) {
  proc::PosixRunner r;
  auto out = r.run(c);
  if (!out) {
    proc::Output o;
    o.exit_code = 127;
    o.err = out.error().message();
    return o;
  }
  return *out;
}

std::string network_skip_reason() {
  if (::geteuid() != 0) return "needs root (network namespaces)";
  for (const char* tool : {"ip", "nginx", "curl", "openssl"}) {
    if (!proc::find_executable(tool)) return std::string(tool) + " is not installed (scripts/bootstrap.sh installs it)";
  }
  return "";
}

namespace {

bool succeeded(const proc::Output& o) { return o.exit_code == 0; }

bool make_certs(const std::string& dir, const std::vector<std::string>& names) {
  std::string san = "subjectAltName=";
  for (std::size_t i = 0; i < names.size(); ++i) san += (i ? ",DNS:" : "DNS:") + names[i];
  std::ofstream(dir + "/ext.cnf") << san << "\nbasicConstraints=CA:FALSE\n";
  return succeeded(run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 dir + "/upstream-ca.key", "-out", dir + "/upstream-ca.crt", "-days", "2", "-subj",
                 "/CN=brig test upstream CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign"})) &&
         succeeded(run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 dir + "/srv.key", "-out", dir + "/srv.csr", "-subj", "/CN=" + names.front()})) &&
         succeeded(run({"openssl", "x509", "-req", "-in", dir + "/srv.csr", "-CA", dir + "/upstream-ca.crt", "-CAkey",
                 dir + "/upstream-ca.key", "-CAcreateserial", "-out", dir + "/srv.crt", "-days", "2", "-extfile",
                 dir + "/ext.cnf"}));
}

}  // namespace

Upstream::Upstream(const std::string& dir, const std::vector<std::string>& names) : dir_(dir) {
  const int id = ::getpid() % 16000;
  ns_ = "brig-it-" + std::to_string(::getpid());
  veth_ = "bit" + std::to_string(id);
  const std::string host_ip = "198.18." + std::to_string(id / 64) + "." + std::to_string((id % 64) * 4 + 1);
  addr_ = "198.18." + std::to_string(id / 64) + "." + std::to_string((id % 64) * 4 + 2);
  if (!make_certs(dir, names)) return;
  // GET /big: 64 MiB of zeros (a sparse file), for downloads that last while a test acts.
  ::truncate((dir + "/big.bin").c_str(), 0);
  std::ofstream(dir + "/big.bin", std::ios::app).close();
  if (::truncate((dir + "/big.bin").c_str(), 64 << 20) != 0) return;
  std::ofstream(dir + "/nginx.conf") << "worker_processes 1;\npid " << dir << "/nginx.pid;\nerror_log " << dir
                                     << "/nginx-error.log;\nevents { worker_connections 512; }\nhttp {\n"
                                     << "  log_format seen '$host $request_method $request_uri "
                                        "authorization=\"$http_authorization\" x-api-key=\"$http_x_api_key\"';\n"
                                     << "  access_log " << dir << "/access.log seen;\n  client_body_temp_path " << dir << ";\n"
                                     << "  server { listen " << addr_ << ":80; listen " << addr_
                                     << ":443 ssl; ssl_certificate " << dir << "/srv.crt; ssl_certificate_key " << dir
                                     << "/srv.key;\n"
                                     << "    location = /big { alias " << dir << "/big.bin; }\n"
                                     << "    location / { add_header X-Upstream-Saw-Upgrade \"$http_upgrade\"; return 200 "
                                        "\"upstream $host $request_method $request_uri\\n\"; }\n  }\n}\n";
  ok_ = succeeded(run({"ip", "netns", "add", ns_})) &&
        succeeded(run({"ip", "link", "add", veth_, "type", "veth", "peer", "name", veth_ + "n"})) &&
        succeeded(run({"ip", "link", "set", veth_ + "n", "netns", ns_})) &&
        succeeded(run({"ip", "addr", "add", host_ip + "/30", "dev", veth_})) && succeeded(run({"ip", "link", "set", veth_, "up"})) &&
        succeeded(run({"ip", "netns", "exec", ns_, "ip", "addr", "add", addr_ + "/30", "dev", veth_ + "n"})) &&
        succeeded(run({"ip", "netns", "exec", ns_, "ip", "link", "set", veth_ + "n", "up"})) &&
        succeeded(run({"ip", "netns", "exec", ns_, "ip", "link", "set", "lo", "up"})) &&
        succeeded(run({"ip", "netns", "exec", ns_, "nginx", "-c", dir + "/nginx.conf"}));
  if (!ok_) ADD_FAILURE() << "could not start the upstream namespace " << ns_;
}

Upstream::~Upstream() {
  std::ifstream pidf(dir_ + "/nginx.pid");
  int pid = 0;
  if (pidf >> pid && pid > 0) ::kill(pid, SIGTERM);
  run({"ip", "link", "del", veth_});
  run({"ip", "netns", "del", ns_});
}

namespace {

// A socket of `type` bound to source address `src`, and the address host:port.
int bound_to(int type, const std::string& src, const std::string& host, int port, sockaddr_in& to) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, src.c_str(), &local.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  to = sockaddr_in{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &to.sin_addr);
  return fd;
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return static_cast<int>(ntohs(a.sin_port));
}

int connect_from(const std::string& src, const std::string& host, int port) {
  sockaddr_in to;
  const int fd = bound_to(SOCK_STREAM, src, host, port, to);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string raw_exchange(const std::string& host, int port, const std::string& src, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  const int fd = connect_from(src, host, port);
  if (fd < 0) return "";
  std::string out;
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string dns_query(const std::string& name, std::uint16_t type, std::uint16_t id) {
  std::string q = {static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q += static_cast<char>(dot - start);
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q += '\0';
  q += {static_cast<char>(type >> 8), static_cast<char>(type & 0xff), 0, 1};
  return q;
}

std::optional<DnsReply> parse_dns_reply(const std::string& b) {
  auto u8 = [&](std::size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(b.at(i))); };
  auto u16 = [&](std::size_t i) { return u8(i) << 8 | u8(i + 1); };
  if (b.size() < 12 || !(u8(2) & 0x80)) return std::nullopt;
  DnsReply r;
  r.id = static_cast<std::uint16_t>(u16(0));
  r.rcode = static_cast<int>(u8(3) & 0x0f);
  r.answers = static_cast<int>(u16(6));
  std::size_t p = 12;
  for (unsigned q = u16(4); q > 0; --q) {  // skip the question(s)
    while (p < b.size() && u8(p) != 0) p += u8(p) + 1;
    p += 5;
  }
  if (r.answers > 0 && p + 12 <= b.size()) {
    p += (u8(p) & 0xc0) == 0xc0 ? 2 : 0;
    const unsigned type = u16(p), len = u16(p + 8);
    r.ttl = u16(p + 4) << 16 | u16(p + 6);
    if (type == 1 && len == 4 && p + 14 <= b.size()) {
      r.address = std::to_string(u8(p + 10)) + "." + std::to_string(u8(p + 11)) + "." + std::to_string(u8(p + 12)) + "." +
                  std::to_string(u8(p + 13));
    }
  }
  return r;
}

std::optional<std::string> udp_exchange(const std::string& src, const std::string& host, int port,
                                        const std::string& bytes, std::chrono::milliseconds timeout) {
  sockaddr_in to;
  const int fd = bound_to(SOCK_DGRAM, src, host, port, to);
  ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  std::optional<std::string> out;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
    char buf[2048];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n >= 0) out = std::string(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace brig::testing
