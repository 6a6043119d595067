#include "doh_service.hpp"

#include <future>
#include <memory>

#include "pweb/dns/query_processor.hpp"

namespace pweb::node {
namespace {

// The resolver always answers within the timeout; this margin only guards the
// HTTP worker against a bug there.
constexpr std::chrono::seconds kMargin{2};

}  // namespace

std::vector<std::uint8_t> NodeDoh::answer(std::span<const std::uint8_t> query) {
  // One answer buffer per HTTP worker thread: TCP's limit, 65535 bytes.
  thread_local std::vector<std::uint8_t> out(65535);
  const auto snapshot = snapshots_.current();
  dns::RemoteContext remote{&no_cache_, nullptr, dns::RemoteCache::Clock::now()};
  auto p = dns::process_query(query, out, dns::Transport::tcp, authority_, *snapshot, remote);
  if (p.pending) {
    std::string key;
    std::uint16_t qtype = 0;
    dns::RemoteAnswer answer;  // servfail unless the resolver says otherwise
    if (dns::split_remote_cache_key(p.pending_key, key, qtype)) {
      auto promise = std::make_shared<std::promise<dns::RemoteAnswer>>();
      auto future = promise->get_future();
      resolver_.resolve(std::move(key), qtype,
                        [promise](const dns::RemoteAnswer& a) { promise->set_value(a); });
      if (future.wait_for(timeout_ + kMargin) == std::future_status::ready) answer = future.get();
    }
    remote.resolved = &answer;
    remote.now = dns::RemoteCache::Clock::now();
    p = dns::process_query(query, out, dns::Transport::tcp, authority_, *snapshots_.current(),
                           remote);
  }
  return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(p.response.size)};
}

}  // namespace pweb::node
