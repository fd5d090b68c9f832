// The API's resources (docs/reference/api.md), each a call of the engine the
// CLI makes too.
#include "routes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/core/unique_fd.h"
#include "brig/engine/cell_verbs.h"
#include "brig/engine/cells.h"
#include "brig/engine/engine.h"
#include "brig/engine/podman.h"
#include "brig/engine/workspace.h"
#include "brig/policy/policy.h"
#include "brig/proc/command.h"
#include "brig/spec/validate.h"
#include "brig/state/cell_logs.h"
#include "brig/state/cell_policy.h"
#include "brig/state/events.h"

namespace brig::api {

int status_of(const Error& e) {
  switch (e.code()) {
    case Errc::usage:
    case Errc::invalid:
      return 400;
    case Errc::not_found:
      return 404;
    case Errc::exists:
      return 409;
    case Errc::unavailable:
      return 503;
    default:
      return 500;
  }
}

void send_json(Sink& out, int status, const nlohmann::json& j) {
  out.send(status, "application/json", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void send_error(Sink& out, const Error& e) {
  send_json(out, status_of(e), {{"error", e.message()}, {"fix", e.fix()}});
}

namespace {

constexpr std::size_t kMaxJsonBody = 1u << 20;
constexpr std::size_t kMaxFileBytes = 64u << 20;

proc::PosixRunner& runner() {
  static proc::PosixRunner r;
  return r;
}

std::string ndjson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<nlohmann::json> json_body(const Request& req) {
  if (req.body.size() > kMaxJsonBody) return Error(Errc::usage, "the JSON body is larger than 1 MiB");
  if (req.body.empty()) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(req.body);
    if (!j.is_object()) return Error(Errc::usage, "the body is not a JSON object", "send {\"field\": value, ...}");
    return j;
  } catch (const std::exception& e) {
    return Error(Errc::usage, std::string("the body is not JSON: ") + e.what(), "send a JSON object");
  }
}

// A query flag: "?force", "?force=1", "=true", "=yes" are on; absent, "0",
// "false", "no" are off.
bool flag(const Request& req, const std::string& name) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return false;
  const std::string v = str::to_lower(it->second);
  return v != "0" && v != "false" && v != "no";
}

void send_cell(engine::Engine& e, Sink& out, const std::string& cell, int status = 200) {
  auto st = e.status(cell);
  if (!st) return send_error(out, st.error());
  send_json(out, status, engine::cell_status_json(*st));
}

void list_cells(engine::Engine& e, Sink& out) {
  auto cells = e.list(true);
  if (!cells) return send_error(out, cells.error());
  auto arr = nlohmann::json::array();
  for (const auto& c : *cells) arr.push_back(engine::cell_status_json(c));
  send_json(out, 200, arr);
}

void create_cell(const Context& ctx, engine::Engine& e, const Request& req, Sink& out) {
  auto body = json_body(req);
  if (!body) return send_error(out, body.error());
  // "pool": a ready cell of that warm pool when the body asks only what a
  // claim can give (a name, more allowed hosts), else a cold one of the
  // pool's spec with the body over it (its env and policy lists added to
  // the pool's). Either way the cell waits (brig's idle init) for execs.
  bool claimable = false;
  std::vector<std::string> allow;
  std::string pool;
  if (body->contains("pool")) {
    if (!(*body)["pool"].is_string()) return send_error(out, Error(Errc::usage, "pool: expected a string"));
    if (body->contains("command")) {
      return send_error(out, Error(Errc::unavailable, "command with pool: not supported yet (a pool's cell waits)",
                                   "create it, then POST /v1/cells/{name}/exec"));
    }
    pool = (*body)["pool"];
    auto def = e.pools().load(pool);
    if (!def) return send_error(out, def.error());
    nlohmann::json merged = def->spec;
    claimable = true;
    for (const auto& [k, v] : body->items()) {
      if (k == "pool") continue;
      if ((k == "policy" || k == "env") && v.is_object() && merged.contains(k) && merged[k].is_object()) {
        for (const auto& [field, value] : v.items()) {
          const bool more_hosts = k == "policy" && field == "allow" && value.is_array();
          if (k == "policy" && value.is_array() && merged[k].contains(field) && merged[k][field].is_array()) {
            for (const auto& item : value) merged[k][field].push_back(item);
          } else {
            merged[k][field] = value;
          }
          if (!more_hosts) claimable = false;
          for (const auto& a : more_hosts ? value : nlohmann::json::array()) {
            if (a.is_string()) allow.push_back(a);
            else claimable = false;
          }
        }
        continue;
      }
      if (k != "name") claimable = false;
      merged[k] = v;
    }
    *body = std::move(merged);
  }
  if (!body->contains("name")) (*body)["name"] = engine::generate_cell_name();
  if (!(*body)["name"].is_string()) return send_error(out, Error(Errc::usage, "name: expected a string"));
  const std::string name = (*body)["name"];
  // JSON is YAML: the spec's own parser, merging and validation.
  auto resolved = ctx.load_spec(body->dump(2));
  if (!resolved) {
    const Error& err = resolved.error();
    return send_error(out, err.fix().empty() ? err.with_fix("correct the spec's fields (docs/reference/cell-spec.md)") : err);
  }
  if (claimable) {
    auto claimed = e.pools().claim({pool, name, allow});
    if (!claimed) return send_error(out, claimed.error());
    if (*claimed) return send_cell(e, out, name, 201);
  }
  engine::RunOptions o;
  o.detach = true;
  o.quiet = true;
  o.idle = !pool.empty();
  auto rc = e.run(*resolved, o);
  if (!rc) return send_error(out, rc.error());
  send_cell(e, out, name, 201);
}

void remove_cell(engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto st = e.status(cell);
  if (!st) return send_error(out, st.error());
  engine::WorkspaceRemoval in;
  in.cell = cell;
  in.force = flag(req, "force");
  in.keep_workspace = flag(req, "keep_workspace");
  if (st->state == "running" && !in.force) {
    return send_error(out, Error(Errc::exists, "cell " + cell + " is running",
                                 "DELETE /v1/cells/" + cell + "?force=1 stops and removes it"));
  }
  auto d = engine::decide_workspace_removal(in, st->record.workspace, e.paths().workspace(cell));
  using Action = engine::WorkspaceDecision::Action;
  if (d.action != Action::remove && d.action != Action::keep) {
    return send_error(out, Error(Errc::exists, d.message,
                                 "DELETE /v1/cells/" + cell + "?force=1 deletes it (or ?keep_workspace=1 keeps it)"));
  }
  auto kept = e.remove(cell, d.action == Action::keep);
  if (!kept) return send_error(out, kept.error());
  nlohmann::json j = {{"removed", cell}};
  if (!kept->empty()) j["workspace_kept"] = *kept;
  send_json(out, 200, j);
}

std::atomic<unsigned>& exec_count() {
  static std::atomic<unsigned> n{0};
  return n;
}

// The trailing bytes of `s` that start a UTF-8 character not yet complete.
std::string utf8_tail(const std::string& s) {
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? s.substr(s.size() - back) : std::string();
  }
  return {};
}

// Kills, inside the cell, the processes whose environment holds `mark`.
void kill_marked(const std::string& cell, const std::string& mark) {
  proc::Command k;
  k.argv = engine::cell_exec_args(
      cell, false, false,
      {"sh", "-c", "for e in /proc/[0-9]*/environ; do grep -qzx \"$0\" \"$e\" 2>/dev/null && "
                   "p=${e#/proc/} && kill -KILL \"${p%/environ}\"; done; true",
       mark});
  k.timeout = std::chrono::seconds(10);
  (void)runner().run(k);
}

void exec_in_cell(const Context& ctx, engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto body = json_body(req);
  if (!body) return send_error(out, body.error());
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  std::string stdin_data;
  double timeout = 0;
  try {
    cmd = body->value("cmd", std::vector<std::string>{});
    env = body->value("env", std::map<std::string, std::string>{});
    stdin_data = body->value("stdin", std::string());
    timeout = body->value("timeout", 0.0);
  } catch (const std::exception&) {
    return send_error(out, Error(Errc::usage, "cmd must be an array of strings, env an object of strings, stdin a "
                                              "string and timeout a number of seconds"));
  }
  if (cmd.empty()) return send_error(out, Error(Errc::usage, "cmd: no command given", "{\"cmd\": [\"ls\", \"-l\"]}"));
  for (const auto& [k, v] : env) {
    if (k.empty() || k.find('=') != std::string::npos) {
      return send_error(out, Error(Errc::usage, "env: " + str::quote(k) + " is not a variable name"));
    }
  }
  if (timeout < 0 || timeout > 7 * 86400) {
    return send_error(out, Error(Errc::usage, "timeout: 0 (none) or up to 604800 seconds"));
  }
  if (auto st = engine::require_running(e, cell); !st) return send_error(out, st.error());

  // A mark in the command's environment: what to kill in the cell when the
  // client leaves or the deadline passes (killing podman exec leaves the
  // command running inside).
  const std::string mark = "BRIG_API_EXEC=" + std::to_string(::getpid()) + "-" + std::to_string(++exec_count());
  env["BRIG_API_EXEC"] = mark.substr(mark.find('=') + 1);
  proc::Command c;
  c.argv = engine::cell_exec_args(cell, !stdin_data.empty(), false, cmd, env);
  c.stdin_data = stdin_data;
  if (timeout > 0) c.timeout = std::chrono::milliseconds(static_cast<long long>(timeout * 1000));
  if (!out.begin(200, "application/x-ndjson")) return;
  std::string carry[3];  // per stream: the bytes of a UTF-8 character cut by a read
  bool left = false;
  c.on_output = [&](int stream, std::string_view data) {
    if ((ctx.stopping && *ctx.stopping) || !out.alive()) {
      left = true;
      return false;
    }
    if (stream == 0) return true;
    std::string text = carry[stream] + std::string(data);
    carry[stream] = utf8_tail(text);
    text.resize(text.size() - carry[stream].size());
    if (text.empty()) return true;
    return out.chunk(ndjson({{"stream", stream == 1 ? "stdout" : "stderr"}, {"data", text}}));
  };
  auto done = runner().run(c);
  for (int stream : {1, 2}) {
    if (!carry[stream].empty()) out.chunk(ndjson({{"stream", stream == 1 ? "stdout" : "stderr"}, {"data", carry[stream]}}));
  }
  if (left || (done && done->timed_out)) kill_marked(cell, mark);
  nlohmann::json last;
  if (!done) {
    last = {{"exit_code", 125}, {"error", done.error().message()}};
  } else if (done->timed_out) {
    last = {{"exit_code", 124}, {"timeout", true}};
  } else {
    last = {{"exit_code", done->exit_code}};
  }
  out.chunk(ndjson(last));
  out.end();
}

void read_file(engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto rec = e.load_record(cell);
  if (!rec) return send_error(out, rec.error());
  auto fd = engine::open_in_workspace(rec->workspace, req.query.count("path") ? req.query.at("path") : "",
                                      rec->workspace_mount, cell);
  if (!fd) return send_error(out, fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return send_error(out, errno_error("stat", errno));
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) {
    return send_error(out, Error(Errc::usage, "the file is larger than 64 MiB", "brig cell cp " + cell + ":PATH DEST"));
  }
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return send_error(out, errno_error("reading", errno));
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kMaxFileBytes) return send_error(out, Error(Errc::usage, "the file is larger than 64 MiB"));
  }
  out.send(200, "application/octet-stream", data);
}

