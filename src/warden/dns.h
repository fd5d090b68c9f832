// The DNS wire format, as far as warden's resolver needs it (RFC 1035): one
// question in, one answer out. Pure and bounded: no allocation proportional
// to anything but the (capped) message, no compression pointer followed in
// a question, so a hostile query costs a fixed amount. Private to module
// warden; the server side is dns_server.cc.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace brig::warden::dns {

// A query longer than this (UDP datagram, or a TCP message without its
// length prefix) is dropped unread: no honest single-question query is near it.
inline constexpr std::size_t kMaxQuery = 512;

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAAAA = 28;
inline constexpr std::uint16_t kClassIN = 1;

enum class Rcode : std::uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };

struct Query {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;  // the query's flags word as sent (RD is echoed)
  // The question name: labels joined with '.', ASCII letters lowercased, no
  // trailing dot ("" for the root). A byte that is not printable ASCII, and
  // '.' or a backslash inside a label, is written \DDD as dig prints it, so the
  // name is safe to log and `valid` names need no escape.
  std::string name;
  // Every label is 1-63 letters, digits, '-' or '_', and the name is at most
  // 253 characters: the only names a policy can allow. Others are answered
  // NXDOMAIN without asking the policy.
  bool valid = false;
  std::uint16_t qtype = 0, qclass = 0;
  std::size_t question_end = 0;  // offset just past the question in the message (what answers echo)
};

enum class Parse : std::uint8_t {
  ok,       // a standard query with one question: answer it
  formerr,  // a query warden can answer FORMERR to (header intact, question unusable)
  notimp,   // a well-formed message with an opcode other than QUERY
  drop,     // not worth an answer: too short or too long, a response, no or several questions, truncated
};

struct Parsed {
  Parse status = Parse::drop;
  Query query;  // filled for ok; id and flags also for formerr and notimp
};

// Parses one DNS message that should be a query. Accepts exactly one
// question (QDCOUNT 1), no answer or authority records, and at most one
// additional record (EDNS OPT; ignored). A compression pointer in the
// question is FORMERR (a query has nothing to point at).
Parsed parse_query(std::span<const std::uint8_t> msg);

// The response to `q` (parsed from `msg`): the header with QR, AA and RA set,
// RD echoed and `rcode`, the question echoed byte for byte, and for an A
// question with `a` set, one A record for the question's name (a pointer to
// offset 12) with `ttl`. EDNS is not echoed. With `rcode` formerr or notimp
// the question is echoed only if it parsed.
std::string answer(const Query& q, std::span<const std::uint8_t> msg, Rcode rcode,
                   const std::array<std::uint8_t, 4>* a = nullptr, std::uint32_t ttl = 0);

}  // namespace brig::warden::dns
