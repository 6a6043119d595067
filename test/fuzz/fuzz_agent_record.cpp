// Agent records come from anyone on the DHT. Invariants: no crash, and an
// accepted record re-encodes to something that decodes to the same record.
#include <cstdint>
#include <cstdlib>

#include "pweb/dht/agent_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto d = pweb::dht::decode(std::span(data, size));
  if (!d.record) {
    if (d.error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  const auto again = pweb::dht::decode(pweb::dht::encode(*d.record));
  if (!again.record || !(*again.record == *d.record)) std::abort();
  return 0;
}
