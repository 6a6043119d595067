#include "pweb/node/resolver.hpp"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <bit>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "pweb/expiring_cache.hpp"
#include "pweb/gateway/client.hpp"

namespace pweb::node {
namespace {

using Clock = std::chrono::steady_clock;
// Per attempt, when a query may go to several home agents or nodes of a label.
constexpr std::chrono::milliseconds kMinAttempt{50};
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint32_t kStaleTtl = 30;  // RFC 8767 section 4
using Done = std::function<void(const Resolution&)>;

// Lookups, the cache and deadlines go by the question: "name/type"
// (dns::remote_cache_key). These take it apart.
std::string name_of(const std::string& question) { return question.substr(0, question.rfind('/')); }
std::uint16_t qtype_of(const std::string& question) {
  std::string name;
  std::uint16_t qtype = 0;
  dns::split_remote_cache_key(question, name, qtype);
  return qtype;
}
std::string agent_of(const std::string& question) {
  const std::string name = name_of(question);
  return name.substr(name.rfind('.') + 1);
}

void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

Resolution make(dns::RemoteAnswer::Status status, std::uint32_t ttl, std::string agent,
                std::string detail, Failure failure = Failure::none) {
  Resolution r;
  r.answer.status = status;
  r.answer.ttl = ttl;
  // RFC 8914 reasons for the SERVFAIL, for EDNS clients (texts static: ExtendedError
  // holds a view). The detail, naming agent and keys, goes to the log and the API.
  switch (failure) {
    case Failure::none:
      break;
    case Failure::contested:
      // 24 Invalid Data: records for the label signed by several keys, none pinned.
      r.answer.ede = {true, dns::kEdeInvalidData, "agent label contested: signed by several keys"};
      break;
    case Failure::untrusted:
      r.answer.ede = {true, dns::kEdeNoReachableAuthority,
                      "agent's TLS key is not the key of its DHT record"};
      break;
    case Failure::timeout:
      r.answer.ede = {true, dns::kEdeNoReachableAuthority, "agent did not answer in time"};
      break;
    case Failure::agent:
      r.answer.ede = {true, dns::kEdeNoReachableAuthority, "agent unreachable"};
      break;
    case Failure::dht:
      r.answer.ede = {true, dns::kEdeNoReachableAuthority, "DHT unreachable"};
      break;
  }
  r.agent = std::move(agent);
  r.detail = std::move(detail);
  r.failure = failure;
  return r;
}

}  // namespace

const char* to_string(Failure f) noexcept {
  switch (f) {
    case Failure::none:
      return "";
    case Failure::timeout:
      return "timeout";
    case Failure::agent:
      return "agent";
    case Failure::dht:
      return "dht";
    case Failure::contested:
      return "contested";
    case Failure::untrusted:
      return "untrusted";
  }
  return "";
}

const char* to_string(Source s) noexcept {
  switch (s) {
    case Source::local:
      return "local";
    case Source::cache:
      return "cache";
    case Source::remote:
      return "remote";
  }
  return "?";
}

struct Resolver::Impl {
  struct InFlight {
    std::vector<Done> waiters;
    std::uint64_t seq = 0;  // tells this lookup's deadline from an earlier one's
  };
  struct Deadline {
    Clock::time_point at;
    std::uint64_t seq;
    std::string key;
  };
  struct Link {
    std::string where;  // "label@host:port"
    // Owned by `clients` (not here: a query's callback holds its links, and
    // the client holds the callback until it is answered).
    gateway::GatewayClient* client = nullptr;
  };
  // The nodes serving one label, one per record the DHT lists (at most
  // dht::kMaxNodeRecords), made once per lookup, not per query.
  struct Links {
    std::string label;
    std::vector<Link> nodes;
    std::size_t next = 0;  // round-robin position
  };
  // One query's way through a label's nodes.
  struct Attempt {
    std::uint32_t tried = 0;                     // bit i: nodes[i] was asked
    std::string untrusted_where, untrusted_key;  // a node with the wrong TLS key, if any
  };
  struct Agent {
    std::optional<dht::AgentRecord> record;
    gateway::PeerKey key;  // the key that signed the record: the only one trusted
    std::shared_ptr<Links> links;
    std::vector<std::string> contenders;  // keys seen when the label is contested
    Clock::time_point expires{};
    bool looking = false;
    std::vector<std::string> keys;  // waiting for the record
  };