void write_file(engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto rec = e.load_record(cell);
  if (!rec) return send_error(out, rec.error());
  const std::string path = req.query.count("path") ? req.query.at("path") : "";
  if (auto st = engine::write_in_workspace(rec->workspace, path, req.body, rec->workspace_mount, cell); !st) {
    return send_error(out, st.error());
  }
  send_json(out, 200, {{"path", path}, {"size", req.body.size()}});
}

void logs(const Context& ctx, engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto st = e.status(cell);
  if (!st) return send_error(out, st.error());
  const bool follow = flag(req, "follow");
  if (!follow) {
    auto text = e.logs(cell, -1);
    if (!text) return send_error(out, text.error());
    return out.send(200, "text/plain; charset=utf-8", *text);
  }
  proc::Command c;
  c.argv = engine::cell_logs_args(cell, true, -1);
  if (!out.begin(200, "text/plain; charset=utf-8")) return;
  c.on_output = [&](int stream, std::string_view data) {
    if ((ctx.stopping && *ctx.stopping) || !out.alive()) return false;
    return stream == 0 || out.chunk(data);
  };
  (void)runner().run(c);
  out.end();
}

void network(engine::Engine& e, Sink& out, const std::string& cell) {
  const std::string path = e.paths().cell_log(cell);
  const auto files = state::log_files_oldest_first(path);
  std::string text;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (in) text.append(std::istreambuf_iterator<char>(in), {});
  }
  if (text.empty()) {
    auto rec = e.load_record(cell);  // no log yet: a quiet cell, or none
    if (!rec) return send_error(out, rec.error());
  }
  out.send(200, "application/x-ndjson", text);
}

