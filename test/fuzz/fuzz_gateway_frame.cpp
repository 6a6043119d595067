// Any bytes through the gateway frame decoder, frame after frame as a server
// reads a pipelined stream. Invariants: no crash; progress on every frame; a
// decoded frame re-encodes to exactly the bytes it came from; a v3 ANSWER3
// stays within its bounds (frame size, RRsets, records) and converts.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <variant>
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
    if (const auto* a = std::get_if<pweb::gateway::Answer3>(&d.frame)) {
      if (d.consumed > pweb::gateway::kMaxAnswer3Size ||
          a->rrsets.size() > pweb::gateway::kMaxAnswerRRsets) {
        std::abort();
      }
      for (const auto& set : a->rrsets) {
        if (set.rdata.empty() || set.rdata.size() > pweb::gateway::kMaxRRsetRecords ||
            !set.subname.empty()) {
          std::abort();
        }
      }
    }
    if (const auto* a = std::get_if<pweb::gateway::Answer>(&d.frame)) {
      // What a v3 client makes of a v2 answer is again a valid ANSWER3.
      for (const std::uint16_t qtype : {1, 28, 255, 16}) {
        std::vector<std::uint8_t> v3;
        if (!pweb::gateway::encode(v3, pweb::gateway::from_v2(*a, qtype))) std::abort();
      }
    }
    rest = rest.subspan(d.consumed);
  }
  return 0;
}