  Impl(ResolverConfig c, const registrar::SnapshotHolder& s, AgentLookup l)
      : config(std::move(c)), snapshots(s), lookup(std::move(l)), cache(config.max_cache_entries) {
    gateway::ClientConfig cc;
    cc.timeout = config.timeout;
    client_config = cc;
    // Gateway mode: each attempt gets its share of the timeout, so a hung agent
    // leaves time to ask the next one.
    gateway::ClientConfig home_cc = cc;
    if (!config.home_agents.empty()) {
      // Home agents forward other agents' names for their gateways with v2 only
      // (a v3 server answers for itself alone): a gateway asks for addresses.
      home_cc.max_version = gateway::kVersion2;
      home_cc.timeout = std::max<std::chrono::milliseconds>(
          config.timeout / static_cast<long>(config.home_agents.size()), kMinAttempt);
    }
    for (const auto& h : config.home_agents) {
      gateway::ClientConfig one = home_cc;
      if (!h.key_id.empty() && config.agent_tls) {  // told its key: TLS, and only that key
        one.tls = config.agent_tls;
        one.peer_key.key_id = h.key_id;
      }
      home.push_back(gateway::GatewayClient::create(io, h.host, h.port, one));
      home_names.push_back(h.host + ":" + std::to_string(h.port));
    }
  }

  // Everything below runs on the resolver's thread.
  void begin(std::string key, Done done) {
    const auto now = Clock::now();
    if (auto local = resolve_local(key)) {
      bump(stats_local);
      return done(*local);
    }
    std::uint32_t ttl = 0;
    if (const auto* cached = cache.find(key, now, ttl)) {
      bump(stats_cache);
      Resolution r = *cached;
      r.source = Source::cache;
      r.answer.ttl = ttl;
      return done(r);
    }
    if (const auto it = inflight.find(key); it != inflight.end()) {
      bump(stats_joined);
      it->second.waiters.push_back(std::move(done));
      return;
    }
    bump(stats_remote);
    auto& f = inflight[key];
    f.waiters.push_back(std::move(done));
    f.seq = ++inflight_seq;
    deadlines.push_back({now + config.timeout, f.seq, key});
    arm_deadlines();
    if (!home.empty()) return ask_home(key, 0);
    ask_agent(key);
  }

  std::optional<Resolution> resolve_local(const std::string& question) const {
    const auto snap = snapshots.current();
    const std::string key = name_of(question);
    const auto* e = snap->find(key);
    const std::string agent = agent_of(key);
    // Our label, or an agent whose devices this store holds: answered here.
    const bool ours =
        (!config.own_label.empty() && agent == config.own_label) || snap->find(agent) != nullptr;
    if (!e && !ours) return std::nullopt;
    Resolution r;
    r.source = Source::local;
    r.agent = config.own_label;
    if (config.authority) {  // any type, any name below a device
      r.answer = dns::answer_local(*config.authority, *snap, key, qtype_of(question));
      if (r.answer.status == dns::RemoteAnswer::Status::nxdomain) {
        r.detail = "no name '" + key + "' on this agent";
      }
      return r;
    }
    if (e && e->is_device()) {
      r.answer.status = dns::RemoteAnswer::Status::found;
      r.answer.entry = *e;
      r.answer.ttl = config.ttl;
    } else {
      r.answer.status = dns::RemoteAnswer::Status::nxdomain;
      r.answer.ttl = config.negative_ttl;
      r.detail = "no device '" + key + "' on this agent";
    }
    return r;
  }

  void ask_agent(const std::string& key) {
    const std::string label = agent_of(key);
    auto& a = agents[label];
    const auto now = Clock::now();
    if (!a.looking && a.expires > now) {
      if (a.record) return query_agent(key, a.links);
      if (!a.contenders.empty()) return finish(key, contested(label, a.contenders));
      return finish(key, make(dns::RemoteAnswer::Status::nxdomain, config.negative_ttl, label,
                              "no agent '" + label + "' in the DHT"));
    }
    a.keys.push_back(key);
    if (a.looking) return;
    a.looking = true;
    bump(stats_agent_lookups);
    lookup(label, [this, label, started = Clock::now()](AgentLookupResult result) {
      asio::post(io, [this, label, started, result = std::move(result)] {
        agent_lookup_latency.observe(Clock::now() - started);
        (result.record      ? agent_lookup_found
         : result.contested ? agent_lookup_contested
         : result.failed    ? agent_lookup_failed
                            : agent_lookup_absent)
            .inc();
        on_agent(label, result);
      });
    });
  }

