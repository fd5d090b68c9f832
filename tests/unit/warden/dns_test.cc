// warden's DNS codec: hand-built queries, hostile ones included, and the
// answers checked byte for byte and read back as a stub resolver would.
#include "warden/dns.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brig::warden::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v & 0xff));
}

Bytes with16(Bytes b, std::size_t at, unsigned v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v & 0xff);
  return b;
}

// "Allowed.Test." -> {"Allowed", "Test"}; "" and "." -> the root.
std::vector<std::string> split(std::string_view dotted) {
  std::vector<std::string> labels;
  while (!dotted.empty() && dotted != ".") {
    const auto dot = dotted.find('.');
    labels.emplace_back(dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  return labels;
}

// A query with id 0xbeef, RD set, one question for `labels` (each written
// with its length byte as given, whatever it holds) and `qtype` IN.
Bytes query(const std::vector<std::string>& labels, unsigned qtype = kTypeA) {
  Bytes b;
  put16(b, 0xbeef);
  put16(b, 0x0100);
  put16(b, 1);
  for (int i = 0; i < 3; ++i) put16(b, 0);
  for (const auto& l : labels) {
    b.push_back(static_cast<std::uint8_t>(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
  put16(b, qtype);
  put16(b, kClassIN);
  return b;
}
Bytes query(std::string_view dotted, unsigned qtype = kTypeA) { return query(split(dotted), qtype); }

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A minimal stub resolver's reading of a response: every count honoured,
// names (with compression pointers, which must point backwards) in range,
// no byte left over.
struct Rr {
  std::string name;
  std::uint16_t type = 0, rclass = 0;
  std::uint32_t ttl = 0;
  Bytes rdata;
};
struct Response {
  std::uint16_t id = 0, flags = 0;
  std::optional<Rr> question;  // type and class only
  std::vector<Rr> answers;
};

class ResponseReader {
 public:
  explicit ResponseReader(const std::string& s) : m_(bytes_of(s)) {}

  std::optional<Response> read() {
    Response r;
    std::uint16_t qd = 0, an = 0, ns = 0, ar = 0;
    if (!u16(r.id) || !u16(r.flags) || !u16(qd) || !u16(an) || !u16(ns) || !u16(ar)) return std::nullopt;
    if ((r.flags & 0x8000) == 0 || qd > 1 || ns != 0 || ar != 0) return std::nullopt;
    if (qd == 1) {
      Rr q;
      if (!name(q.name) || !u16(q.type) || !u16(q.rclass)) return std::nullopt;
      r.question = q;
    }
    for (int i = 0; i < an; ++i) {
      Rr rr;
      std::uint16_t hi = 0, lo = 0, len = 0;
      if (!name(rr.name) || !u16(rr.type) || !u16(rr.rclass) || !u16(hi) || !u16(lo) || !u16(len)) return std::nullopt;
      if (m_.size() - pos_ < len) return std::nullopt;
      rr.ttl = (std::uint32_t{hi} << 16) | lo;
      rr.rdata.assign(m_.begin() + static_cast<long>(pos_), m_.begin() + static_cast<long>(pos_ + len));
      pos_ += len;
      r.answers.push_back(rr);
    }
    if (pos_ != m_.size()) return std::nullopt;
    return r;
  }

 private:
  bool u16(std::uint16_t& v) {
    if (m_.size() - pos_ < 2) return false;
    v = static_cast<std::uint16_t>((m_[pos_] << 8) | m_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool name(std::string& out) {
    std::size_t at = pos_;
    bool jumped = false;
    for (;;) {
      if (at >= m_.size()) return false;
      const std::uint8_t len = m_[at];
      if ((len & 0xc0) == 0xc0) {
        if (at + 1 >= m_.size()) return false;
        const std::size_t target = ((len & 0x3fu) << 8) | m_[at + 1];
        if (target >= at) return false;  // forwards or to itself: a loop
        if (!jumped) pos_ = at + 2;
        jumped = true;
        at = target;
        continue;
      }
      if (len > 63 || at + 1 + len > m_.size()) return false;
      if (len == 0) break;
      if (!out.empty()) out += '.';
      out.append(m_.begin() + static_cast<long>(at + 1), m_.begin() + static_cast<long>(at + 1 + len));
      at += 1 + len;
    }
    if (!jumped) pos_ = at + 1;
    return true;
  }

  Bytes m_;
  std::size_t pos_ = 0;
};

std::optional<Response> read_response(const std::string& s) { return ResponseReader(s).read(); }

std::uint16_t rcode_of(const std::string& answer) { return static_cast<std::uint8_t>(answer[3]) & 0x0f; }

const std::array<std::uint8_t, 4> kAddr{10, 0, 0, 1};

TEST(DnsParseTest, AQueryParses) {
  const Bytes msg = query("Allowed.Test.");
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  EXPECT_EQ(p.query.id, 0xbeef);
  EXPECT_EQ(p.query.flags, 0x0100);
  EXPECT_EQ(p.query.name, "allowed.test");
  EXPECT_TRUE(p.query.valid);
  EXPECT_EQ(p.query.qtype, kTypeA);
  EXPECT_EQ(p.query.qclass, kClassIN);
  EXPECT_EQ(p.query.question_end, msg.size());
}

TEST(DnsAnswerTest, ARecordExactBytes) {
  const Bytes msg = query("Allowed.Test.");
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  const std::string got = answer(p.query, msg, Rcode::noerror, &kAddr, 300);
  const std::string want(
      "\xbe\xef\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00"              // id, QR AA RD RA, 1 question, 1 answer
      "\x07" "Allowed" "\x04" "Test" "\x00" "\x00\x01\x00\x01"        // the question as sent (case kept)
      "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x0a\x00\x00\x01",  // -> offset 12, A IN, 300 s, 10.0.0.1
      12 + 18 + 16);
  EXPECT_EQ(got, want);
}

TEST(DnsAnswerTest, RdEchoedNotSet) {
  const Bytes msg = with16(query("allowed.test"), 2, 0x0000);
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  const std::string got = answer(p.query, msg, Rcode::noerror, &kAddr, 60);
  EXPECT_EQ(got.substr(2, 2), std::string("\x84\x80", 2));
  // Z, AD and CD in the query are not echoed.
  const Bytes zad = with16(query("allowed.test"), 2, 0x0170);
  const auto pz = parse_query(zad);
  ASSERT_EQ(pz.status, Parse::ok);
  EXPECT_EQ(answer(pz.query, zad, Rcode::noerror).substr(2, 2), std::string("\x85\x80", 2));
}

TEST(DnsAnswerTest, NxdomainAndEmptyNoerror) {
  const Bytes msg = query("allowed.test", kTypeAAAA);
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  EXPECT_EQ(p.query.qtype, kTypeAAAA);

  // An address is never put in an AAAA answer: NOERROR with no record.
  const std::string empty = answer(p.query, msg, Rcode::noerror, &kAddr, 60);
  EXPECT_EQ(empty.size(), msg.size());
  EXPECT_EQ(empty.substr(0, 12), std::string("\xbe\xef\x85\x80\x00\x01\x00\x00\x00\x00\x00\x00", 12));
  EXPECT_EQ(empty.substr(12), std::string(msg.begin() + 12, msg.end()));

  const std::string nx = answer(p.query, msg, Rcode::nxdomain);
  EXPECT_EQ(nx.substr(0, 12), std::string("\xbe\xef\x85\x83\x00\x01\x00\x00\x00\x00\x00\x00", 12));
  EXPECT_EQ(nx.substr(12), std::string(msg.begin() + 12, msg.end()));

  // Nor with an error rcode, even for an A question.
  const Bytes a = query("allowed.test");
  const auto pa = parse_query(a);
  const auto refused = read_response(answer(pa.query, a, Rcode::refused, &kAddr, 60));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->flags & 0x0f, 5);
  EXPECT_TRUE(refused->answers.empty());
}

TEST(DnsAnswerTest, ReadsBackAsAResponse) {
  const Bytes msg = query("Allowed.Test.");
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  const std::string a = answer(p.query, msg, Rcode::noerror, &kAddr, 0x01020304);
  const auto r = read_response(a);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 0xbeef);
  EXPECT_EQ(r->flags, 0x8580);
  ASSERT_TRUE(r->question);
  EXPECT_EQ(r->question->name, "Allowed.Test");
  EXPECT_EQ(r->question->type, kTypeA);
  EXPECT_EQ(r->question->rclass, kClassIN);
  ASSERT_EQ(r->answers.size(), 1u);
  EXPECT_EQ(r->answers[0].name, "Allowed.Test");  // through the pointer
  EXPECT_EQ(r->answers[0].type, kTypeA);
  EXPECT_EQ(r->answers[0].rclass, kClassIN);
  EXPECT_EQ(r->answers[0].ttl, 0x01020304u);
  EXPECT_EQ(r->answers[0].rdata, Bytes(kAddr.begin(), kAddr.end()));
  // A response is never taken for a query (no answer loops).
  EXPECT_EQ(parse_query(bytes_of(a)).status, Parse::drop);

  for (Rcode rc : {Rcode::noerror, Rcode::servfail, Rcode::nxdomain, Rcode::refused}) {
    const auto e = read_response(answer(p.query, msg, rc));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->flags & 0x0f, static_cast<int>(rc));
    EXPECT_TRUE(e->question);
    EXPECT_TRUE(e->answers.empty());
  }
}

TEST(DnsParseTest, DropsWhatIsNotWorthAnAnswer) {
  const Bytes good = query("allowed.test");
  EXPECT_EQ(parse_query(Bytes()).status, Parse::drop);
  EXPECT_EQ(parse_query(Bytes(good.begin(), good.begin() + 11)).status, Parse::drop);
  Bytes big = good;
  big.resize(kMaxQuery, 0);  // trailing bytes after the question are ignored...
  EXPECT_EQ(parse_query(big).status, Parse::ok);
  big.push_back(0);  // ...up to the cap
  EXPECT_EQ(big.size(), 513u);
  EXPECT_EQ(parse_query(big).status, Parse::drop);
  EXPECT_EQ(parse_query(with16(good, 2, 0x8100)).status, Parse::drop);  // QR: a response
  EXPECT_EQ(parse_query(with16(good, 2, 0x0300)).status, Parse::drop);  // TC
  EXPECT_EQ(parse_query(with16(good, 4, 0)).status, Parse::drop);       // no question
  EXPECT_EQ(parse_query(with16(good, 4, 2)).status, Parse::drop);       // two questions
}

TEST(DnsParseTest, OtherOpcodeIsNotimp) {
  const Bytes msg = with16(query("allowed.test"), 2, 0x1100);  // opcode 2 (STATUS), RD
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::notimp);
  EXPECT_EQ(p.query.id, 0xbeef);
  EXPECT_EQ(p.query.flags, 0x1100);
  const std::string a = answer(p.query, msg, Rcode::notimp);
  EXPECT_EQ(a, std::string("\xbe\xef\x95\x84\x00\x00\x00\x00\x00\x00\x00\x00", 12));
  ASSERT_TRUE(read_response(a));
}

// FORMERR: the header is answered (id echoed), the question is not.
void expect_formerr(const Bytes& msg, const char* why) {
  SCOPED_TRACE(why);
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::formerr);
  EXPECT_EQ(p.query.id, 0xbeef);
  EXPECT_EQ(p.query.question_end, 0u);
  const std::string a = answer(p.query, msg, Rcode::formerr, &kAddr, 60);
  EXPECT_EQ(a, std::string("\xbe\xef\x85\x81\x00\x00\x00\x00\x00\x00\x00\x00", 12));
  ASSERT_TRUE(read_response(a));
}

TEST(DnsParseTest, FormerrOnABrokenQuestion) {
  Bytes ptr = query("");  // the root, then a pointer in place of its zero
  ptr.insert(ptr.begin() + 12, {0xc0, 0x0c});
  ptr.erase(ptr.begin() + 14);
  expect_formerr(ptr, "pointer first");
  Bytes later = query("a.test");
  later[14] = 0xc0;  // "a" then a pointer to offset 4 where "test" would start
  later[15] = 4;
  expect_formerr(later, "pointer after a label");
  Bytes ext = query("a.test");
  ext[14] = 0x44;
  expect_formerr(ext, "label type 0x40");
  ext[14] = 0x84;
  expect_formerr(ext, "label type 0x80");

  expect_formerr(query({std::string(64, 'a'), "test"}), "label of 64 bytes");
  expect_formerr(query({std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'), std::string(62, 'd')}),
                 "256 wire bytes");
  expect_formerr(query({std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'), std::string(61, 'd'), "e"}),
                 "more labels after 255 bytes");

  const Bytes good = query("allowed.test");
  expect_formerr(Bytes(good.begin(), good.begin() + 15), "cut inside a label");
  expect_formerr(Bytes(good.begin(), good.begin() + 25), "cut before the root label");
  expect_formerr(Bytes(good.begin(), good.begin() + 26), "no qtype");
  expect_formerr(Bytes(good.begin(), good.begin() + 29), "half a qclass");
  expect_formerr(Bytes(good.begin(), good.begin() + 12), "header only");

  expect_formerr(with16(good, 6, 1), "an answer record");
  expect_formerr(with16(good, 8, 1), "an authority record");
  expect_formerr(with16(good, 10, 2), "two additional records");
}

TEST(DnsParseTest, EdnsOptIsIgnored) {
  Bytes msg = with16(query("allowed.test"), 10, 1);
  const std::size_t question_end = msg.size();
  msg.push_back(0);          // root owner
  put16(msg, 41);            // OPT
  put16(msg, 1232);          // UDP payload size
  put16(msg, 0);             // extended rcode, version
  put16(msg, 0x8000);        // DO
  put16(msg, 0);             // no options
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  EXPECT_EQ(p.query.name, "allowed.test");
  EXPECT_EQ(p.query.question_end, question_end);
  const auto r = read_response(answer(p.query, msg, Rcode::noerror, &kAddr, 60));  // no OPT echoed
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers.size(), 1u);
}

TEST(DnsParseTest, NamesAreEscapedAndJudged) {
  struct Case {
    std::vector<std::string> labels;
    std::string name;
    bool valid;
  };
  const std::vector<Case> cases = {
      {{"A\x01" "b", "test"}, "a\\001b.test", false},
      {{"a.b", "test"}, "a\\046b.test", false},  // a dot inside a label
      {{"a\\b"}, "a\\092b", false},
      {{"a b"}, "a\\032b", false},
      {{std::string("\x00\x7f\xff", 3)}, "\\000\\127\\255", false},
      {{"x!y"}, "x!y", false},
      {{"_dmarc", "Example", "test"}, "_dmarc.example.test", true},
      {{"my-host", "x-1", "test"}, "my-host.x-1.test", true},
      {{"-a", "test"}, "-a.test", false},
      {{"a-", "test"}, "a-.test", false},
      {{"-"}, "-", false},
      {{"localhost"}, "localhost", true},
      {{"123", "45"}, "123.45", true},
      {{}, "", false},  // the root
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto p = parse_query(query(c.labels));
    ASSERT_EQ(p.status, Parse::ok);
    EXPECT_EQ(p.query.name, c.name);
    EXPECT_EQ(p.query.valid, c.valid);
  }
}

TEST(DnsParseTest, LongestNameParses) {
  // 63+63+63+61 letters in four labels: 255 wire bytes, 253 characters.
  const std::vector<std::string> labels = {std::string(63, 'A'), std::string(63, 'b'), std::string(63, 'c'),
                                           std::string(61, 'd')};
  const Bytes msg = query(labels);
  const auto p = parse_query(msg);
  ASSERT_EQ(p.status, Parse::ok);
  EXPECT_EQ(p.query.name.size(), 253u);
  EXPECT_EQ(p.query.name, std::string(63, 'a') + '.' + std::string(63, 'b') + '.' + std::string(63, 'c') + '.' +
                              std::string(61, 'd'));
  EXPECT_TRUE(p.query.valid);
  EXPECT_EQ(p.query.question_end, 12u + 255 + 4);
  const auto r = read_response(answer(p.query, msg, Rcode::noerror, &kAddr, 60));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->answers.size(), 1u);
  EXPECT_EQ(r->answers[0].name.size(), 253u);

  // A 254-character name needs 256 wire bytes: it never gets as far as `valid`.
  EXPECT_EQ(parse_query(query({std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'),
                               std::string(62, 'd')}))
                .status,
            Parse::formerr);
  // The longest escaped name: 255 wire bytes of binary, each byte \DDD.
  const auto bin = parse_query(query({std::string(63, '\x01'), std::string(63, '\x02'), std::string(63, '\x03'),
                                      std::string(61, '\x04')}));
  ASSERT_EQ(bin.status, Parse::ok);
  EXPECT_EQ(bin.query.name.size(), 250u * 4 + 3);
  EXPECT_FALSE(bin.query.valid);
}

TEST(DnsAnswerTest, QuestionEchoedOnlyFromItsMessage) {
  const Bytes msg = query("allowed.test");
  auto q = parse_query(msg).query;
  // A question_end past the bytes given (a caller's mistake) echoes nothing.
  const auto r = read_response(answer(q, Bytes(msg.begin(), msg.begin() + 20), Rcode::noerror, &kAddr, 60));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->question);
  EXPECT_TRUE(r->answers.empty());
  EXPECT_EQ(rcode_of(answer(q, msg, Rcode::servfail)), 2);
}

}  // namespace
}  // namespace brig::warden::dns