void patch_policy(const Context& ctx, engine::Engine& e, const Request& req, Sink& out, const std::string& cell) {
  auto body = json_body(req);
  if (!body) return send_error(out, body.error());
  auto rec = e.load_record(cell);
  if (!rec) return send_error(out, rec.error());
  state::PolicyEdit edit;
  std::string bad;
  auto hosts = [&](const char* key, spec::PolicyList list) {
    std::vector<std::string> v;
    if (!body->contains(key)) return v;
    const auto& arr = (*body)[key];
    if (!arr.is_array()) {
      bad += std::string(bad.empty() ? "" : "\n") + key + ": expected an array of hosts";
      return v;
    }
    for (const auto& h : arr) {
      if (!h.is_string()) {
        bad += std::string(bad.empty() ? "" : "\n") + key + ": expected an array of hosts";
        continue;
      }
      if (auto why = spec::check_policy_host(h.get<std::string>(), list, key)) {
        bad += (bad.empty() ? "" : "\n") + why->message;
        continue;
      }
      v.push_back(h.get<std::string>());
    }
    return v;
  };
  for (const auto& h : hosts("allow", spec::PolicyList::allow)) edit.allow.push_back({h, {}, {}});
  edit.deny = hosts("deny", spec::PolicyList::deny);
  if (!bad.empty()) return send_error(out, Error(Errc::usage, bad, "{\"allow\": [\"api.example.com\"], \"deny\": [...]}"));
  const std::int64_t now = timefmt::now_seconds();
  // The edited document must parse and compile, or the file stays as it was.
  // (Adding allow or deny rules cannot uncover a passthrough rule: the
  // CLI's passthrough check has nothing to judge here.)
  auto check = [&](const std::string& text, const std::string& path) -> Status {
    auto doc = policy::check_document(text, path, now);
    if (!doc) return doc.error();
    return {};
  };
  auto change = [&](nlohmann::json& j) -> Status {
    auto r = state::apply_policy_edit(j, cell, edit, now);
    if (!r) return r.error();
    return {};
  };
  if (auto st = state::edit_cell_policy(ctx.paths, cell, change, check); !st) return send_error(out, st.error());
  auto text = state::read_cell_policy(ctx.paths, cell);
  if (!text) return send_error(out, text.error());
  auto doc = state::parse_cell_policy(*text, "policy");
  if (!doc) return send_error(out, doc.error());
  send_json(out, 200, {{"allow", doc->value("allow", nlohmann::json::array())},
                       {"deny", doc->value("deny", nlohmann::json::array())}});
}

