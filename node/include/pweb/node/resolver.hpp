#pragma once
// Resolution of any device name: own devices (snapshot) -> answer cache ->
// agent record (cache, else the DHT) -> QUERY to that agent over the gateway
// protocol (to one of its nodes when several serve the label: round-robin,
// skipping dead ones, the next one on no reply); or, in gateway mode,
// straight to the configured home agents, round-robin, skipping dead ones. A
// thread-safe front on a single-threaded core: every call posts to the
// resolver's own thread, answers come back through callbacks, nothing waits.
// Concurrent queries for one name share one lookup; every lookup ends within
// the timeout (SERVFAIL then).
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pweb/dht/agent_record.hpp"
#include "pweb/dns/authority.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/metrics.hpp"
#include "pweb/node/config.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace asio::ssl {
class context;
}

namespace pweb::node {

// Where agent records come from (the DHT). `failed`: the DHT could not be asked
// (no peers), as opposed to asked and holding no record. `records`: one per
// node serving the label (dht::LookupResult), `record` the newest; a lookup
// giving `record` alone stands for one node. `owner`/`owner_spki`:
// the key that signed the record (the only key whose TLS answers count);
// `contested`: records under several keys, none pinned, so none is followed.
struct AgentLookupResult {
  std::optional<dht::AgentRecord> record;
  std::vector<dht::AgentRecord> records;
  bool failed = false;
  bool contested = false;
  std::string owner;                     // key id, hex
  std::vector<std::uint8_t> owner_spki;  // DER SubjectPublicKeyInfo
  std::vector<std::string> contenders;   // key ids, when contested
};
using AgentLookup =
    std::function<void(const std::string& label, std::function<void(AgentLookupResult)> done)>;

struct ResolverConfig {
  std::string own_label;  // empty in gateway mode
  std::chrono::milliseconds timeout{2000};
  std::uint32_t ttl = 60;          // answers from other agents (v1 replies carry none)
  std::uint32_t negative_ttl = 5;  // no such device, or no such agent
  std::uint32_t failure_ttl = 1;   // could not find out: retry soon
  std::chrono::seconds agent_ttl{60};
  std::vector<HostPort> home_agents;  // gateway mode (with a key_id: over TLS)
  // TLS for agent links (gateway::make_client_tls); null: plain, unauthenticated.
  std::shared_ptr<asio::ssl::context> agent_tls;
  std::size_t max_cache_entries = 1 << 18;
  // Serve-stale (RFC 8767): when no node of an agent answers, its last answer
  // is served if it expired at most this long ago; 0: never.
  std::chrono::seconds stale_max{86400};
  // This node's lookup (the DNS path's), for its own names of any type; null:
  // its own devices' addresses only (as found in the snapshot).
  const dns::Authority* authority = nullptr;
};

enum class Source : std::uint8_t { local, cache, remote };
const char* to_string(Source s) noexcept;

// Why a name could not be resolved (SERVFAIL): for the HTTP API's status code.
enum class Failure : std::uint8_t {
  none,
  timeout,    // nothing answered within --timeout
  agent,      // the agent (or every home agent) could not be asked or did not answer
  dht,        // the DHT could not be asked (no peers)
  contested,  // the label is signed by several keys and none is pinned
  untrusted,  // the agent's TLS key is not the key that signed its record
};
const char* to_string(Failure f) noexcept;  // "" for none

struct Resolution {
  dns::RemoteAnswer answer;
  Source source = Source::remote;
  Failure failure = Failure::none;
  std::string agent;   // the agent asked ("label@host:port"), if any
  std::string detail;  // why it failed or does not exist
  // Served stale (RFC 8767): the agent could not be asked, this is its last
  // answer, expired (TTL 30, EDE 3 "Stale Answer").
  bool stale = false;
};

struct ResolverStats {
  std::uint64_t local = 0, cache_hits = 0, remote = 0, joined = 0;
  std::uint64_t found = 0, nxdomain = 0, servfail = 0, timeouts = 0;
  std::uint64_t agent_lookups = 0, agent_queries = 0;
  std::uint64_t stale = 0;  // answers served stale
  // DHT lookups of agent records: how long, and found / no record / could not ask.
  metrics::HistogramData agent_lookup_latency;
  std::uint64_t agent_lookup_found = 0, agent_lookup_absent = 0, agent_lookup_failed = 0;
  std::uint64_t agent_lookup_contested = 0;  // several keys, none pinned: not followed
  // Gateway-protocol queries to other agents: how long, and found (also nodata:
  // the name exists) / no such name / no reply.
  metrics::HistogramData agent_query_latency;
  // ... answered over protocol v1, v2, v3.
  std::array<std::uint64_t, 3> agent_query_by_version{};
  std::uint64_t agent_query_found = 0, agent_query_absent = 0, agent_query_failed = 0;
  // ... refused: the agent's TLS key was not the key that signed its record.
  std::uint64_t agent_query_untrusted = 0;
  // Queries moved to another node of the same label after one gave no reply.
  std::uint64_t agent_failovers = 0;
};

class Resolver final : public dns::RemoteResolver {
 public:
  Resolver(ResolverConfig config, const registrar::SnapshotHolder& snapshots, AgentLookup lookup);
  ~Resolver() override;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void start();
  // Joins the resolver's thread; callbacks not yet made are dropped, so the
  // DNS and gateway servers must stop first.
  void stop();

  // `key`: lowercase, relative to the zone ("laptop.alice.uw"); answers are
  // per (name, type). Other agents are asked with v3 (QUERY3) when they speak
  // it; a v2 or v1 agent (and home agents, in gateway mode) is asked for the
  // addresses, and has no other type: NODATA for those.
  void resolve(std::string key, std::uint16_t qtype,
               std::function<void(const dns::RemoteAnswer&)> done) override;
  void resolve_detailed(std::string key, std::uint16_t qtype,
                        std::function<void(const Resolution&)> done);

  [[nodiscard]] ResolverStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::node
