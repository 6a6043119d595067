// A TCP byte stream cut into arbitrary reads. Invariant: the framer yields exactly
// the frames a straightforward reading of the whole stream yields.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pweb/dns/tcp_framer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;  // read sizes from the first byte
  const std::uint8_t* stream = data + 1;
  const std::size_t len = size - 1;

  std::vector<std::vector<std::uint8_t>> expected;
  for (std::size_t pos = 0; pos + 2 <= len;) {
    const std::size_t n = (std::size_t{stream[pos]} << 8) | stream[pos + 1];
    if (pos + 2 + n > len) break;
    expected.emplace_back(stream + pos + 2, stream + pos + 2 + n);
    pos += 2 + n;
  }

  pweb::dns::TcpFramer framer;
  std::size_t got = 0;
  for (std::size_t pos = 0; pos < len; pos += chunk) {
    const std::size_t n = std::min(chunk, len - pos);
    auto room = framer.prepare(n);
    std::memcpy(room.data(), stream + pos, n);
    framer.commit(n);
    while (auto msg = framer.next()) {
      if (got >= expected.size()) std::abort();
      const auto& e = expected[got++];
      if (msg->size() != e.size() ||
          (!e.empty() && std::memcmp(msg->data(), e.data(), e.size()) != 0)) {
        std::abort();
      }
    }
  }
  if (got != expected.size()) std::abort();
  return 0;
}
