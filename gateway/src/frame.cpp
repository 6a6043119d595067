#include "pweb/gateway/frame.hpp"

#include "pweb/dns/wire.hpp"

namespace pweb::gateway {
namespace {

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

}  // namespace

void encode_version(std::vector<std::uint8_t>& out, std::uint16_t version) {
  put_u16(out, version);
}

bool encode(std::vector<std::uint8_t>& out, const Query& q) {
  if (q.name.size() > kMaxName) return false;
  put_u16(out, kTypeQuery);
  put_u16(out, q.serial);
  put_u16(out, static_cast<std::uint16_t>(q.name.size()));
  out.insert(out.end(), q.name.begin(), q.name.end());
  return true;
}

void encode(std::vector<std::uint8_t>& out, const Reply& r) {
  put_u16(out, kTypeReply);
  put_u16(out, r.serial);
  out.push_back(r.success ? 0 : 1);
  if (!r.success) return;
  out.push_back(r.family);
  const std::size_t n = r.family == 6 ? 16 : 4;
  out.insert(out.end(), r.address.begin(), r.address.begin() + static_cast<std::ptrdiff_t>(n));
}

std::optional<std::uint16_t> decode_version(std::span<const std::uint8_t> bytes) noexcept {
  dns::WireReader r(bytes);
  const auto v = r.u16();
  if (!r.ok()) return std::nullopt;
  return v;
}

Decoded decode(std::span<const std::uint8_t> bytes) noexcept {
  Decoded d;
  dns::WireReader r(bytes);
  const std::uint16_t type = r.u16();
  const std::uint16_t serial = r.u16();
  if (!r.ok()) return d;  // need_more
  if (type == kTypeQuery) {
    const std::uint16_t len = r.u16();
    if (r.ok() && len > kMaxName) {
      d.status = DecodeStatus::malformed;
      return d;
    }
    const auto name = r.bytes(len);
    if (!r.ok()) return d;
    Query q;
    q.serial = serial;
    q.name.assign(name.begin(), name.end());
    d.frame = std::move(q);
  } else if (type == kTypeReply) {
    const std::uint8_t status = r.u8();
    if (!r.ok()) return d;
    Reply rep;
    rep.serial = serial;
    if (status == 1) {
      rep.success = false;
    } else if (status == 0) {
      rep.success = true;
      rep.family = r.u8();
      if (!r.ok()) return d;
      if (rep.family != 4 && rep.family != 6) {
        d.status = DecodeStatus::malformed;
        return d;
      }
      const auto addr = r.bytes(rep.family == 6 ? 16 : 4);
      if (!r.ok()) return d;
      std::copy(addr.begin(), addr.end(), rep.address.begin());
    } else {
      d.status = DecodeStatus::malformed;
      return d;
    }
    d.frame = rep;
  } else {
    d.status = DecodeStatus::malformed;
    return d;
  }
  d.status = DecodeStatus::frame;
  d.consumed = r.pos();
  return d;
}

}  // namespace pweb::gateway
