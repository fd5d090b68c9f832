// Injected secrets (secrets.h): where placeholders become values, where they
// are refused, and the scanner that finds them in streamed bodies.
#include "warden/secrets.h"

#include <gtest/gtest.h>

namespace brig::warden {
namespace {

const std::string kP1 = "brig-secret-k1-0123456789abcdef0123456789abcdef";
const std::string kP2 = "brig-secret-k2-fedcba9876543210fedcba9876543210";

std::vector<CellSecret> secrets() {
  std::vector<CellSecret> out;
  auto add = [&](const std::string& name, const std::string& ph, const std::string& value, std::vector<std::string> hosts,
                 bool plain) {
    CellSecret s{{name, "K", ph, value, hosts, plain}, {}};
    for (const auto& h : hosts) s.hosts.push_back(*hostname::Pattern::parse(h));
    out.push_back(std::move(s));
  };
  add("k1", kP1, "value-one", {"api.test", "*.wild.test"}, false);
  add("k2", kP2, "value-two", {"plain.test"}, true);
  return out;
}

Request request(const std::vector<std::pair<std::string, std::string>>& fields) {
  Request r{http::verb::get, "/", 11};
  for (const auto& [k, v] : fields) r.insert(k, v);
  return r;
}

TEST(Inject, ReplacesPlaceholdersInHeaderValuesAndTheQueryKeepingOrder) {
  const auto list = secrets();
  Request r = request({{"Accept", "*/*"}, {"Authorization", "Bearer " + kP1}, {"X-Two", kP1 + "," + kP1}});
  std::string path = "/v1/x?key=" + kP1 + "&b=2";
  const auto inj = inject(r, path, list, "a.wild.test", true);
  ASSERT_FALSE(inj.refused) << *inj.refused;
  ASSERT_EQ(inj.injected.size(), 1u);
  EXPECT_EQ(inj.injected[0]->secret.name, "k1");
  EXPECT_EQ(path, "/v1/x?key=value-one&b=2");
  std::vector<std::string> order;
  for (const auto& f : r) order.push_back(std::string(f.name_string()) + ": " + std::string(f.value()));
  EXPECT_EQ(order, (std::vector<std::string>{"Accept: */*", "Authorization: Bearer value-one", "X-Two: value-one,value-one"}));
}

TEST(Inject, NothingToDoWithoutPlaceholdersOrSecrets) {
  Request r = request({{"Authorization", "Bearer brig-secret-unknown"}});
  std::string path = "/?q=1";
  EXPECT_TRUE(inject(r, path, secrets(), "other.test", true).injected.empty());
  EXPECT_FALSE(inject(r, path, secrets(), "other.test", true).refused);
  EXPECT_FALSE(inject(r, path, {}, "other.test", false).refused);
  EXPECT_EQ(r[http::field::authorization], "Bearer brig-secret-unknown");
}

TEST(Inject, RefusesAnotherHostPlainHttpAndThePathNamingTheSecretNotItsValue) {
  const auto list = secrets();
  auto refused = [&](const std::string& header, std::string path, std::string_view host, bool tls) {
    Request r = request({{"X-Key", header}});
    const auto inj = inject(r, path, list, host, tls);
    EXPECT_EQ(r["X-Key"], header) << "a refused request is left as it was";
    EXPECT_TRUE(inj.injected.empty());
    return inj.refused.value_or("");
  };
  const std::string other = refused(kP1, "/", "wild.test", true);  // "*.wild.test" does not match wild.test
  EXPECT_EQ(other, "the request carries the placeholder of secret k1, which warden injects only into requests to api.test, *.wild.test");
  EXPECT_NE(refused(kP1, "/", "api.test", false).find("over plain HTTP"), std::string::npos);
  EXPECT_EQ(refused("", "/", "plain.test", false), "");  // nothing to inject
  EXPECT_NE(refused("", "/a/" + kP1 + "?x=1", "api.test", true).find("URL path"), std::string::npos);
  // Two secrets, one of which may not go there: the whole request is refused.
  EXPECT_NE(refused(kP1 + " " + kP2, "/", "plain.test", false).find("secret k1"), std::string::npos);
  for (const auto& why : {other, refused(kP1, "/", "api.test", false)}) {
    EXPECT_EQ(why.find("value-one"), std::string::npos) << why;
  }
}

TEST(Inject, PlainHttpWhenTheSecretAllowsIt) {
  Request r = request({{"X-Key", kP2}});
  std::string path = "/";
  const auto inj = inject(r, path, secrets(), "plain.test", false);
  EXPECT_FALSE(inj.refused);
  EXPECT_EQ(r["X-Key"], "value-two");
}

TEST(ScrubResponseHead, PutsThePlaceholderBack) {
  const auto list = secrets();
  Response res{http::status::ok, 11};
  res.set("X-Echo", "got value-one twice: value-one");
  scrub_response_head(res, {&list[0]});
  EXPECT_EQ(res["X-Echo"], "got " + kP1 + " twice: " + kP1);
}

TEST(RefuseInConnectHead, AnyPlaceholderOfTheCell) {
  http::request_header<> h;
  h.method(http::verb::connect);
  h.set(http::field::proxy_authorization, "Basic " + kP2);
  EXPECT_NE(refuse_in_connect_head(h, secrets()).value_or("").find("secret k2"), std::string::npos);
  h.set(http::field::proxy_authorization, "Basic abc");
  EXPECT_FALSE(refuse_in_connect_head(h, secrets()));
}

TEST(NeedleScanner, FindsANeedleSplitAcrossPiecesAndStaysHit) {
  const std::vector<std::string> needles = {kP1, kP2};
  NeedleScanner s(needles);
  const std::string stream = std::string(20000, 'a') + kP2 + "tail";
  // Fed in pieces of every size from 1 to 40 bytes: the needle is found once whole.
  for (std::size_t step = 1; step <= 40; ++step) {
    NeedleScanner t(needles);
    std::optional<std::size_t> found;
    std::size_t at = 0;
    for (; at < stream.size() && !found; at += step) found = t.feed(std::string_view(stream).substr(at, step));
    ASSERT_TRUE(found) << step;
    EXPECT_EQ(*found, 1u);
    EXPECT_GE(at, 20000 + kP2.size()) << "found before it was whole";
  }
  EXPECT_FALSE(s.feed(std::string(100, 'x')));
  EXPECT_FALSE(s.feed(kP1.substr(0, 10)));
  EXPECT_EQ(s.feed(kP1.substr(10)), 0u);
  EXPECT_TRUE(s.hit());
  EXPECT_EQ(s.feed("anything"), 0u);
}

}  // namespace
}  // namespace brig::warden
