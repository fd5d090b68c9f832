#include "logwriter.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/unique_fd.h"

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
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(rec));
  }
  cv_.notify_one();
}

void LogWriter::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

std::uint64_t LogWriter::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::string LogWriter::format(const LogRecord& r) {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  nlohmann::json j = {{"ts", ts},           {"cell", r.cell},       {"kind", r.kind},         {"tls", r.tls},
                      {"method", r.method}, {"host", r.host},       {"port", r.port},         {"path", r.path},
                      {"status", r.status}, {"decision", r.decision}, {"rule", r.rule},       {"reason", r.reason},
                      {"bytes_in", r.bytes_in}, {"bytes_out", r.bytes_out},
                      {"duration_ms", static_cast<double>(static_cast<long>(r.duration_ms * 1000)) / 1000}};
  // Invalid UTF-8 from a hostile client must not make the record unwritable.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void LogWriter::append(const std::string& cell, const std::string& lines) {
  const std::string path = dir_ + "/" + cell + ".jsonl";
  unique_fd lock(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (lock) ::flock(lock.get(), LOCK_EX);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) + lines.size() > max_bytes_) {
    for (int i = 4; i >= 1; --i) {
      const std::string from = i == 1 ? path : path + "." + std::to_string(i - 1);
      ::rename(from.c_str(), (path + "." + std::to_string(i)).c_str());
    }
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
    std::map<std::string, std::string> by_cell;
    for (const auto& r : batch) by_cell[r.cell.empty() ? "unknown" : r.cell] += format(r) + "\n";
    for (const auto& [cell, lines] : by_cell) append(cell, lines);
    lock.lock();
    busy_ = false;
    idle_cv_.notify_all();
  }
}

}  // namespace brig::warden