// New lines of logs/events.jsonl as server-sent events, from now on.
void events(const Context& ctx, Sink& out) {
  if (!out.begin(200, "text/event-stream")) return;
  const std::string path = ctx.paths.events_log();
  auto size_of = [&](ino_t& ino) -> std::uint64_t {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    ino = st.st_ino;
    return static_cast<std::uint64_t>(st.st_size);
  };
  ino_t ino = 0;
  std::uint64_t offset = size_of(ino);
  std::string partial;
  auto last_beat = std::chrono::steady_clock::now();
  if (!out.chunk(": brig events\n\n")) return;
  while (!(ctx.stopping && *ctx.stopping) && out.alive()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ino_t now_ino = 0;
    const std::uint64_t size = size_of(now_ino);
    if (now_ino != ino || size < offset) {  // rotated: the new file from its start
      ino = now_ino;
      offset = 0;
      partial.clear();
    }
    if (size > offset) {
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(offset));
      std::string got(size - offset, '\0');
      in.read(got.data(), static_cast<std::streamsize>(got.size()));
      got.resize(static_cast<std::size_t>(in.gcount()));
      offset += got.size();
      partial += got;
      std::size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        const std::string line = partial.substr(0, nl);
        partial.erase(0, nl + 1);
        auto ev = state::parse_event(line);
        const std::string kind = ev ? ev->kind : "event";
        if (!out.chunk("event: " + kind + "\ndata: " + line + "\n\n")) return;
      }
    }
    if (std::chrono::steady_clock::now() - last_beat > std::chrono::seconds(10)) {
      if (!out.chunk(": keepalive\n\n")) return;  // also finds a client that left
      last_beat = std::chrono::steady_clock::now();
    }
  }
  out.end();
}

}  // namespace

