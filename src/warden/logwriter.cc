#include "logwriter.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/unique_fd.h"
#include "brig/state/cell_logs.h"

namespace brig::warden {

LogWriter::LogWriter(std::string dir, std::size_t max_bytes, std::size_t max_queue)
    : dir_(std::move(dir)), max_bytes_(max_bytes), max_queue_(max_queue) {
  (void)fs::make_dirs(dir_, 0755);
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LogWriter::write(LogRecord rec) {
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) {
      ++dropped_;
      return;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(rec));
  }
  // The writer sleeps only on an empty queue and takes all of it per wake-up:
  // one wake-up per batch, not one futex call per request.
  if (was_empty) cv_.notify_one();
}

void LogWriter::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

std::uint64_t LogWriter::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

namespace {

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if it is not one.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return 0;  // overlong / surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return 0;  // overlong / > U+10FFFF
    return 4;
  }
  return 0;
}

// Appends `v` as a JSON string; invalid UTF-8 becomes U+FFFD byte by byte, so a
// hostile client can never make a record unwritable or split a line.
void append_json_string(std::string& out, std::string_view v) {
  out += '"';
  for (std::size_t i = 0; i < v.size();) {
    // Runs of plain printable ASCII (nearly everything) are copied at once.
    std::size_t j = i;
    while (j < v.size()) {
      const unsigned char c = static_cast<unsigned char>(v[j]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++j;
    }
    out.append(v.data() + i, j - i);
    i = j;
    if (i == v.size()) break;
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, sizeof esc);
        }
      }
      ++i;
      continue;
    }
    if (std::size_t n = utf8_len(v, i)) {
      out.append(v.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// "2026-11-30T06:44:08.123Z" for now; the part up to the seconds is reused
// while the second does not change (gmtime and printf per record were a
// third of the writer's time).
void append_timestamp(std::string& out) {
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[64];
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  if (secs != cached_secs) {
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  out += cached;
  const int frac = static_cast<int>(ms % 1000);
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += 'Z';
}

}  // namespace

std::string LogWriter::format(const LogRecord& r) {
  std::string out;
  format_into(out, r);
  return out;
}

void LogWriter::format_into(std::string& out, const LogRecord& r) {
  // Formatted by hand: this runs once per request (nlohmann's DOM cost more
  // than everything else the writer thread does).
  out.reserve(out.size() + 300 + r.host.size() + r.path.size() + r.reason.size() + r.client.size() + r.route.size());
  out += "{\"ts\":\"";
  append_timestamp(out);
  out += '"';
  auto field = [&](const char* key, std::string_view v) {
    out += ",\"";
    out += key;
    out += "\":";
    append_json_string(out, v);
  };
  auto key = [&](const char* k) {
    out += ",\"";
    out += k;
    out += "\":";
  };
  field("cell", r.cell);
  field("kind", r.kind);
  field("tls", r.tls);
  field("method", r.method);
  field("host", r.host);
  key("port");
  append_int(out, r.port);
  field("path", r.path);
  key("status");
  append_int(out, r.status);
  field("decision", r.decision);
  if (!r.code.empty()) field("code", r.code);
  key("generation");
  append_int(out, r.generation);
  field("rule", r.rule);
  field("reason", r.reason);
  if (!r.client.empty()) field("client", r.client);
  if (!r.route.empty()) field("route", r.route);
  if (!r.host_service.empty()) field("host_service", r.host_service);
  if (r.transparent) out += ",\"transparent\":true";
  key("bytes_in");
  append_int(out, r.bytes_in);
  key("bytes_out");
  append_int(out, r.bytes_out);
  // Milliseconds with three decimals, truncated to the microsecond.
  key("duration_ms");
  const long long us = r.duration_ms > 0 ? static_cast<long long>(r.duration_ms * 1000) : 0;
  append_int(out, us / 1000);
  out += '.';
  const int frac = static_cast<int>(us % 1000);
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += '}';
}

void LogWriter::append(const std::string& cell, const std::string& lines) {
  const std::string path = state::cell_log_in(dir_, cell);
  unique_fd lock(::open(state::log_lock_path(path).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (lock) ::flock(lock.get(), LOCK_EX);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) + lines.size() > max_bytes_) {
    state::rotate_log(path);
  }
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return;
  std::string_view rest = lines;
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void LogWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) break;
    std::deque<LogRecord> batch;
    batch.swap(queue_);
    busy_ = true;
    lock.unlock();
    std::map<std::string, std::string, std::less<>> by_cell;
    for (const auto& r : batch) {
      const std::string_view cell = r.cell.empty() ? std::string_view("unknown") : std::string_view(r.cell);
      auto it = by_cell.find(cell);
      if (it == by_cell.end()) it = by_cell.emplace(std::string(cell), std::string()).first;
      format_into(it->second, r);
      it->second += '\n';
    }
    for (const auto& [cell, lines] : by_cell) append(cell, lines);
    lock.lock();
    busy_ = false;
    idle_cv_.notify_all();
    // Gather for a moment before the next batch: each batch costs a handful of
    // syscalls (lock, stat, open, write, close) per cell, so under load fewer,
    // larger batches; an idle writer still answers the first record at once.
    if (!stop_ && !queue_.empty()) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      lock.lock();
    }
  }
}

}  // namespace brig::warden
