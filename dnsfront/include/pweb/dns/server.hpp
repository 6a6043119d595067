#pragma once
// The DNS servers: UDP and TCP listeners on Asio, one io_context per worker
// thread, each worker with its own SO_REUSEPORT sockets and its own snapshot
// reader, so workers share nothing on the query path.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/cookie.hpp"
#include "pweb/dns/message_handler.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/dns/rrl.hpp"
#include "pweb/metrics.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::dns {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6
  std::uint16_t port = 0;
};

// One answered (or dropped) query, for the optional query log.
struct QueryLogEntry {
  bool tcp = false;
  bool tls = false;    // DNS over TLS (then tcp too)
  std::string client;  // "addr:port"
  std::string qname;   // as sent; empty if the query did not parse
  std::uint16_t qtype = 0;
  int rcode = -1;  // -1: no answer sent
  std::size_t size = 0;
  std::chrono::nanoseconds latency{0};
};
// Called on DNS worker threads; must be quick and thread-safe.
using QueryLog = std::function<void(const QueryLogEntry&)>;

// Query types counted one by one; everything else is "other".
inline constexpr std::array<std::uint16_t, 10> kCountedQtypes = {1,  2,  5,  6,  12,
                                                                 15, 16, 28, 33, 255};
inline constexpr std::array<const char*, 11> kQtypeNames = {
    "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "ANY", "other"};
// Index into kQtypeNames.
constexpr std::size_t qtype_index(std::uint16_t qtype) noexcept {
  for (std::size_t i = 0; i < kCountedQtypes.size(); ++i) {
    if (kCountedQtypes[i] == qtype) return i;
  }
  return kCountedQtypes.size();
}

struct ServerConfig {
  std::vector<ListenAddress> listen;
  unsigned threads = 1;
  std::chrono::milliseconds tcp_idle_timeout{10000};
  std::size_t max_tcp_connections_per_thread = 1024;
  std::size_t remote_cache_entries = 1 << 16;  // per worker
  std::size_t max_waiting_queries = 1 << 16;   // per worker, for remote answers
  QueryLog query_log;                          // null: no query log
  // UDP response rate limiting; the rate is the node's, shared out among workers.
  RrlConfig rrl;
  // DNS over TLS (RFC 7858): its listeners, and the certificate chain and key
  // (PEM files) they present. Connections as over TCP (idle timeout, and a
  // limit per thread counted apart from TCP's), and a client that has not
  // finished its handshake within the deadline is cut.
  std::vector<ListenAddress> dot_listen;
  std::string tls_cert;
  std::string tls_key;
  std::chrono::milliseconds tls_handshake_timeout{5000};
};

struct ServerStats {
  std::uint64_t udp_queries = 0;
  std::uint64_t tcp_queries = 0;
  std::uint64_t dropped = 0;  // no answer sent: unparseable or itself a response
  std::uint64_t truncated = 0;
  std::array<std::uint64_t, 17> rcodes{};  // by rcode value (BADVERS = 16)
  std::uint64_t tcp_connections = 0;
  std::uint64_t remote_lookups = 0;
  std::uint64_t remote_waits = 0;
  std::uint64_t remote_overflow = 0;
  std::array<std::uint64_t, kQtypeNames.size()> qtypes{};  // by qtype_index()
  std::uint64_t cache_hits = 0;    // other agents' names answered from a worker's cache
  std::uint64_t cache_misses = 0;  // ... that had to ask the resolver
  metrics::HistogramData latency;  // query read → answer ready, seconds
  std::uint64_t rrl_slipped = 0;   // UDP answers sent truncated by rate limiting
  std::uint64_t rrl_dropped = 0;   // UDP answers not sent by rate limiting
  std::array<std::uint64_t, kCookieResults> cookies{};  // queries by CookieResult (none: 0)
  std::uint64_t dot_queries = 0;                        // over TLS (not in tcp_queries)
  std::uint64_t dot_connections = 0;
  std::uint64_t dot_handshake_failures = 0;  // failed, or cut at the deadline
};

class BindError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DnsServer {
 public:
  // Binds every listener now so that a busy port fails start-up (BindError);
  // TLS files that cannot be used throw ConfigError naming the file.
  // `remote` (optional) resolves other agents' names; it must outlive stop().
  // `signed_messages` (optional) answers RFC 2136 UPDATEs and TSIG-signed
  // queries; it must outlive stop().
  DnsServer(ServerConfig config, const Authority& authority,
            const registrar::SnapshotHolder& snapshots, RemoteResolver* remote = nullptr,
            SignedMessageHandler* signed_messages = nullptr);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  void start();
  void stop();
  [[nodiscard]] ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::dns
