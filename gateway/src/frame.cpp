#include "pweb/gateway/frame.hpp"

#include "pweb/dns/wire.hpp"

namespace pweb::gateway {
namespace {

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}

// `count` addresses of N bytes each into `out`; false if the reader ran short.
template <std::size_t N>
bool read_addresses(dns::WireReader& r, std::uint8_t count,
                    std::vector<std::array<std::uint8_t, N>>& out) {
  for (std::uint8_t i = 0; i < count; ++i) {
    const auto b = r.bytes(N);
    if (!r.ok()) return false;
    std::array<std::uint8_t, N> a{};
    std::copy(b.begin(), b.end(), a.begin());
    out.push_back(a);
  }
  return true;
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

bool encode(std::vector<std::uint8_t>& out, const Answer& a) {
  if (a.ipv4.size() > kMaxAnswerAddresses || a.ipv6.size() > kMaxAnswerAddresses) return false;
  if (a.status != AnswerStatus::found && (!a.ipv4.empty() || !a.ipv6.empty())) return false;
  put_u16(out, kTypeAnswer);
  put_u16(out, a.serial);
  out.push_back(static_cast<std::uint8_t>(a.status));
  put_u32(out, a.ttl);
  out.push_back(static_cast<std::uint8_t>(a.ipv4.size()));
  for (const auto& v4 : a.ipv4) out.insert(out.end(), v4.begin(), v4.end());
  out.push_back(static_cast<std::uint8_t>(a.ipv6.size()));
  for (const auto& v6 : a.ipv6) out.insert(out.end(), v6.begin(), v6.end());
  return true;
}

Reply to_v1(const Answer& a) {
  Reply r;
  r.serial = a.serial;
  if (a.status != AnswerStatus::found) return r;
  if (!a.ipv4.empty()) {
    r.success = true;
    r.family = 4;
    std::copy(a.ipv4.front().begin(), a.ipv4.front().end(), r.address.begin());
  } else if (!a.ipv6.empty()) {
    r.success = true;
    r.family = 6;
    r.address = a.ipv6.front();
  }
  return r;
}

Answer from_v1(const Reply& r) {
  Answer a;
  a.serial = r.serial;
  if (!r.success) return a;  // absent: v1 cannot say more
  a.status = AnswerStatus::found;
  if (r.family == 4) {
    a.ipv4.push_back({r.address[0], r.address[1], r.address[2], r.address[3]});
  } else {
    a.ipv6.push_back(r.address);
  }
  return a;
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
  } else if (type == kTypeAnswer) {
    Answer a;
    a.serial = serial;
    const std::uint8_t status = r.u8();
    a.ttl = r.u32();
    const std::uint8_t n4 = r.u8();
    if (!r.ok()) return d;
    if (status > 2 || n4 > kMaxAnswerAddresses) {
      d.status = DecodeStatus::malformed;
      return d;
    }
    a.status = static_cast<AnswerStatus>(status);
    if (!read_addresses(r, n4, a.ipv4)) return d;
    const std::uint8_t n6 = r.u8();
    if (!r.ok()) return d;
    if (n6 > kMaxAnswerAddresses || (a.status != AnswerStatus::found && (n4 != 0 || n6 != 0))) {
      d.status = DecodeStatus::malformed;
      return d;
    }
    if (!read_addresses(r, n6, a.ipv6)) return d;
    d.frame = std::move(a);
  } else {
    d.status = DecodeStatus::malformed;
    return d;
  }
  d.status = DecodeStatus::frame;
  d.consumed = r.pos();
  return d;
}

}  // namespace pweb::gateway
