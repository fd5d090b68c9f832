#include "tunnel.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

namespace brig::warden {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

// Small while idle (thousands of tunnels wait in it), large once a read fills
// it (bulk transfer: fewer, larger syscalls).
constexpr std::size_t kIdleBuf = 16 * 1024, kBulkBuf = 256 * 1024;

// One direction of a tunnel: copies until EOF or error, then half-closes.
template <class From, class To>
awaitable<void> pump(From& from, To& to, std::uint64_t& bytes, Clock::time_point& last) {
  std::vector<char> buf(kIdleBuf);
  for (;;) {
    error_code ec;
    const std::size_t n = co_await from.async_read_some(asio::buffer(buf), use_ec(ec));
    if (n > 0) {
      bytes += n;
      last = Clock::now();
      error_code wec;
      co_await asio::async_write(to, asio::buffer(buf.data(), n), use_ec(wec));
      last = Clock::now();
      if (wec) break;
    }
    if (ec) break;
    if (n == buf.size() && buf.size() < kBulkBuf) buf.resize(kBulkBuf);
  }
  error_code ignored;
  beast::get_lowest_layer(to).socket().shutdown(Socket::shutdown_send, ignored);
  beast::get_lowest_layer(from).socket().shutdown(Socket::shutdown_receive, ignored);
}

template <class A, class B>
awaitable<void> run_tunnel(A& a, B& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a, std::chrono::milliseconds idle) {
  auto ex = co_await asio::this_coro::executor;
  // The idle rule is the tunnel's (below), not each read's.
  beast::get_lowest_layer(a).expires_never();
  beast::get_lowest_layer(b).expires_never();
  struct State {
    explicit State(const Executor& e) : wake(e) {}
    Timer wake;
    Clock::time_point last = Clock::now();
    int running = 2;
  };
  auto st = std::make_shared<State>(ex);
  auto finish = [st] {
    if (--st->running == 0) st->wake.cancel();
  };
  // Each pump ends in finish(), by return or by exception: a pump that threw
  // and never finished would leave the tunnel (and shutdown) waiting forever.
  auto done = [finish](std::exception_ptr e) {
    if (e) spdlog::warn("tunnel direction failed: {}", describe(e));
    finish();
  };
  asio::co_spawn(ex, [&, st]() -> awaitable<void> { co_await pump(a, b, a_to_b, st->last); }, done);
  asio::co_spawn(ex, [&, st]() -> awaitable<void> { co_await pump(b, a, b_to_a, st->last); }, done);
  // Watchdog: wakes at the idle deadline, closes both ends if nothing moved
  // since, then waits for both directions to end.
  bool closed = false;
  while (st->running > 0) {
    error_code ec;
    st->wake.expires_at(closed ? Clock::time_point::max() : st->last + idle);
    co_await st->wake.async_wait(use_ec(ec));
    if (!closed && st->running > 0 && Clock::now() >= st->last + idle) {
      beast::get_lowest_layer(a).socket().close(ec);
      beast::get_lowest_layer(b).socket().close(ec);
      closed = true;
    }
  }
}

}  // namespace

awaitable<void> tunnel(TcpStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

awaitable<void> tunnel(TlsStream& a, TlsStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

awaitable<void> tunnel(TcpStream& a, UnixStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

awaitable<void> tunnel(UnixStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

awaitable<void> tunnel(TlsStream& a, TcpStream& b, std::uint64_t& a_to_b, std::uint64_t& b_to_a,
                       std::chrono::milliseconds idle) {
  co_await run_tunnel(a, b, a_to_b, b_to_a, idle);
}

}  // namespace brig::warden
