#include "dht_link.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <asio/ip/address.hpp>
#include <chrono>
#include <mutex>
#include <unordered_map>

namespace pweb::node {

dht::DirectoryConfig directory_config(const NodeConfig& cfg) {
  dht::DirectoryConfig d;
  d.port = cfg.dht_port;
  d.network_id = cfg.network_id;
  d.identity_path = cfg.data_dir / "identity";
  d.key_bits = cfg.identity_bits;
  d.trust_anchors.assign(cfg.trust_anchor.begin(), cfg.trust_anchor.end());
  for (const auto& b : cfg.bootstrap) {
    const auto hp = *parse_host_port(b);  // validated by the option table
    d.bootstrap.push_back({hp.host, hp.port});
  }
  return d;
}

namespace {

void interface_addresses(dht::AgentRecord& r) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  std::vector<std::string> loop4, loop6;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      const asio::ip::address_v4 a(ntohl(sin->sin_addr.s_addr));
      (a.is_loopback() ? loop4 : r.ipv4).push_back(a.to_string());
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      asio::ip::address_v6::bytes_type b{};
      std::copy_n(sin6->sin6_addr.s6_addr, 16, b.begin());
      const asio::ip::address_v6 a(b);
      if (a.is_link_local()) continue;  // needs a scope the record cannot carry
      (a.is_loopback() ? loop6 : r.ipv6).push_back(a.to_string());
    }
  }
  freeifaddrs(list);
  // Only loopback here: then that is how this agent is reached.
  if (r.ipv4.empty() && r.ipv6.empty()) {
    r.ipv4 = loop4;
    r.ipv6 = loop6;
  }
  if (r.ipv4.size() > dht::kMaxAddresses) r.ipv4.resize(dht::kMaxAddresses);
  if (r.ipv6.size() > dht::kMaxAddresses) r.ipv6.resize(dht::kMaxAddresses);
}

}  // namespace

dht::AgentRecord own_record(const NodeConfig& cfg, std::uint16_t gateway_port,
                            std::uint16_t http_port, std::uint16_t dns_port) {
  dht::AgentRecord r;
  r.label = cfg.label;
  r.gateway_port = gateway_port;
  r.http_port = http_port;
  r.dns_port = dns_port;
  r.updated = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  const auto hp = *parse_host_port(cfg.gateway_listen);
  asio::error_code ec;
  const auto addr = asio::ip::make_address(hp.host, ec);
  if (!ec && !addr.is_unspecified()) {
    (addr.is_v4() ? r.ipv4 : r.ipv6).push_back(addr.to_string());
  } else {
    interface_addresses(r);
  }
  return r;
}

namespace {

// event=label_contested once per label per interval, not once per query.
class ContestedLog {
 public:
  static constexpr std::chrono::minutes kInterval{5};
  static constexpr std::size_t kMaxLabels = 4096;

  void note(const std::string& label, const std::vector<std::string>& keys) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mutex_);
      if (last_.size() >= kMaxLabels) last_.clear();  // bounded; at worst a repeat line
      auto [it, added] = last_.try_emplace(label, now);
      if (!added) {
        if (now - it->second < kInterval) return;
        it->second = now;
      }
    }
    spdlog::warn(
        "event=label_contested label={} keys={} msg=\"records signed by several keys, none "
        "pinned: not followed; pin the rightful one (pweb-node pin add {} KEY_ID) or use "
        "--trust-anchor\"",
        label, fmt::join(keys, ","), label);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_;
};

}  // namespace

AgentLookup agent_lookup(dht::AgentDirectory& directory, bool alone) {
  auto log = std::make_shared<ContestedLog>();
  return [&directory, alone, log](const std::string& label,
                                  std::function<void(AgentLookupResult)> done) {
    // Asked here, not in the callback: OpenDHT's callbacks must not call back into it.
    const bool no_peers = !alone && directory.good_nodes() == 0;
    directory.lookup(label,
                     [no_peers, label, log, done = std::move(done)](dht::LookupResult found) {
                       if (found.contested) log->note(label, found.contenders);
                       AgentLookupResult r;
                       r.failed = !found.record && !found.contested && no_peers;
                       r.record = std::move(found.record);
                       r.records = std::move(found.records);
                       r.owner = std::move(found.owner);
                       r.owner_spki = std::move(found.owner_spki);
                       r.contested = found.contested;
                       r.contenders = std::move(found.contenders);
                       done(std::move(r));
                     });
  };
}

}  // namespace pweb::node