  void on_agent(const std::string& label, const AgentLookupResult& result) {
    auto& a = agents[label];
    a.looking = false;
    a.record = result.record;
    a.key = gateway::PeerKey{result.owner_spki, result.owner};
    a.links = result.record ? links_for(label, result, a.key) : nullptr;
    a.contenders = result.contested ? result.contenders : std::vector<std::string>{};
    if (result.contested && a.contenders.empty()) a.contenders.push_back("?");
    // A failed lookup is not remembered: the next query asks again.
    a.expires = result.failed
                    ? Clock::time_point{}
                    : Clock::now() + (result.record ? std::chrono::seconds(config.agent_ttl)
                                                    : std::chrono::seconds(config.negative_ttl));
    auto keys = std::move(a.keys);
    a.keys.clear();
    for (const auto& key : keys) {
      if (result.record) {
        query_agent(key, a.links);
      } else if (result.contested) {
        finish(key, contested(label, a.contenders));
      } else if (result.failed) {
        finish(key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, label,
                         "the DHT could not be asked (no peers)", Failure::dht));
      } else {
        finish(key, make(dns::RemoteAnswer::Status::nxdomain, config.negative_ttl, label,
                         "no agent '" + label + "' in the DHT"));
      }
    }
  }

  // Several keys sign records for the label and none is pinned: not followed.
  Resolution contested(const std::string& label, const std::vector<std::string>& keys) const {
    std::string detail = "agent label '" + label + "' is contested: records signed by keys";
    for (const auto& k : keys) detail += " " + k;
    detail += "; none is pinned (pweb-node pin add " + label + " KEY_ID)";
    return make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, label, std::move(detail),
                Failure::contested);
  }

  // The links to the nodes of an agent, made once per lookup (not per query):
  // where each is and its client, one per address, key and attempt timeout
  // (a new key for the label is a new link). With several nodes each attempt
  // gets its share of the timeout, so a hung node leaves time to ask the
  // next. Records without an address give none.
  std::shared_ptr<Links> links_for(const std::string& label, const AgentLookupResult& result,
                                   const gateway::PeerKey& owner) {
    std::vector<dht::AgentRecord> records = result.records;
    if (records.empty() && result.record) records.push_back(*result.record);  // one node
    struct Endpoint {
      std::string host, where;
      std::uint16_t port;
    };
    std::vector<Endpoint> endpoints;
    for (const auto& r : records) {
      if (r.ipv4.empty() && r.ipv6.empty()) continue;
      const std::string host = !r.ipv4.empty() ? r.ipv4.front() : r.ipv6.front();
      const std::string where = label + "@" + (r.ipv4.empty() ? "[" + host + "]" : host) + ":" +
                                std::to_string(r.gateway_port);
      const bool dup = std::any_of(endpoints.begin(), endpoints.end(),
                                   [&](const Endpoint& e) { return e.where == where; });
      if (!dup && endpoints.size() < dht::kMaxNodeRecords) {
        endpoints.push_back({host, where, r.gateway_port});
      }
    }
    auto links = std::make_shared<Links>();
    links->label = label;
    gateway::ClientConfig cc = client_config;
    if (endpoints.size() > 1) {
      cc.timeout = std::max<std::chrono::milliseconds>(
          config.timeout / static_cast<long>(endpoints.size()), kMinAttempt);
    }
    if (config.agent_tls) {
      cc.tls = config.agent_tls;
      cc.peer_key = owner;
    }
    for (const auto& e : endpoints) {
      auto& client =
          clients[e.where + "#" + owner.key_id + "#" + std::to_string(cc.timeout.count())];
      if (!client) client = gateway::GatewayClient::create(io, e.host, e.port, cc);
      links->nodes.push_back({e.where, client.get()});
    }
    return links;
  }

  // The node to ask next: round-robin among those this query has not tried,
  // a healthy one first (one that failed backs off for a while, so queries go
  // to a live node at once); none healthy: the next untried one anyway.
  static std::optional<std::size_t> pick(Links& links, std::uint32_t tried) {
    const std::size_t n = links.nodes.size();
    std::optional<std::size_t> fallback;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = (links.next + i) % n;
      if ((tried >> c) & 1u) continue;
      if (links.nodes[c].client->healthy()) {
        links.next = c + 1;
        return c;
      }
      if (!fallback) fallback = c;
    }
    if (fallback) links.next = *fallback + 1;
    return fallback;
  }

  void query_agent(const std::string& key, const std::shared_ptr<Links>& links) {
    query_agent(key, links, Attempt{});
  }
  void query_agent(const std::string& key, const std::shared_ptr<Links>& links, Attempt attempt) {
    const auto c = links ? pick(*links, attempt.tried) : std::nullopt;
    if (!c) {
      return finish(key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, "",
                              "the agent's record has no address", Failure::agent));
    }
    attempt.tried |= 1u << *c;
    bump(stats_agent_queries);
    links->nodes[*c].client->query(
        name_of(key), qtype_of(key),
        [this, key, links, c = *c, attempt = std::move(attempt),
         started = Clock::now()](std::optional<gateway::Answer3> reply) mutable {
          const Link& link = links->nodes[c];
          const auto& client = *link.client;
          if (!reply && !client.untrusted_key().empty()) {
            agent_query_untrusted.inc();
            agent_query_latency.observe(Clock::now() - started);
            warn_untrusted(link.where, client.untrusted_key());
            attempt.untrusted_where = link.where;
            attempt.untrusted_key = client.untrusted_key();
          } else {
            count_agent_reply(reply, started, client.version());
          }
          if (reply) return finish(key, from_reply(*reply, link.where, qtype_of(key)));
          next_node(key, links, std::move(attempt), link.where);
        });
  }

  // No reply from a node: the next one of the label, if any is left and the
  // query is still waiting; when all failed, SERVFAIL, and the record is
  // forgotten (perhaps the agent moved: looked up again next time).
  void next_node(const std::string& key, const std::shared_ptr<Links>& links, Attempt attempt,
                 const std::string& where) {
    const bool left = static_cast<std::size_t>(std::popcount(attempt.tried)) < links->nodes.size();
    if (left) {
      if (!inflight.count(key)) return;  // answered at the deadline meanwhile
      bump(stats_agent_failovers);
      return query_agent(key, links, std::move(attempt));
    }
    forget(*links);
    if (!attempt.untrusted_key.empty()) {
      return finish(key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl,
                              attempt.untrusted_where,
                              "the agent's TLS key " + attempt.untrusted_key +
                                  " is not the key that signed its record",
                              Failure::untrusted));
    }
    const std::string detail =
        links->nodes.size() == 1
            ? "agent did not answer"
            : "none of the agent's " + std::to_string(links->nodes.size()) + " nodes answered";
    finish(key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, where, detail,
                     Failure::agent));
  }

  // Forgets the agent's record if it is still the one `links` were made for.
  void forget(const Links& links) {
    const auto it = agents.find(links.label);
    if (it != agents.end() && it->second.links.get() == &links) agents.erase(it);
  }

  void ask_home(const std::string& key, std::size_t attempt) {
    if (!inflight.count(key)) return;  // timed out meanwhile
    const std::size_t n = home.size();
    // Round-robin over the agents not backing off; all dead: try the next anyway.
    std::size_t pick = next_home % n;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = (next_home + i) % n;
      if (home[c]->healthy()) {
        pick = c;
        break;
      }
    }
    next_home = pick + 1;
    const std::string where = home_names[pick];
    bump(stats_agent_queries);
    home[pick]->query(name_of(key), qtype_of(key),
                      [this, key, attempt, where, client = home[pick].get(),
                       started = Clock::now()](std::optional<gateway::Answer3> reply) {
                        if (!reply && !client->untrusted_key().empty()) {
                          agent_query_untrusted.inc();
                          warn_untrusted(where, client->untrusted_key());
                        } else {
                          count_agent_reply(reply, started, client->version());
                        }
                        if (reply) return finish(key, from_reply(*reply, where, qtype_of(key)));
                        if (attempt + 1 < home.size()) return ask_home(key, attempt + 1);
                        finish(key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl,
                                         where, "no home agent answered", Failure::agent));
                      });
  }

  // Once per agent address and key seen, not per query.
  void warn_untrusted(const std::string& where, const std::string& seen) {
    if (!untrusted_warned.insert(where + "#" + seen).second) return;
    if (untrusted_warned.size() > 4096) untrusted_warned.clear();
    spdlog::warn("event=agent_untrusted agent={} key_seen={}", where, seen);
  }

  void count_agent_reply(const std::optional<gateway::Answer3>& reply, Clock::time_point started,
                         std::uint16_t version) {
    agent_query_latency.observe(Clock::now() - started);
    (!reply || reply->status == gateway::Answer3Status::failed ? agent_query_failed
     : reply->status == gateway::Answer3Status::absent         ? agent_query_absent
                                                               : agent_query_found)
        .inc();
    if (reply && version >= gateway::kVersion && version <= gateway::kVersion3) {
      agent_query_by_version[version - 1].inc();
    }
  }

  // The agent's TTL within ours; a v1 agent says none: ours.
  std::uint32_t ttl_of(const gateway::Answer3& a, std::uint32_t ours) const {
    return a.ttl == 0 ? ours : std::min(a.ttl, ours);
  }

  Resolution from_reply(const gateway::Answer3& reply, const std::string& where,
                        std::uint16_t qtype) const {
    switch (reply.status) {
      case gateway::Answer3Status::absent:
        return make(dns::RemoteAnswer::Status::nxdomain, ttl_of(reply, config.negative_ttl), where,
                    "the agent has no such name");
      case gateway::Answer3Status::nodata:
        return make(dns::RemoteAnswer::Status::nodata, ttl_of(reply, config.negative_ttl), where,
                    "the agent has no records of that type there");
      case gateway::Answer3Status::failed: {
        Resolution r = make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, where,
                            "the agent could not resolve it", Failure::agent);
        r.answer.ede = {true, dns::kEdeOther, "agent answered with a failure"};  // reached
        return r;
      }
      case gateway::Answer3Status::found:
        break;
    }
    // The device's addresses (for ANY, and the HTTP API) ...
    std::optional<registrar::Ipv4> v4;
    std::optional<registrar::Ipv6> v6;
    const RRset* asked = nullptr;
    const RRset* cname = nullptr;
    for (const auto& set : reply.rrsets) {
      const auto& first = set.rdata.front();
      if (set.type == dns::type::A && first.size() == 4 && !v4) {
        v4.emplace();
        std::copy(first.begin(), first.end(), v4->begin());
      }
      if (set.type == dns::type::AAAA && first.size() == 16 && !v6) {
        v6.emplace();
        std::copy(first.begin(), first.end(), v6->begin());
      }
      if (set.type == qtype && !asked) asked = &set;
      if (set.type == kTypeCname && !cname) cname = &set;
    }
    // ... and the RRset the answer is written from: the type asked, else a CNAME.
    const RRset* chosen = asked ? asked : cname;
    if (!chosen && qtype == dns::type::ANY && !v4 && !v6 && !reply.rrsets.empty()) {
      chosen = &reply.rrsets.front();
    }
    if (!chosen && !(qtype == dns::type::ANY && (v4 || v6))) {
      Resolution r =
          make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, where,
               "the agent answered found without records of the type asked", Failure::agent);
      r.answer.ede = {true, dns::kEdeInvalidData, "agent's answer has no records"};
      return r;
    }
    Resolution r = make(dns::RemoteAnswer::Status::found, ttl_of(reply, config.ttl), where, "");
    r.answer.entry = registrar::NameEntry::device(v4, v6);
    // One address is the entry's, served with the TTL remaining in the cache
    // as v2 answers were; other RRsets keep theirs, within ours.
    const bool one_address = chosen && chosen->rdata.size() == 1 &&
                             (chosen->type == dns::type::A || chosen->type == dns::type::AAAA);
    if (chosen && !one_address) {
      auto set = std::make_shared<RRset>(*chosen);
      set->ttl = std::min(set->ttl, config.ttl);
      r.answer.rrset = std::move(set);
    }
    return r;
  }

  // Every lookup has the same timeout, so deadlines come in the order lookups
  // began: one timer for the oldest instead of one per name.
  void arm_deadlines() {
    if (deadline_armed || deadlines.empty()) return;
    deadline_armed = true;
    deadline_timer.expires_at(deadlines.front().at);
    deadline_timer.async_wait([this](const asio::error_code& ec) {
      deadline_armed = false;
      if (!ec) on_deadlines();
    });
  }

  void on_deadlines() {
    const auto now = Clock::now();
    while (!deadlines.empty() && deadlines.front().at <= now) {
      Deadline d = std::move(deadlines.front());
      deadlines.pop_front();
      const auto it = inflight.find(d.key);
      if (it == inflight.end() || it->second.seq != d.seq) continue;  // answered in time
      bump(stats_timeouts);
      finish(d.key, make(dns::RemoteAnswer::Status::servfail, config.failure_ttl, "",
                         "no answer within the timeout", Failure::timeout));
    }
    prune_deadlines();
    arm_deadlines();
  }

  // Drops answered lookups at the front, so the queue stays about as long as
  // what is in flight.
  void prune_deadlines() {
    while (!deadlines.empty()) {
      const auto it = inflight.find(deadlines.front().key);
      if (it != inflight.end() && it->second.seq == deadlines.front().seq) break;
      deadlines.pop_front();
    }
  }

  void finish(const std::string& key, Resolution r) {
    const auto it = inflight.find(key);
    if (it == inflight.end()) return;  // answered already (deadline or reply)
    auto waiters = std::move(it->second.waiters);
    inflight.erase(it);
    prune_deadlines();
    if (auto stale = stale_for(key, r)) {
      r = std::move(*stale);  // not cached: the next query asks the agent again
    } else {
      r.source = Source::remote;
      cache.insert(key, r, r.answer.ttl, Clock::now());
    }
    switch (r.answer.status) {
      case dns::RemoteAnswer::Status::found:
      case dns::RemoteAnswer::Status::nodata:
        bump(stats_found);
        break;
      case dns::RemoteAnswer::Status::nxdomain:
        bump(stats_nxdomain);
        break;
      case dns::RemoteAnswer::Status::servfail:
        bump(stats_servfail);
        break;
    }
    for (auto& w : waiters) w(r);
  }

  // RFC 8767: when the agent could not be asked, its last answer (found, nodata
  // or nxdomain) if that expired at most --stale-max ago. Not cached as live:
  // the next query asks the agent again (the DNS workers keep it kStaleTtl).
  // Never over a trust decision (contested, untrusted): those must be seen.
  std::optional<Resolution> stale_for(const std::string& key, const Resolution& failed) {
    const bool unreachable = failed.failure == Failure::agent ||
                             failed.failure == Failure::timeout || failed.failure == Failure::dht;
    if (!unreachable || config.stale_max.count() <= 0) return std::nullopt;
    Clock::duration age{};
    const Resolution* old = cache.find_stale(key, Clock::now(), config.stale_max, age);
    if (!old || old->answer.status == dns::RemoteAnswer::Status::servfail) return std::nullopt;
    Resolution r = *old;
    r.source = Source::cache;
    r.stale = true;
    r.answer.ttl = kStaleTtl;
    if (r.answer.rrset) {
      auto set = std::make_shared<RRset>(*r.answer.rrset);
      set->ttl = kStaleTtl;
      r.answer.rrset = std::move(set);
    }
    // EDE text must be static (ExtendedError holds a view); the detail names the agent.
    r.answer.ede = {true, dns::kEdeStaleAnswer,
                    failed.failure == Failure::dht       ? "stale answer: DHT unreachable"
                    : failed.failure == Failure::timeout ? "stale answer: agent timed out"
                                                         : "stale answer: agent unreachable"};
    r.detail =
        "stale answer: agent " + agent_of(key) + " unreachable (" + failed.detail + "), expired " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s ago";
    bump(stats_stale);
    return r;
  }

  ResolverConfig config;
  const registrar::SnapshotHolder& snapshots;
  AgentLookup lookup;
  gateway::ClientConfig client_config;

  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;

  // The resolver thread's own state.
  ExpiringCache<Resolution> cache;
  std::unordered_map<std::string, InFlight> inflight;
  std::deque<Deadline> deadlines;
  asio::steady_timer deadline_timer{io};
  bool deadline_armed = false;
  std::uint64_t inflight_seq = 0;
  std::unordered_map<std::string, Agent> agents;
  std::unordered_map<std::string, std::shared_ptr<gateway::GatewayClient>> clients;
  std::vector<std::shared_ptr<gateway::GatewayClient>> home;
  std::vector<std::string> home_names;
  std::size_t next_home = 0;

  std::atomic<std::uint64_t> stats_local{0}, stats_cache{0}, stats_remote{0}, stats_joined{0};
  std::atomic<std::uint64_t> stats_found{0}, stats_nxdomain{0}, stats_servfail{0},
      stats_timeouts{0};
  std::atomic<std::uint64_t> stats_agent_lookups{0}, stats_agent_queries{0}, stats_stale{0};
  std::atomic<std::uint64_t> stats_agent_failovers{0};
  // Written on the resolver's thread only.
  metrics::LocalHistogram agent_lookup_latency, agent_query_latency;
  metrics::LocalCounter agent_lookup_found, agent_lookup_absent, agent_lookup_failed,
      agent_lookup_contested;
  metrics::LocalCounter agent_query_found, agent_query_absent, agent_query_failed;
  metrics::LocalCounter agent_query_untrusted;
  std::array<metrics::LocalCounter, 3> agent_query_by_version;
  std::unordered_set<std::string> untrusted_warned;
};

