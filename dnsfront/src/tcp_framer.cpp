#include "pweb/dns/tcp_framer.hpp"

#include <cstring>

namespace pweb::dns {

std::span<std::uint8_t> TcpFramer::prepare(std::size_t n) {
  if (start_ > 0) {  // slide unconsumed bytes to the front
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buf_.size() - end_ < n) buf_.resize(end_ + n);
  return {buf_.data() + end_, n};
}

void TcpFramer::commit(std::size_t n) noexcept {
  end_ = n > buf_.size() - end_ ? buf_.size() : end_ + n;
}

std::optional<std::span<const std::uint8_t>> TcpFramer::next() noexcept {
  const std::size_t avail = end_ - start_;
  if (avail < 2) return std::nullopt;
  const std::size_t len = (std::size_t{buf_[start_]} << 8) | buf_[start_ + 1];
  if (avail - 2 < len) return std::nullopt;
  std::span<const std::uint8_t> msg(buf_.data() + start_ + 2, len);
  start_ += 2 + len;
  return msg;
}

}  // namespace pweb::dns
