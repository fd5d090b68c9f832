#include "warden/logwriter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace brig::warden {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (stdfs::temp_directory_path() / "brig-log-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "2024-05-01T12:34:56.789Z"
bool is_iso8601_ms(const std::string& ts) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != shape.size()) return false;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(ts[i])) : ts[i] != shape[i]) return false;
  }
  return true;
}

LogRecord full_record() {
  LogRecord r;
  r.cell = "web";
  r.kind = "connect";
  r.tls = "mitm";
  r.method = "POST";
  r.host = "api.example.com";
  r.port = 443;
  r.path = "/v1/items?x=1";
  r.status = 201;
  r.decision = "allow";
  r.rule = "allow api.example.com";
  r.reason = "matched";
  r.bytes_in = 1234;
  r.bytes_out = 5678;
  r.duration_ms = 12.34567;
  r.generation = 42;
  return r;
}

TEST(LogWriterFormat, ARefusalCarriesItsCode) {
  LogRecord r = full_record();
  r.decision = "deny";
  r.code = "no_rule";
  EXPECT_EQ(json::parse(LogWriter::format(r)).at("code"), "no_rule");
}

TEST(LogWriterFormat, TransparentIsWrittenOnlyWhenTrue) {
  LogRecord r = full_record();
  EXPECT_FALSE(json::parse(LogWriter::format(r)).contains("transparent"));
  r.transparent = true;
  EXPECT_EQ(json::parse(LogWriter::format(r)).at("transparent"), true);
}

TEST(LogWriterFormat, HostServiceIsWrittenOnlyWhenSet) {
  LogRecord r = full_record();
  EXPECT_FALSE(json::parse(LogWriter::format(r)).contains("host_service"));
  r.kind = "tcp";
  r.host_service = "db";
  const auto j = json::parse(LogWriter::format(r));
  EXPECT_EQ(j.at("host_service"), "db");
  EXPECT_EQ(j.at("kind"), "tcp");
}

TEST(LogWriterFormat, EveryField) {
  const json j = json::parse(LogWriter::format(full_record()));
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"ts", "cell", "kind", "tls", "method", "host", "port", "path", "status",
                                         "decision", "generation", "rule", "reason", "bytes_in", "bytes_out",
                                         "duration_ms"}));
  EXPECT_EQ(j.at("generation"), 42u);
  EXPECT_TRUE(is_iso8601_ms(j.at("ts").get<std::string>())) << j.at("ts");
  EXPECT_EQ(j.at("cell"), "web");
  EXPECT_EQ(j.at("kind"), "connect");
  EXPECT_EQ(j.at("tls"), "mitm");
  EXPECT_EQ(j.at("method"), "POST");
  EXPECT_EQ(j.at("host"), "api.example.com");
  EXPECT_EQ(j.at("port"), 443);
  EXPECT_EQ(j.at("path"), "/v1/items?x=1");
  EXPECT_EQ(j.at("status"), 201);
  EXPECT_EQ(j.at("decision"), "allow");
  EXPECT_EQ(j.at("rule"), "allow api.example.com");
  EXPECT_EQ(j.at("reason"), "matched");
  EXPECT_EQ(j.at("bytes_in"), 1234u);
  EXPECT_EQ(j.at("bytes_out"), 5678u);
  EXPECT_DOUBLE_EQ(j.at("duration_ms").get<double>(), 12.345);  // whole microseconds
}

TEST(LogWriterFormat, DefaultsForAnEmptyRecord) {
  const json j = json::parse(LogWriter::format(LogRecord{}));
  EXPECT_EQ(j.at("kind"), "http");
  EXPECT_EQ(j.at("tls"), "none");
  EXPECT_EQ(j.at("port"), 0);
  EXPECT_EQ(j.at("bytes_in"), 0);
}