Resolver::Resolver(ResolverConfig config, const registrar::SnapshotHolder& snapshots,
                   AgentLookup lookup)
    : impl_(std::make_unique<Impl>(std::move(config), snapshots, std::move(lookup))) {}

Resolver::~Resolver() { stop(); }

void Resolver::start() {
  if (impl_->thread.joinable()) return;
  impl_->work.emplace(impl_->io.get_executor());
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  impl_->thread = std::thread([this] { impl_->io.run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Resolver::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    for (auto& c : impl_->home) c->close();
    for (auto& [where, c] : impl_->clients) c->close();
    impl_->work.reset();
    impl_->io.stop();
  });
  impl_->thread.join();
}

void Resolver::resolve(std::string key, std::uint16_t qtype,
                       std::function<void(const dns::RemoteAnswer&)> done) {
  resolve_detailed(std::move(key), qtype,
                   [done = std::move(done)](const Resolution& r) { done(r.answer); });
}

void Resolver::resolve_detailed(std::string key, std::uint16_t qtype,
                                std::function<void(const Resolution&)> done) {
  std::string question = dns::remote_cache_key(key, qtype);
  if (question.empty()) {
    Resolution r = make(dns::RemoteAnswer::Status::nxdomain, impl_->config.negative_ttl, "",
                        "the name is too long");
    return done(r);
  }
  asio::post(impl_->io, [this, question = std::move(question), done = std::move(done)]() mutable {
    impl_->begin(std::move(question), std::move(done));
  });
}

