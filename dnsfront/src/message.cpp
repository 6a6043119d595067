#include "pweb/dns/message.hpp"

#include <algorithm>

namespace pweb::dns {
namespace {

constexpr std::uint8_t lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

constexpr std::size_t kMaxPointerHops = 127;

// Skips one resource record of the answer or authority section.
void skip_record(WireReader& r) noexcept {
  Name ignored;
  if (!read_name(r, ignored)) {
    r.fail();
    return;
  }
  r.skip(8);  // type, class, ttl
  const std::uint16_t rdlen = r.u16();
  r.skip(rdlen);
}

// RFC 7873 §5.2.2: a client cookie of 8 bytes, optionally a server cookie of
// 8 to 32; any other length, or a second COOKIE option, is FORMERR.
bool read_cookie(std::span<const std::uint8_t> value, CookieOption& cookie) noexcept {
  if (cookie.present) return false;
  const std::size_t server = value.size() - std::min(value.size(), kClientCookieSize);
  if (value.size() < kClientCookieSize || (server != 0 && server < kMinServerCookie) ||
      server > kMaxServerCookie) {
    return false;
  }
  cookie.present = true;
  std::copy_n(value.begin(), kClientCookieSize, cookie.client.begin());
  std::copy_n(value.begin() + kClientCookieSize, server, cookie.server.begin());
  cookie.server_size = static_cast<std::uint8_t>(server);
  return true;
}

// Parses the additional section; the only record we use is OPT.
bool read_additional(WireReader& r, std::uint16_t count, Edns& edns, bool& tsig,
                     bool& bad_cookie) noexcept {
  for (std::uint16_t i = 0; i < count; ++i) {
    Name owner;
    if (!read_name(r, owner)) return false;
    const std::uint16_t rtype = r.u16();
    const std::uint16_t rclass = r.u16();
    const std::uint32_t ttl = r.u32();
    const std::uint16_t rdlen = r.u16();
    auto rdata = r.bytes(rdlen);
    if (!r.ok()) return false;
    if (rtype == type::TSIG) tsig = true;
    if (rtype != type::OPT) continue;
    // RFC 6891: one OPT, owned by the root.
    if (edns.present || owner.size != 1) return false;
    edns.present = true;
    edns.udp_size = rclass;
    edns.version = static_cast<std::uint8_t>(ttl >> 16);
    edns.flags = static_cast<std::uint16_t>(ttl);
    WireReader opts(rdata);
    while (opts.ok() && opts.remaining() > 0) {
      const std::uint16_t code = opts.u16();
      const std::uint16_t len = opts.u16();
      const auto value = opts.bytes(len);
      if (!opts.ok()) break;
      if (code == kEdnsOptionNsid) edns.nsid_requested = true;
      if (code == kEdnsOptionCookie && !read_cookie(value, edns.cookie)) {
        bad_cookie = true;
        return false;
      }
    }
    if (!opts.ok()) return false;  // an option running past RDLENGTH
  }
  return true;
}

}  // namespace

bool read_name(WireReader& r, Name& out) noexcept {
  const auto buf = r.buffer();
  std::size_t pos = r.pos();
  std::size_t resume = 0;  // where the reader continues after the first pointer
  std::size_t hops = 0;
  out.size = 0;
  out.labels = 0;
  if (!r.ok()) return false;
  for (;;) {
    if (pos >= buf.size()) break;
    const std::uint8_t len = buf[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= buf.size()) break;
      const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | buf[pos + 1];
      if (target >= pos || ++hops > kMaxPointerHops) break;
      if (resume == 0) resume = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xC0) != 0) break;  // obsolete extended label types
    if (len == 0) {
      if (std::size_t{out.size} + 1 > kMaxNameSize) break;
      out.wire[out.size++] = 0;
      r.seek(resume != 0 ? resume : pos + 1);
      return r.ok();
    }
    const std::size_t need = std::size_t{out.size} + 1 + len + 1;  // this label + the root
    if (need > kMaxNameSize || pos + 1 + len > buf.size()) break;
    out.offsets[out.labels++] = static_cast<std::uint8_t>(out.size);
    std::copy_n(buf.begin() + static_cast<std::ptrdiff_t>(pos), len + 1,
                out.wire.begin() + out.size);
    out.size = static_cast<std::uint16_t>(out.size + 1 + len);
    pos += 1 + std::size_t{len};
  }
  r.fail();
  return false;
}

bool name_from_text(std::string_view text, Name& out) noexcept {
  out.size = 0;
  out.labels = 0;
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  while (!text.empty()) {
    const auto dot = text.find('.');
    const auto label = text.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabelSize) return false;
    if (std::size_t{out.size} + 1 + label.size() + 1 > kMaxNameSize) return false;
    out.offsets[out.labels++] = static_cast<std::uint8_t>(out.size);
    out.wire[out.size++] = static_cast<std::uint8_t>(label.size());
    for (char c : label) out.wire[out.size++] = static_cast<std::uint8_t>(c);
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  out.wire[out.size++] = 0;
  return true;
}

std::string name_to_text(const Name& name) {
  std::string out;
  for (std::size_t i = 0; i < name.labels; ++i) {
    for (auto c : name.label(i)) out.push_back(static_cast<char>(c));
    out.push_back('.');
  }
  return out.empty() ? std::string(".") : out;
}

bool wire_equal_nocase(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Header read_header(WireReader& r) noexcept {
  Header h;
  h.id = r.u16();
  h.flags = r.u16();
  h.qdcount = r.u16();
  h.ancount = r.u16();
  h.nscount = r.u16();
  h.arcount = r.u16();
  return h;
}

void write_response_head(WireWriter& w, std::uint16_t id, std::uint16_t flags, const Name* question,
                         std::uint16_t qtype, std::uint16_t qclass) noexcept {
  w.u16(id);
  w.u16(static_cast<std::uint16_t>(flags | flag::QR));
  w.u16(question ? 1 : 0);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  if (question) {
    w.bytes(question->bytes());
    w.u16(qtype);
    w.u16(qclass);
  }
}

ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& out) noexcept {
  if (packet.size() < kHeaderSize) return ParseStatus::drop;
  WireReader r(packet);
  out.header = read_header(r);
  out.has_question = false;
  out.has_tsig = false;
  out.bad_cookie = false;
  out.edns = Edns{};
  if (out.header.qr()) return ParseStatus::drop;

  bool malformed = out.header.qdcount != 1;
  if (out.header.qdcount == 1) {
    if (read_name(r, out.qname)) {
      out.qtype = r.u16();
      out.qclass = r.u16();
      out.has_question = r.ok();
    }
    malformed = !out.has_question;
  }
  if (!malformed) {
    for (std::uint32_t i = 0; i < std::uint32_t{out.header.ancount} + out.header.nscount; ++i) {
      skip_record(r);
    }
    Edns edns;
    malformed =
        !r.ok() || !read_additional(r, out.header.arcount, edns, out.has_tsig, out.bad_cookie);
    if (!malformed) out.edns = edns;
  }
  if (out.header.opcode() != 0) return ParseStatus::notimp;
  return malformed ? ParseStatus::formerr : ParseStatus::ok;
}

}  // namespace pweb::dns
