#pragma once
// Private to dht/: the one loop that writes a whole buffer to a file descriptor.
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace pweb::dht {

// Writes all `size` bytes, retrying short writes and EINTR; false on an error.
inline bool write_all(int fd, const void* data, std::size_t size) noexcept {
  const auto* at = static_cast<const char*>(data);
  while (size > 0) {
    const auto n = ::write(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace pweb::dht
