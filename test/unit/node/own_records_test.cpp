// A node's own names over the gateway protocol v3: a real server answering
// from a snapshot holding RRsets, asked by the real client and by the resolver.
#include "pweb/node/own_records.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "pweb/gateway/client.hpp"
#include "pweb/node/resolver.hpp"

namespace pweb::node {
namespace {

using namespace std::chrono_literals;
using gateway::Answer3Status;

constexpr std::uint16_t kA = 1, kCname = 5, kTxt = 16, kAaaa = 28, kSrv = 33, kAny = 255;

std::string txt(std::string_view s) {
  return std::string(1, static_cast<char>(s.size())) + std::string(s);
}

const std::string kSrvData("\0\1\0\2\0\x50\3web\5alice\2uw\3dht\0", 24);
const std::string kTarget("\6laptop\5alice\2uw\3dht\0", 21);

class OwnRecords : public ::testing::Test {
 protected:
  OwnRecords()
      : snapshots_(snapshot()), authority_(auth_config()), guard_(asio::make_work_guard(io_)) {
    gateway::ServerConfig cfg;
    cfg.port = 0;
    server_ = std::make_unique<gateway::GatewayServer>(
        cfg, [](const std::string&, auto done) { done(gateway::Answer{}); },
        own_records({"dht."}, authority_, snapshots_));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
    client_ = gateway::GatewayClient::create(io_, "127.0.0.1", server_->port());
  }
  ~OwnRecords() override {
    client_->close();
    guard_.reset();
    thread_.join();
  }

  static std::shared_ptr<const registrar::Snapshot> snapshot() {
    std::vector<registrar::DeviceRecord> recs(2);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    recs[0].rrsets = {
        RRset{"", kTxt, 300, {txt("v=1")}},
        RRset{"*", kTxt, 60, {txt("wild")}},
        RRset{"_acme-challenge", kTxt, 30, {txt("token-1"), txt("token-2")}},
        RRset{"_http._tcp", kSrv, 120, {kSrvData}},
        RRset{"www", kCname, 90, {kTarget}},
    };
    recs[1].name = "phone.alice.uw";
    recs[1].ipv6 = registrar::parse_ipv6("2001:db8::1");
    return registrar::Snapshot::build(recs, 1);
  }
  static dns::AuthorityConfig auth_config() {
    dns::AuthorityConfig c;
    c.zones = {"dht."};
    c.label = "uw";
    c.ttl = 60;
    c.resolve_remote = true;
    return c;
  }

