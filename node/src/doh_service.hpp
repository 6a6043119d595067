#pragma once
// DNS over HTTPS answers: the UDP/TCP path (dns::process_query, with TCP's
// limits), and for another agent's name the resolver: waited for on the HTTP
// worker within --timeout (HTTP/1.1), or handed over when it comes (HTTP/2,
// whose other streams go on meanwhile).
#include <atomic>
#include <chrono>
#include <cstdint>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/query_processor.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/registrar/snapshot.hpp"
#include "pweb/rest/dns_query_service.hpp"

namespace pweb::node {

class NodeDoh final : public rest::DnsQueryService {
 public:
  NodeDoh(const dns::Authority& authority, const registrar::SnapshotHolder& snapshots,
          dns::RemoteResolver& resolver, std::chrono::milliseconds timeout)
      : authority_(authority), snapshots_(snapshots), resolver_(resolver), timeout_(timeout) {}

  std::vector<std::uint8_t> answer(std::span<const std::uint8_t> query) override;
  void answer_later(std::span<const std::uint8_t> query,
                    std::function<void(rest::DnsAnswerFinish)> done) override;
  std::chrono::milliseconds longest_wait() const override;

  // DNS messages received over DoH (both HTTP versions), for /metrics.
  std::uint64_t queries() const noexcept { return queries_.load(std::memory_order_relaxed); }

 private:
  // The response with what the resolver said about the name.
  std::vector<std::uint8_t> finish(std::span<const std::uint8_t> query,
                                   const dns::RemoteAnswer& resolved) const;
  // The UDP/TCP path into this thread's buffer; `resolved`: the resolver's
  // answer for another agent's name, null before it was asked.
  dns::Processed process(std::span<const std::uint8_t> query,
                         const dns::RemoteAnswer* resolved) const;

  const dns::Authority& authority_;
  const registrar::SnapshotHolder& snapshots_;
  dns::RemoteResolver& resolver_;
  std::chrono::milliseconds timeout_;
  // Never filled: the resolver keeps its own cache of other agents' answers,
  // shared by every HTTP worker; a query for one is always asked of it.
  const dns::RemoteCache no_cache_{1};
  std::atomic<std::uint64_t> queries_{0};
};

}  // namespace pweb::node
