#include "doh_service.hpp"

#include <future>
#include <memory>

#include "pweb/dns/query_processor.hpp"

namespace pweb::node {
namespace {

// The resolver always answers within the timeout; this margin only guards the
// HTTP worker against a bug there.
constexpr std::chrono::seconds kMargin{2};

std::vector<std::uint8_t> bytes(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

// One answer buffer per HTTP worker thread: TCP's limit, 65535 bytes.
std::vector<std::uint8_t>& buffer() {
  thread_local std::vector<std::uint8_t> out(65535);
  return out;
}

std::vector<std::uint8_t> response_of(const dns::Processed& p) {
  return bytes(std::span(buffer()).first(p.response.size));
}

}  // namespace

std::chrono::milliseconds NodeDoh::longest_wait() const { return timeout_ + kMargin; }

std::vector<std::uint8_t> NodeDoh::answer(std::span<const std::uint8_t> query) {
  auto promise = std::make_shared<std::promise<rest::DnsAnswerFinish>>();
  auto future = promise->get_future();
  answer_later(query, [promise](rest::DnsAnswerFinish f) { promise->set_value(std::move(f)); });
  if (future.wait_for(longest_wait()) == std::future_status::ready) return future.get()();
  return finish(query, dns::RemoteAnswer{});  // servfail
}

void NodeDoh::answer_later(std::span<const std::uint8_t> query,
                           std::function<void(rest::DnsAnswerFinish)> done) {
  queries_.fetch_add(1, std::memory_order_relaxed);
  const auto p = process(query, nullptr);
  if (!p.pending) {
    done([answer = response_of(p)]() mutable { return std::move(answer); });
    return;
  }
  std::string key;
  std::uint16_t qtype = 0;
  if (!dns::split_remote_cache_key(p.pending_key, key, qtype)) {
    done([this, q = bytes(query)] { return finish(q, dns::RemoteAnswer{}); });  // servfail
    return;
  }
  // The response is made again with the answer, on the thread that takes it.
  resolver_.resolve(std::move(key), qtype,
                    [this, q = bytes(query), done = std::move(done)](const dns::RemoteAnswer& a) {
                      done([this, q, a] { return finish(q, a); });
                    });
}

std::vector<std::uint8_t> NodeDoh::finish(std::span<const std::uint8_t> query,
                                          const dns::RemoteAnswer& resolved) const {
  return response_of(process(query, &resolved));
}

dns::Processed NodeDoh::process(std::span<const std::uint8_t> query,
                                const dns::RemoteAnswer* resolved) const {
  const dns::RemoteContext remote{&no_cache_, resolved, dns::RemoteCache::Clock::now()};
  return dns::process_query(query, buffer(), dns::Transport::tcp, authority_, *snapshots_.current(),
                            remote);
}

}  // namespace pweb::node
