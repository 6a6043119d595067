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

constexpr std::uint16_t kTypeA = 1, kTypeAAAA = 28, kTypeAny = 255;

// Bytes of an ANSWER3 with these RRsets; 0 if one breaks the frame's rules.
std::size_t answer3_size(const Answer3& a) {
  if (a.rrsets.size() > kMaxAnswerRRsets) return 0;
  if (a.status != Answer3Status::found && !a.rrsets.empty()) return 0;
  std::size_t n = 2 + 2 + 1 + 4 + 1;
  for (const auto& set : a.rrsets) {
    if (!set.subname.empty() || set.rdata.empty() || set.rdata.size() > kMaxRRsetRecords) return 0;
    n += 2 + 4 + 2;
    for (const auto& rd : set.rdata) {
      if (rd.size() > 0xFFFF) return 0;
      n += 2 + rd.size();
    }
  }
  return n <= kMaxAnswer3Size ? n : 0;
}

Decoded malformed() noexcept {
  Decoded d;
  d.status = DecodeStatus::malformed;
  return d;
}

// The RRsets of an ANSWER3 after its count; need_more, malformed, or frame
// (with the reader after the last record).
DecodeStatus read_rrsets(dns::WireReader& r, std::uint8_t count, std::vector<RRset>& out) {
  for (std::uint8_t i = 0; i < count; ++i) {
    RRset set;
    set.type = r.u16();
    set.ttl = r.u32();
    const std::uint16_t records = r.u16();
    if (!r.ok()) return DecodeStatus::need_more;
    if (records == 0 || records > kMaxRRsetRecords) return DecodeStatus::malformed;
    set.rdata.reserve(records);
    for (std::uint16_t j = 0; j < records; ++j) {
      const std::uint16_t len = r.u16();
      if (!r.ok()) return DecodeStatus::need_more;
      // Judged before waiting for the bytes: a peer cannot make us buffer more.
      if (r.pos() + len > kMaxAnswer3Size) return DecodeStatus::malformed;
      const auto rd = r.bytes(len);
      if (!r.ok()) return DecodeStatus::need_more;
      set.rdata.emplace_back(rd.begin(), rd.end());
    }
    out.push_back(std::move(set));
  }
  return DecodeStatus::frame;
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

bool encode(std::vector<std::uint8_t>& out, const Query3& q) {
  if (q.name.size() > kMaxName) return false;
  put_u16(out, kTypeQuery3);
  put_u16(out, q.serial);
  put_u16(out, q.qtype);
  put_u16(out, static_cast<std::uint16_t>(q.name.size()));
  out.insert(out.end(), q.name.begin(), q.name.end());
  return true;
}

bool encode(std::vector<std::uint8_t>& out, const Answer3& a) {
  const std::size_t size = answer3_size(a);
  if (size == 0) return false;
  out.reserve(out.size() + size);
  put_u16(out, kTypeAnswer3);
  put_u16(out, a.serial);
  out.push_back(static_cast<std::uint8_t>(a.status));
  put_u32(out, a.ttl);
  out.push_back(static_cast<std::uint8_t>(a.rrsets.size()));
  for (const auto& set : a.rrsets) {
    put_u16(out, set.type);
    put_u32(out, set.ttl);
    put_u16(out, static_cast<std::uint16_t>(set.rdata.size()));
    for (const auto& rd : set.rdata) {
      put_u16(out, static_cast<std::uint16_t>(rd.size()));
      out.insert(out.end(), rd.begin(), rd.end());
    }
  }
  return true;
}

Answer3 from_v2(const Answer& a, std::uint16_t qtype) {
  Answer3 out;
  out.serial = a.serial;
  out.ttl = a.ttl;
  switch (a.status) {
    case AnswerStatus::absent:
      out.status = Answer3Status::absent;
      return out;
    case AnswerStatus::failed:
      out.status = Answer3Status::failed;
      return out;
    case AnswerStatus::found:
      break;
  }
  const auto add = [&](std::uint16_t type, const auto& addresses) {
    if (addresses.empty()) return;
    RRset set;
    set.type = type;
    set.ttl = a.ttl;
    for (const auto& addr : addresses) set.rdata.emplace_back(addr.begin(), addr.end());
    out.rrsets.push_back(std::move(set));
  };
  if (qtype == kTypeA || qtype == kTypeAny) add(kTypeA, a.ipv4);
  if (qtype == kTypeAAAA || qtype == kTypeAny) add(kTypeAAAA, a.ipv6);
  out.status = out.rrsets.empty() ? Answer3Status::nodata : Answer3Status::found;
  return out;
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
  } else if (type == kTypeQuery3) {
    Query3 q;
    q.serial = serial;
    q.qtype = r.u16();
    const std::uint16_t len = r.u16();
    if (r.ok() && len > kMaxName) return malformed();
    const auto name = r.bytes(len);
    if (!r.ok()) return d;
    q.name.assign(name.begin(), name.end());
    d.frame = std::move(q);
  } else if (type == kTypeAnswer3) {
    Answer3 a;
    a.serial = serial;
    const std::uint8_t status = r.u8();
    a.ttl = r.u32();
    const std::uint8_t count = r.u8();
    if (!r.ok()) return d;
    if (status > 3 || count > kMaxAnswerRRsets) return malformed();
    a.status = static_cast<Answer3Status>(status);
    if (a.status != Answer3Status::found && count != 0) return malformed();
    const auto sets = read_rrsets(r, count, a.rrsets);
    if (sets == DecodeStatus::need_more) return d;
    if (sets == DecodeStatus::malformed) return malformed();
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