void handle(const Context& ctx, const Request& req, Sink& out) {
  engine::Engine e(runner(), ctx.paths);
  const auto& parts = req.segments;
  const std::string& m = req.method;
  auto not_allowed = [&] {
    send_json(out, 405, {{"error", m + " is not allowed on " + req.path}, {"fix", "see docs/reference/api.md"}});
  };
  if (parts.empty() || parts[0] != "v1") {
    return send_json(out, 404, {{"error", "no such resource " + req.path}, {"fix", "the API's paths start with /v1/"}});
  }
  if (parts.size() == 2 && parts[1] == "events") return m == "GET" ? events(ctx, out) : not_allowed();
  if (parts.size() < 2 || parts[1] != "cells" || parts.size() > 4) {
    return send_json(out, 404, {{"error", "no such resource " + req.path}, {"fix", "see docs/reference/api.md"}});
  }
  if (parts.size() == 2) {
    if (m == "GET") return list_cells(e, out);
    if (m == "POST") return create_cell(ctx, e, req, out);
    return not_allowed();
  }
  const std::string& cell = parts[2];
  if (auto why = spec::check_cell_name(cell)) return send_error(out, Error(Errc::not_found, "no cell " + str::quote(cell) + ": " + *why));
  if (parts.size() == 3) {
    if (m == "GET") return send_cell(e, out, cell);
    if (m == "DELETE") return remove_cell(e, req, out, cell);
    return not_allowed();
  }
  const std::string& what = parts[3];
  if (what == "stop" && m == "POST") {
    auto body = json_body(req);
    if (!body) return send_error(out, body.error());
    const auto& t = body->contains("timeout") ? (*body)["timeout"] : nlohmann::json(10);
    if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 3600) {
      return send_error(out, Error(Errc::usage, "timeout: a number of seconds from 0 to 3600", "{\"timeout\": 10}"));
    }
    auto st = e.stop(cell, static_cast<int>(t.get<double>()));
    if (!st) return send_error(out, st.error());
    return send_cell(e, out, cell);
  }
  if (what == "start" && m == "POST") {
    auto st = e.start(cell);
    if (!st) return send_error(out, st.error());
    return send_cell(e, out, cell);
  }
  if (what == "exec" && m == "POST") return exec_in_cell(ctx, e, req, out, cell);
  if (what == "files" && m == "GET") return read_file(e, req, out, cell);
  if (what == "files" && m == "PUT") return write_file(e, req, out, cell);
  if (what == "logs" && m == "GET") return logs(ctx, e, req, out, cell);
  if (what == "network" && m == "GET") return network(e, out, cell);
  if (what == "policy" && m == "PATCH") return patch_policy(ctx, e, req, out, cell);
  if (what == "stop" || what == "start" || what == "exec" || what == "files" || what == "logs" || what == "network" ||
      what == "policy") {
    return not_allowed();
  }
  send_json(out, 404, {{"error", "no such resource " + req.path}, {"fix", "see docs/reference/api.md"}});
}

}  // namespace brig::api
