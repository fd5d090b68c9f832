// brig api serve: HTTP/1.1 on a unix socket, one thread per connection (the
// engine's calls block on podman; the state lock orders their changes).
#include "brig/api/server.h"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/unique_fd.h"
#include "brig/engine/host.h"
#include "routes.h"

namespace brig::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = net::local::stream_protocol;

constexpr std::uint64_t kMaxBody = 64ull << 20;  // a file's bytes (PUT files)
constexpr int kMaxConnections = 64;

std::atomic<bool> g_stopping{false};
std::atomic<int> g_active{0};

void on_signal(int) { g_stopping = true; }

class BeastSink final : public Sink {
 public:
  BeastSink(local::socket& s, unsigned version, bool keep_alive) : s_(s), version_(version), keep_alive_(keep_alive) {}

  void send(int status, std::string_view type, std::string_view body) override {
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "brig");
    res.set(http::field::content_type, type);
    res.keep_alive(keep_alive_);
    res.body() = std::string(body);
    res.prepare_payload();
    beast::error_code ec;
    http::write(s_, res, ec);
    ok_ = !ec;
  }
  bool begin(int status, std::string_view type) override {
    http::response<http::empty_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "brig");
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-cache");
    res.chunked(true);
    res.keep_alive(false);  // one stream, then the connection ends
    keep_alive_ = false;
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    http::write_header(s_, sr, ec);
    return ok_ = !ec;
  }
  bool chunk(std::string_view data) override {
    if (!ok_) return false;
    if (data.empty()) return true;
    beast::error_code ec;
    net::write(s_, http::make_chunk(net::buffer(data.data(), data.size())), ec);
    return ok_ = !ec;
  }
  void end() override {
    if (!ok_) return;
    beast::error_code ec;
    net::write(s_, http::make_chunk_last(), ec);
  }
  bool alive() override {
    if (!ok_) return false;
    char c;
    const ssize_t n = ::recv(s_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }
  bool keep_alive() const { return keep_alive_ && ok_; }

 private:
  local::socket& s_;
  unsigned version_;
  bool keep_alive_;
  bool ok_ = true;
};

// %XX decoded; '+' is a space in a query only (form encoding).
std::string percent_decode(std::string_view s, bool query) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += query && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The request as the routes see it; an error for a path or query that holds
// a NUL or a segment that decodes to something with a '/'.
Result<Request> to_request(http::request<http::string_body>& r) {
  Request req;
  req.method = std::string(r.method_string());
  const std::string_view target(r.target().data(), r.target().size());
  const auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  // Split first, then decode each segment: "a%2Fstop" is one segment.
  for (const auto& raw : str::split(req.path, '/')) {
    if (raw.empty()) continue;
    std::string seg = percent_decode(raw, false);
    if (seg.find('\0') != std::string::npos || seg.find('/') != std::string::npos) {
      return Error(Errc::usage, "the path " + str::quote(req.path) + " holds an encoded '/' or NUL");
    }
    req.segments.push_back(std::move(seg));
  }
  if (q != std::string_view::npos) {
    for (const auto& kv : str::split(target.substr(q + 1), '&')) {
      if (kv.empty()) continue;
      const auto eq = kv.find('=');
      std::string k = percent_decode(kv.substr(0, eq), true);
      std::string v = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1), true);
      if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos) {
        return Error(Errc::usage, "the query holds a NUL");
      }
      req.query[std::move(k)] = std::move(v);
    }
  }
  req.body = std::move(r.body());
  return req;
}

// Open connections, so a stop can wake their reads.
std::mutex g_conns_mu;
std::set<int> g_conns;

void serve_connection(local::socket s, const Context& ctx) {
  // A client that sends nothing (or reads nothing) for a minute is dropped:
  // no thread is held forever.
  timeval tv{60, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  beast::flat_buffer buf;
  while (!g_stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    beast::error_code ec;
    http::read_header(s, buf, parser, ec);
    if (!ec && parser.get()[http::field::expect] == "100-continue") {
      // curl waits for this before a large body.
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      http::write(s, cont, ec);
    }
    if (!ec) http::read(s, buf, parser, ec);
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset) break;
    BeastSink out(s, parser.is_header_done() ? parser.get().version() : 11, false);
    if (ec) {
      const bool big = ec == http::error::body_limit;
      if (ec != net::error::would_block && ec != net::error::timed_out && ec != net::error::try_again) {
        send_error(out, Error(Errc::usage, big ? "the request body is larger than 64 MiB" : "malformed HTTP request: " + ec.message(),
                              big ? "send files of at most 64 MiB" : "send HTTP/1.1 (docs/reference/api.md)"));
      }
      break;
    }
    auto& msg = parser.get();
    BeastSink reply(s, msg.version(), msg.keep_alive());
    const std::string what = std::string(msg.method_string()) + " " + std::string(msg.target());
    auto req = to_request(msg);
    if (!req) {
      send_error(reply, req.error());
      break;
    }
    try {
      handle(ctx, *req, reply);
    } catch (const std::exception& e) {
      // A bug of ours, not the client's: never the process (other requests), never a stack trace.
      std::fprintf(stderr, "brig api: %s: %s\n", what.c_str(), e.what());
      send_error(reply, Error(Errc::failed, "internal error", "see " + ctx.paths.api_log()));
      break;
    }
    if (!reply.keep_alive()) break;
  }
  beast::error_code ec;
  s.shutdown(local::socket::shutdown_both, ec);
}