ResolverStats Resolver::stats() const noexcept {
  const auto& i = *impl_;
  const auto get = [](const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  ResolverStats s;
  s.local = get(i.stats_local);
  s.cache_hits = get(i.stats_cache);
  s.remote = get(i.stats_remote);
  s.joined = get(i.stats_joined);
  s.found = get(i.stats_found);
  s.nxdomain = get(i.stats_nxdomain);
  s.servfail = get(i.stats_servfail);
  s.timeouts = get(i.stats_timeouts);
  s.agent_lookups = get(i.stats_agent_lookups);
  s.agent_queries = get(i.stats_agent_queries);
  s.stale = get(i.stats_stale);
  s.agent_failovers = get(i.stats_agent_failovers);
  s.agent_lookup_latency = i.agent_lookup_latency.data();
  s.agent_query_latency = i.agent_query_latency.data();
  s.agent_lookup_found = i.agent_lookup_found.get();
  s.agent_lookup_absent = i.agent_lookup_absent.get();
  s.agent_lookup_contested = i.agent_lookup_contested.get();
  s.agent_lookup_failed = i.agent_lookup_failed.get();
  s.agent_query_found = i.agent_query_found.get();
  s.agent_query_untrusted = i.agent_query_untrusted.get();
  s.agent_query_absent = i.agent_query_absent.get();
  s.agent_query_failed = i.agent_query_failed.get();
  for (std::size_t v = 0; v < s.agent_query_by_version.size(); ++v) {
    s.agent_query_by_version[v] = i.agent_query_by_version[v].get();
  }
  return s;
}

}  // namespace pweb::node
