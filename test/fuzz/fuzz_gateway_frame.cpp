// Any bytes through the gateway frame decoder, frame after frame as a server
// reads a pipelined stream. Invariants: no crash; progress on every frame; a
// decoded frame re-encodes to exactly the bytes it came from.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pweb/gateway/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> rest(data, size);
  while (!rest.empty()) {
    const auto d = pweb::gateway::decode(rest);
    if (d.status != pweb::gateway::DecodeStatus::frame) break;
    if (d.consumed == 0 || d.consumed > rest.size()) std::abort();
    std::vector<std::uint8_t> again;
    std::visit([&](const auto& f) { pweb::gateway::encode(again, f); }, d.frame);
    if (again.size() != d.consumed || std::memcmp(again.data(), rest.data(), d.consumed) != 0) {
      std::abort();
    }
    rest = rest.subspan(d.consumed);
  }
  return 0;
}