  std::optional<gateway::Answer3> ask(const std::string& name, std::uint16_t qtype) {
    std::promise<std::optional<gateway::Answer3>> p;
    client_->query(name, qtype, [&](std::optional<gateway::Answer3> r) { p.set_value(r); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << name;
    return f.get();
  }

  registrar::SnapshotHolder snapshots_;
  dns::Authority authority_;
  std::unique_ptr<gateway::GatewayServer> server_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::shared_ptr<gateway::GatewayClient> client_;
};

TEST_F(OwnRecords, AnsweredFromTheSnapshotByTheDnsLookup) {
  struct Case {
    const char* what;
    std::string name;
    std::uint16_t qtype;
    Answer3Status status;
    std::uint16_t type;  // of the one RRset, when found
    std::uint32_t ttl;
    std::vector<std::string> rdata;
  };
  const std::vector<Case> table{
      {"TXT at the device", "laptop.alice.uw", kTxt, Answer3Status::found, kTxt, 300, {txt("v=1")}},
      {"with the suffix",
       "LAPTOP.alice.uw.dht.",
       kTxt,
       Answer3Status::found,
       kTxt,
       300,
       {txt("v=1")}},
      {"two TXT below",
       "_acme-challenge.laptop.alice.uw",
       kTxt,
       Answer3Status::found,
       kTxt,
       30,
       {txt("token-1"), txt("token-2")}},
      {"SRV", "_http._tcp.laptop.alice.uw", kSrv, Answer3Status::found, kSrv, 120, {kSrvData}},
      {"wildcard", "anything.laptop.alice.uw", kTxt, Answer3Status::found, kTxt, 60, {txt("wild")}},
      {"CNAME for another type",
       "www.laptop.alice.uw",
       kAaaa,
       Answer3Status::found,
       kCname,
       90,
       {kTarget}},
      {"A of the device",
       "laptop.alice.uw",
       kA,
       Answer3Status::found,
       kA,
       60,
       {std::string("\xc0\x00\x02\x0a", 4)}},
      {"AAAA of another",
       "phone.alice.uw",
       kAaaa,
       Answer3Status::found,
       kAaaa,
       60,
       {std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16)}},
      {"nodata: no SRV there", "laptop.alice.uw", kSrv, Answer3Status::nodata, 0, 0, {}},
      {"nodata: empty non-terminal", "_tcp.laptop.alice.uw", kTxt, Answer3Status::nodata, 0, 0, {}},
      {"nodata: no TXT at a plain device", "phone.alice.uw", kTxt, Answer3Status::nodata, 0, 0, {}},
      {"absent: no such device", "tablet.alice.uw", kTxt, Answer3Status::absent, 0, 0, {}},
      {"absent: nothing below", "x.phone.alice.uw", kTxt, Answer3Status::absent, 0, 0, {}},
      {"absent: another agent's, never forwarded",
       "laptop.bob.mit",
       kTxt,
       Answer3Status::absent,
       0,
       0,
       {}},
      {"absent: not a name", "not a name", kTxt, Answer3Status::absent, 0, 0, {}},
  };
  for (const auto& c : table) {
    const auto r = ask(c.name, c.qtype);
    ASSERT_TRUE(r) << c.what;
    EXPECT_EQ(r->status, c.status) << c.what;
    if (c.status != Answer3Status::found) {
      EXPECT_TRUE(r->rrsets.empty()) << c.what;
      continue;
    }
    ASSERT_EQ(r->rrsets.size(), 1u) << c.what;
    EXPECT_EQ(r->rrsets[0], (RRset{"", c.type, c.ttl, c.rdata})) << c.what;
    EXPECT_EQ(r->ttl, 60u) << c.what;  // the device's TTL (the node's); RRsets keep their own
  }
  EXPECT_EQ(server_->stats().queries_by_version[2], table.size());
}

TEST_F(OwnRecords, AnyAtADeviceGivesItsAddresses) {
  const auto r = ask("laptop.alice.uw", kAny);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, Answer3Status::found);
  ASSERT_EQ(r->rrsets.size(), 1u);
  EXPECT_EQ(r->rrsets[0].type, kA);
}

// The resolver of another node asks this one with v3 and caches per type.
TEST_F(OwnRecords, AnotherNodesResolverGetsTheRRsets) {
  registrar::SnapshotHolder empty(
      registrar::Snapshot::build(std::vector<registrar::DeviceRecord>{}, 1));
  const std::uint16_t port = server_->port();
  AgentLookup lookup = [port](const std::string& label,
                              std::function<void(AgentLookupResult)> done) {
    AgentLookupResult r;
    if (label == "uw") {
      dht::AgentRecord rec;
      rec.label = "uw";
      rec.ipv4 = {"127.0.0.1"};
      rec.gateway_port = port;
      r.record = rec;
    }
    done(r);
  };
  ResolverConfig cfg;
  cfg.own_label = "mit";
  cfg.ttl = 3600;
  Resolver resolver(cfg, empty, lookup);
  resolver.start();
  const auto resolve = [&](const std::string& key, std::uint16_t qtype) {
    std::promise<Resolution> p;
    resolver.resolve_detailed(key, qtype, [&p](const Resolution& r) { p.set_value(r); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << key;
    return f.get();
  };
  auto r = resolve("_acme-challenge.laptop.alice.uw", kTxt);
  ASSERT_EQ(r.answer.status, dns::RemoteAnswer::Status::found) << r.detail;
  ASSERT_TRUE(r.answer.rrset);
  EXPECT_EQ(r.answer.rrset->rdata, (std::vector<std::string>{txt("token-1"), txt("token-2")}));
  EXPECT_EQ(r.answer.ttl, 60u);
  EXPECT_EQ(r.source, Source::remote);
  // The same name, another type: asked again, not taken from the TXT answer.
  r = resolve("_acme-challenge.laptop.alice.uw", kSrv);
  EXPECT_EQ(r.answer.status, dns::RemoteAnswer::Status::nodata);
  EXPECT_EQ(r.source, Source::remote);
  r = resolve("_acme-challenge.laptop.alice.uw", kTxt);
  EXPECT_EQ(r.source, Source::cache);
  r = resolve("laptop.alice.uw", kA);
  ASSERT_EQ(r.answer.status, dns::RemoteAnswer::Status::found);
  EXPECT_EQ(r.answer.entry.v4, (registrar::Ipv4{192, 0, 2, 10}));
  r = resolve("www.laptop.alice.uw", kA);
  ASSERT_TRUE(r.answer.rrset);
  EXPECT_EQ(r.answer.rrset->type, kCname);
  const auto st = resolver.stats();
  EXPECT_EQ(st.agent_query_by_version[2], 4u);
  resolver.stop();
}

// On this node, the resolver (for the HTTP API) answers its own names of any type.
TEST_F(OwnRecords, OwnResolverAnswersOwnTypesLocally) {
  ResolverConfig cfg;
  cfg.own_label = "uw";
  cfg.authority = &authority_;
  Resolver resolver(cfg, snapshots_, nullptr);
  resolver.start();
  std::promise<Resolution> p;
  resolver.resolve_detailed("_http._tcp.laptop.alice.uw", kSrv,
                            [&p](const Resolution& r) { p.set_value(r); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const auto r = f.get();
  EXPECT_EQ(r.source, Source::local);
  ASSERT_TRUE(r.answer.rrset);
  EXPECT_EQ(r.answer.rrset->rdata, std::vector<std::string>{kSrvData});
  resolver.stop();
}

}  // namespace
}  // namespace pweb::node
