#include "pweb/dns/wire.hpp"

#include <algorithm>
#include <cstring>

namespace pweb::dns {

bool WireReader::need(std::size_t n) noexcept {
  if (!ok_ || n > buf_.size() - pos_) {
    ok_ = false;
    return false;
  }
  return true;
}

std::uint8_t WireReader::u8() noexcept {
  if (!need(1)) return 0;
  return buf_[pos_++];
}

std::uint16_t WireReader::u16() noexcept {
  if (!need(2)) return 0;
  const auto v = static_cast<std::uint16_t>((std::uint32_t{buf_[pos_]} << 8) | buf_[pos_ + 1]);
  pos_ += 2;
  return v;
}

std::uint32_t WireReader::u32() noexcept {
  if (!need(4)) return 0;
  const std::uint32_t v = (std::uint32_t{buf_[pos_]} << 24) |
                          (std::uint32_t{buf_[pos_ + 1]} << 16) |
                          (std::uint32_t{buf_[pos_ + 2]} << 8) | std::uint32_t{buf_[pos_ + 3]};
  pos_ += 4;
  return v;
}

std::span<const std::uint8_t> WireReader::bytes(std::size_t n) noexcept {
  if (!need(n)) return {};
  auto out = buf_.subspan(pos_, n);
  pos_ += n;
  return out;
}

void WireReader::skip(std::size_t n) noexcept {
  if (need(n)) pos_ += n;
}

void WireReader::seek(std::size_t pos) noexcept {
  if (!ok_ || pos > buf_.size()) {
    ok_ = false;
    return;
  }
  pos_ = pos;
}

bool WireWriter::room(std::size_t n) noexcept {
  if (!ok_ || n > limit_ - pos_) {
    ok_ = false;
    return false;
  }
  return true;
}

void WireWriter::u8(std::uint8_t v) noexcept {
  if (room(1)) buf_[pos_++] = v;
}

void WireWriter::u16(std::uint16_t v) noexcept {
  if (!room(2)) return;
  buf_[pos_] = static_cast<std::uint8_t>(v >> 8);
  buf_[pos_ + 1] = static_cast<std::uint8_t>(v);
  pos_ += 2;
}

void WireWriter::u32(std::uint32_t v) noexcept {
  if (!room(4)) return;
  buf_[pos_] = static_cast<std::uint8_t>(v >> 24);
  buf_[pos_ + 1] = static_cast<std::uint8_t>(v >> 16);
  buf_[pos_ + 2] = static_cast<std::uint8_t>(v >> 8);
  buf_[pos_ + 3] = static_cast<std::uint8_t>(v);
  pos_ += 4;
}

void WireWriter::bytes(std::span<const std::uint8_t> data) noexcept {
  if (data.empty() || !room(data.size())) return;
  std::memcpy(buf_.data() + pos_, data.data(), data.size());
  pos_ += data.size();
}

void WireWriter::patch_u16(std::size_t at, std::uint16_t v) noexcept {
  if (!ok_ || at > pos_ || pos_ - at < 2) {
    ok_ = false;
    return;
  }
  buf_[at] = static_cast<std::uint8_t>(v >> 8);
  buf_[at + 1] = static_cast<std::uint8_t>(v);
}

void WireWriter::set_limit(std::size_t limit) noexcept {
  limit_ = std::min(limit, buf_.size());
  if (pos_ > limit_) ok_ = false;
}

void WireWriter::resume_at(std::size_t pos) noexcept {
  if (pos > limit_) {
    ok_ = false;
    return;
  }
  pos_ = pos;
}

void WireWriter::rollback(std::size_t pos) noexcept {
  if (pos <= pos_) {
    pos_ = pos;
    ok_ = pos_ <= limit_;
  }
}

}  // namespace pweb::dns