// Refuses a socket some server answers on; removes a stale one.
Status claim_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return Error(Errc::exists, path + " exists and is not a socket", "remove it, or serve on another path (--socket)");
  }
  unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    return Error(Errc::exists, "an API already answers on " + path, "brig system down stops it, or pass --socket PATH");
  }
  if (::unlink(path.c_str()) != 0) return errno_error("removing the stale socket " + path, errno);
  return {};
}

// Root only (0600), or with api_group set its members too: the socket 0660
// and, when it is in $BRIG_HOME/run, that directory 0710 (they may reach
// the socket, not list what else is there), both of that group.
Status share_with_group(const Paths& paths, const std::string& path) {
  auto cfg = engine::load_host_config(paths);
  const std::string group = cfg ? cfg->api_group : "";
  const bool in_run_dir = std::filesystem::path(path).parent_path() == std::filesystem::path(paths.run_dir());
  if (group.empty()) {
    if (in_run_dir) ::chmod(paths.run_dir().c_str(), 0700);
    return {};
  }
  const struct group* g = ::getgrnam(group.c_str());
  if (!g) {
    ::unlink(path.c_str());
    return Error(Errc::invalid, "api_group " + str::quote(group) + " is not a group on this host",
                 "sudo groupadd " + group + ", or brig config set api_group ''");
  }
  if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0 || ::chmod(path.c_str(), 0660) != 0) {
    return errno_error("giving " + path + " to group " + group, errno);
  }
  if (in_run_dir && (::chown(paths.run_dir().c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0 ||
                     ::chmod(paths.run_dir().c_str(), 0710) != 0)) {
    return errno_error("letting group " + group + " reach " + paths.run_dir(), errno);
  }
  return {};
}

}  // namespace

Status serve(const Paths& paths, const ServeOptions& opts) {
  const std::string path = opts.socket.empty() ? paths.api_socket() : opts.socket;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Error(Errc::usage, "socket path " + path + " is too long for a unix socket", "pass a shorter --socket PATH");
  }
  // One server per socket: held for the process's life, taken before the
  // stale-socket check (two starting at once cannot both claim it).
  auto lock = fs::FileLock::try_acquire(path + ".lock");
  if (!lock) {
    return Error(Errc::exists, "an API already serves " + path, "brig system down stops it, or pass --socket PATH");
  }
  BRIG_TRY(claim_socket(path));

  // Alive until the process exits (_exit below): threads still finishing
  // a request may use them.
  auto* io = new net::io_context;
  local::acceptor acceptor(*io);
  beast::error_code ec;
  acceptor.open(local(), ec);
  if (!ec) {
    const mode_t old = ::umask(0177);  // 0600 from the start: no window where others could connect
    acceptor.bind(local::endpoint(path), ec);
    ::umask(old);
  }
  if (!ec) acceptor.listen(64, ec);
  if (ec) {
    ::unlink(path.c_str());
    return Error(Errc::io, "listening on " + path + ": " + ec.message(), "check the directory exists and is writable");
  }
  if (auto st = share_with_group(paths, path); !st) {
    ::unlink(path.c_str());
    return st.error();
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (!opts.pidfile.empty()) BRIG_TRY(fs::write_atomic(opts.pidfile, std::to_string(::getpid()) + "\n", 0644));
  const auto* ctx = new Context{paths, opts.load_spec, &g_stopping};
  std::fprintf(stderr, "brig api: serving on %s\n", path.c_str());
  while (!g_stopping) {
    pollfd p{acceptor.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 250) <= 0) continue;
    local::socket s(*io);
    acceptor.accept(s, ec);
    if (ec) {  // EMFILE and the like: do not spin
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (g_active >= kMaxConnections) {
      BeastSink busy(s, 11, false);
      send_error(busy, Error(Errc::unavailable, "the API serves " + std::to_string(kMaxConnections) + " connections already",
                             "retry shortly, or close idle connections"));
      continue;
    }
    ++g_active;
    {
      std::lock_guard<std::mutex> g(g_conns_mu);
      g_conns.insert(s.native_handle());
    }
    std::thread([s = std::move(s), ctx]() mutable {
      const int fd = s.native_handle();
      serve_connection(std::move(s), *ctx);
      {
        std::lock_guard<std::mutex> g(g_conns_mu);
        g_conns.erase(fd);
      }
      --g_active;
    }).detach();
  }
  acceptor.close(ec);
  ::unlink(path.c_str());
  // Idle connections wake from their reads; a request being handled finishes
  // (a create rolls back or completes; streams see `stopping` within 0.5 s).
  {
    std::lock_guard<std::mutex> g(g_conns_mu);
    for (int fd : g_conns) ::shutdown(fd, SHUT_RD);
  }
  for (int i = 0; i < 300 && g_active > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!opts.pidfile.empty()) ::unlink(opts.pidfile.c_str());
  std::fprintf(stderr, "brig api: stopped%s\n", g_active > 0 ? " (requests still running were cut off)" : "");
  std::fflush(stderr);
  // No destructors under threads that may still run: the process ends here.
  ::_exit(0);
}

}  // namespace brig::api