TEST(LogWriterFormat, HostileBytesStillMakeOneValidJsonLine) {
  LogRecord r = full_record();
  r.host = "bad\xff\xfe.example";
  r.path = "/a\xc3";          // truncated UTF-8 sequence
  r.reason = "line\nbreak\r\"quote\"\x01";
  r.rule = "\xed\xa0\x80";    // an encoded surrogate is not UTF-8
  const std::string line = LogWriter::format(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json j;
  ASSERT_NO_THROW(j = json::parse(line)) << line;
  EXPECT_EQ(j.at("host"), "bad\xef\xbf\xbd\xef\xbf\xbd.example");  // U+FFFD for each bad byte
  EXPECT_EQ(j.at("reason"), "line\nbreak\r\"quote\"\x01");
  EXPECT_EQ(j.at("cell"), "web");
}

TEST(LogWriter, RecordsLandAsOneLineEach) {
  TempDir tmp;
  {
    LogWriter w(tmp.path);
    for (int i = 0; i < 5; ++i) {
      LogRecord r = full_record();
      r.path = "/" + std::to_string(i);
      w.write(r);
    }
    LogRecord other = full_record();
    other.cell = "db";
    w.write(other);
    LogRecord nameless = full_record();
    nameless.cell = "";
    w.write(nameless);
    w.flush();
    const auto lines = lines_of(tmp.path + "/web.jsonl");
    ASSERT_EQ(lines.size(), 5u);
    for (int i = 0; i < 5; ++i) {
      const json j = json::parse(lines[static_cast<std::size_t>(i)]);
      EXPECT_EQ(j.at("path"), "/" + std::to_string(i)) << "in order";
      EXPECT_EQ(j.at("host"), "api.example.com");
    }
    EXPECT_EQ(lines_of(tmp.path + "/db.jsonl").size(), 1u);
    EXPECT_EQ(lines_of(tmp.path + "/unknown.jsonl").size(), 1u);
    EXPECT_EQ(w.dropped(), 0u);
  }
  const std::string text = read_all(tmp.path + "/web.jsonl");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
}

TEST(LogWriter, DestructorFlushesTheQueue) {
  TempDir tmp;
  {
    LogWriter w(tmp.path);
    for (int i = 0; i < 200; ++i) w.write(full_record());
  }
  EXPECT_EQ(lines_of(tmp.path + "/web.jsonl").size(), 200u);
}

TEST(LogWriter, CreatesItsDirectory) {
  TempDir tmp;
  const std::string dir = tmp.path + "/logs/cells";
  {
    LogWriter w(dir);
    w.write(full_record());
    w.flush();
  }
  EXPECT_EQ(lines_of(dir + "/web.jsonl").size(), 1u);
}

TEST(LogWriter, RotationKeepsFourFiles) {
  TempDir tmp;
  const std::size_t line_size = LogWriter::format(full_record()).size() + 1;
  const std::size_t max_bytes = 4 * line_size;
  {
    LogWriter w(tmp.path, max_bytes);
    for (int i = 0; i < 60; ++i) {
      LogRecord r = full_record();
      r.path = "/" + std::to_string(1000 + i);  // same width: every line the same size
      w.write(r);
      w.flush();
    }
  }
  const std::string base = tmp.path + "/web.jsonl";
  for (const std::string& f : {base, base + ".1", base + ".2", base + ".3", base + ".4"}) {
    ASSERT_TRUE(stdfs::exists(f)) << f;
    EXPECT_LE(stdfs::file_size(f), max_bytes) << f;
    for (const auto& line : lines_of(f)) EXPECT_TRUE(json::accept(line)) << f << ": " << line;
  }
  EXPECT_FALSE(stdfs::exists(base + ".5"));
  // The newest records survive: the last one is in the live file, the
  // previous ones in .1.
  const auto live = lines_of(base);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(json::parse(live.back()).at("path"), "/1059");
  const auto one = lines_of(base + ".1");
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(std::stoi(json::parse(one.back()).at("path").get<std::string>().substr(1)) + 1,
            std::stoi(json::parse(live.front()).at("path").get<std::string>().substr(1)));
}

// Two writers (two wardens, or warden and a brig tool) append to and rotate the
// same files: no line is lost or torn.
TEST(LogWriter, TwoWritersOnOneDirectory) {
  TempDir tmp;
  constexpr int kPerWriter = 250;
  const std::size_t line_size = LogWriter::format(full_record()).size() + 1;
  const std::size_t max_bytes = line_size * kPerWriter * 2 / 3;  // a few rotations, never past .4
  {
    LogWriter a(tmp.path, max_bytes), b(tmp.path, max_bytes);
    auto produce = [](LogWriter& w, const std::string& who) {
      for (int i = 0; i < kPerWriter; ++i) {
        LogRecord r = full_record();
        r.path = "/" + who + "/" + std::to_string(i);
        w.write(r);
        if (i % 10 == 9) w.flush();
      }
      w.flush();
    };
    std::thread ta(produce, std::ref(a), "a"), tb(produce, std::ref(b), "b");
    ta.join();
    tb.join();
    EXPECT_EQ(a.dropped() + b.dropped(), 0u);
  }
  const std::string base = tmp.path + "/web.jsonl";
  EXPECT_TRUE(stdfs::exists(base + ".1")) << "rotation happened while both wrote";
  EXPECT_FALSE(stdfs::exists(base + ".5"));
  std::set<std::string> seen;
  std::size_t total = 0;
  for (const std::string& f : {base, base + ".1", base + ".2", base + ".3", base + ".4"}) {
    if (!stdfs::exists(f)) continue;
    const std::string text = read_all(f);
    if (!text.empty()) {
      EXPECT_EQ(text.back(), '\n') << f;
    }
    for (const auto& line : lines_of(f)) {
      ++total;
      json j;
      ASSERT_NO_THROW(j = json::parse(line)) << f << ": " << line;
      EXPECT_TRUE(seen.insert(j.at("path").get<std::string>()).second) << "duplicate " << j.at("path");
    }
  }
  EXPECT_EQ(total, 2u * kPerWriter);
  EXPECT_EQ(seen.size(), 2u * kPerWriter);
}

// With the writer thread stuck on the file lock (another process rotating), the
// queue fills and write() drops instead of blocking.
TEST(LogWriter, QueueOverflowDropsAndCounts) {
  TempDir tmp;
  constexpr std::size_t kQueue = 4;
  constexpr int kWrites = 40;
  const std::string lock_path = tmp.path + "/web.jsonl.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  LogWriter w(tmp.path, 10u << 20, kQueue);
  for (int i = 0; i < kWrites; ++i) w.write(full_record());
  // At most one batch (<= kQueue) is held by the blocked thread and kQueue wait.
  EXPECT_GE(w.dropped(), static_cast<std::uint64_t>(kWrites) - 2 * kQueue);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  w.flush();
  const auto lines = lines_of(tmp.path + "/web.jsonl");
  EXPECT_EQ(lines.size() + w.dropped(), static_cast<std::size_t>(kWrites));
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 2 * kQueue);
  // Once drained, writes are accepted again.
  const auto dropped = w.dropped();
  w.write(full_record());
  w.flush();
  EXPECT_EQ(w.dropped(), dropped);
  EXPECT_EQ(lines_of(tmp.path + "/web.jsonl").size(), lines.size() + 1);
}

}  // namespace
}  // namespace brig::warden
