// The API's resources over the engine (docs/reference/api.md). The server
// (server.cc) parses HTTP and hands each request here with a Sink to answer.
#pragma once

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "brig/api/server.h"
#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::api {

struct Request {
  std::string method;
  std::string path;                   // as sent, without the query (for messages)
  std::vector<std::string> segments;  // the path's segments, each percent-decoded
  std::map<std::string, std::string> query;
  std::string body;
};

// How a handler answers: once whole (send), or as a stream (begin, then
// chunk until it returns false: the client left, then end).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(int status, std::string_view content_type, std::string_view body) = 0;
  virtual bool begin(int status, std::string_view content_type) = 0;
  virtual bool chunk(std::string_view data) = 0;
  virtual void end() = 0;
  // Whether the client is still connected (asked without reading).
  virtual bool alive() = 0;
};

// The status an Error maps to: 400 usage/invalid, 404 not_found, 409 exists,
// 503 unavailable, else 500.
int status_of(const Error& e);
// {"error": message, "fix": fix} sent with status_of(e).
void send_error(Sink& out, const Error& e);
void send_json(Sink& out, int status, const nlohmann::json& j);

struct Context {
  Paths paths;
  SpecLoader load_spec;
  const std::atomic<bool>* stopping = nullptr;  // streams end when set
};

void handle(const Context& ctx, const Request& req, Sink& out);

}  // namespace brig::api
