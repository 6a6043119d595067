#include "pweb/dns/responder.hpp"

#include <array>
#include <string_view>

namespace pweb::dns {
namespace {

constexpr std::uint16_t kPointer = 0xC000;
constexpr std::size_t kOptSize = 11;  // root, type, class, ttl, rdlength
constexpr std::uint16_t kQnameOffset = kHeaderSize;
// SOA timers: refresh, retry, expire. The minimum is the node's TTL.
constexpr std::uint32_t kSoaRefresh = 3600;
constexpr std::uint32_t kSoaRetry = 600;
constexpr std::uint32_t kSoaExpire = 604800;
constexpr std::size_t kMaxNameServers = 10000;

inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Writes one label followed by a pointer to `suffix_at`; returns where it began.
std::size_t write_label_then_pointer(WireWriter& w, std::string_view label,
                                     std::size_t suffix_at) noexcept {
  const std::size_t at = w.pos();
  w.u8(static_cast<std::uint8_t>(label.size()));
  w.bytes(as_bytes(label));
  w.u16(static_cast<std::uint16_t>(kPointer | suffix_at));
  return at;
}

void write_record_head(WireWriter& w, std::size_t owner_at, std::uint16_t rtype,
                       std::uint32_t ttl) noexcept {
  w.u16(static_cast<std::uint16_t>(kPointer | owner_at));
  w.u16(rtype);
  w.u16(cls::IN);
  w.u32(ttl);
}

void write_address(WireWriter& w, std::size_t owner_at, std::uint32_t ttl,
                   std::span<const std::uint8_t> addr) noexcept {
  write_record_head(w, owner_at, addr.size() == 4 ? type::A : type::AAAA, ttl);
  w.u16(static_cast<std::uint16_t>(addr.size()));
  w.bytes(addr);
}

// "ns<N>" for N = index + 1, in a small stack buffer.
struct NsLabel {
  std::array<char, 8> text{};
  std::size_t size = 0;
  explicit NsLabel(std::size_t index) noexcept {
    std::array<char, 6> digits{};
    std::size_t n = index + 1, d = 0;
    do {
      digits[d++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0 && d < digits.size());
    text[size++] = 'n';
    text[size++] = 's';
    while (d > 0) text[size++] = digits[--d];
  }
  [[nodiscard]] std::string_view view() const noexcept { return {text.data(), size}; }
};

class Sections {
 public:
  Sections(WireWriter& w, const Authority& auth, std::size_t zone, std::size_t zone_at,
           std::uint32_t serial)
      : w_(w), auth_(auth), zone_(zone), zone_at_(zone_at), serial_(serial) {}

  // Name server i's name (an --ns name, or ns<N>); returns where it begins.
  std::size_t ns_name(std::size_t i) noexcept {
    const auto named = auth_.ns_name(zone_, i);
    if (!named) return write_label_then_pointer(w_, NsLabel(i).view(), zone_at_);
    const std::size_t at = w_.pos();
    w_.bytes(named->wire);
    if (named->in_zone) w_.u16(static_cast<std::uint16_t>(kPointer | zone_at_));
    return at;
  }

  void soa() noexcept {
    write_record_head(w_, zone_at_, type::SOA, auth_.ttl());
    const std::size_t rdlen_at = w_.pos();
    w_.u16(0);
    ns_name(0);  // MNAME: the first name server
    if (const Name& contact = auth_.config().soa_contact; contact.size > 0) {
      w_.bytes(contact.bytes());
    } else {
      write_label_then_pointer(w_, "hostmaster", zone_at_);
    }
    w_.u32(serial_);
    w_.u32(kSoaRefresh);
    w_.u32(kSoaRetry);
    w_.u32(kSoaExpire);
    w_.u32(auth_.ttl());
    w_.patch_u16(rdlen_at, static_cast<std::uint16_t>(w_.pos() - rdlen_at - 2));
  }

  // NS records in the answer; remembers where each target name sits for glue.
  std::uint16_t ns(std::array<std::uint16_t, kMaxNameServers>& name_at) noexcept {
    const auto& servers = auth_.name_servers();
    for (std::size_t i = 0; i < servers.size(); ++i) {
      write_record_head(w_, zone_at_, type::NS, auth_.ttl());
      const std::size_t rdlen_at = w_.pos();
      w_.u16(0);
      name_at[i] = static_cast<std::uint16_t>(ns_name(i));
      w_.patch_u16(rdlen_at, static_cast<std::uint16_t>(w_.pos() - rdlen_at - 2));
    }
    return static_cast<std::uint16_t>(servers.size());
  }

  // Glue is optional (RFC 2181 §9): as many addresses as fit, never TC for
  // the rest. Only names inside the zone get glue.
  std::uint16_t glue(const std::array<std::uint16_t, kMaxNameServers>& name_at) noexcept {
    std::uint16_t count = 0;
    const auto& servers = auth_.name_servers();
    for (std::size_t i = 0; i < servers.size(); ++i) {
      if (!auth_.has_glue(zone_, i)) continue;
      for (const bool v4 : {true, false}) {
        const std::size_t before = w_.pos();
        const std::uint16_t n = addresses(name_at[i], servers[i], v4, !v4);
        if (!w_.ok()) {
          w_.rollback(before);
          return count;
        }
        count = static_cast<std::uint16_t>(count + n);
      }
    }
    return count;
  }

  std::uint16_t addresses(std::size_t owner_at, const NameServerAddress& a, bool want4,
                          bool want6) noexcept {
    std::uint16_t n = 0;
    if (want4 && a.v4) {
      write_address(w_, owner_at, auth_.ttl(), *a.v4);
      ++n;
    }
    if (want6 && a.v6) {
      write_address(w_, owner_at, auth_.ttl(), *a.v6);
      ++n;
    }
    return n;
  }

  std::uint16_t rrset(const RRset& set) noexcept {
    for (const auto& rdata : set.rdata) {
      write_record_head(w_, kQnameOffset, set.type, set.ttl);
      w_.u16(static_cast<std::uint16_t>(rdata.size()));
      w_.bytes(as_bytes(rdata));
    }
    return static_cast<std::uint16_t>(set.rdata.size());
  }

  std::uint16_t device(const registrar::Snapshot::Entry& e, std::uint32_t ttl, bool want4,
                       bool want6) noexcept {
    std::uint16_t n = 0;
    if (want4 && e.has_v4()) {
      write_address(w_, kQnameOffset, ttl, e.v4);
      ++n;
    }
    if (want6 && e.has_v6()) {
      write_address(w_, kQnameOffset, ttl, e.v6);
      ++n;
    }
    return n;
  }

 private:
  WireWriter& w_;
  const Authority& auth_;
  std::size_t zone_;
  std::size_t zone_at_;
  std::uint32_t serial_;
};

struct Counts {
  std::uint16_t an = 0, ns = 0, ar = 0;
};

Counts write_sections(WireWriter& w, const Query& q, const LookupResult& r, const Authority& auth,
                      std::uint32_t serial) noexcept {
  const std::size_t zone_at = kQnameOffset + q.qname.offsets[r.zone_label];
  Sections s(w, auth, r.zone, zone_at, serial);
  Counts c;
  if (r.outcome == Outcome::nodata || r.outcome == Outcome::nxdomain) {
    s.soa();  // negative answers carry the SOA for their TTL (RFC 2308)
    c.ns = 1;
    return c;
  }
  if (r.outcome != Outcome::answer) return c;
  const bool any = q.qtype == type::ANY;
  const bool want4 = any || q.qtype == type::A;
  const bool want6 = any || q.qtype == type::AAAA;
  switch (r.node) {
    case Node::apex: {
      if (any || q.qtype == type::SOA) {
        s.soa();
        ++c.an;
      }
      if (any || q.qtype == type::NS) {
        static thread_local std::array<std::uint16_t, kMaxNameServers> name_at{};
        c.an = static_cast<std::uint16_t>(c.an + s.ns(name_at));
        if (w.ok()) c.ar = s.glue(name_at);
      }
      break;
    }
    case Node::name_server:
      c.an = s.addresses(kQnameOffset, auth.name_servers()[r.name_server], want4, want6);
      break;
    case Node::device:
      if (r.rrset) {
        c.an = s.rrset(*r.rrset);
      } else if (r.device) {
        c.an = s.device(*r.device, r.ttl, want4, want6);
      }
      break;
    case Node::none:
    case Node::interior:
      break;
  }
  return c;
}

Rcode rcode_of(ParseStatus status, const Query& q, const LookupResult& r) noexcept {
  switch (status) {
    case ParseStatus::formerr:
      return Rcode::formerr;
    case ParseStatus::notimp:
      return Rcode::notimp;
    case ParseStatus::drop:
    case ParseStatus::ok:
      break;
  }
  if (q.edns.present && q.edns.version > 0) return Rcode::badvers;
  switch (r.outcome) {
    case Outcome::answer:
    case Outcome::nodata:
      return Rcode::noerror;
    case Outcome::nxdomain:
      return Rcode::nxdomain;
    case Outcome::refused:
      return Rcode::refused;
    case Outcome::formerr:
      return Rcode::formerr;
    case Outcome::servfail:
    case Outcome::remote:  // never resolved: nothing to say but that
      return Rcode::servfail;
  }
  return Rcode::servfail;
}

}  // namespace

Response write_response(const Query& q, ParseStatus status, const LookupResult& result,
                        const Authority& authority, std::uint32_t serial,
                        std::span<std::uint8_t> out, std::size_t max_size,
                        const ResponseOptions& options) noexcept {
  Response resp;
  if (status == ParseStatus::drop) return resp;
  resp.rcode = rcode_of(status, q, result);
  const auto rcode = static_cast<std::uint16_t>(resp.rcode);
  const bool answered = status == ParseStatus::ok && resp.rcode != Rcode::badvers;
  // A QCLASS ANY question may have answers in classes not served here, so the
  // answer cannot speak for all of them: no AA (as BIND answers it).
  const bool authoritative =
      answered && q.qclass != cls::ANY &&
      (result.outcome == Outcome::answer || result.outcome == Outcome::nodata ||
       result.outcome == Outcome::nxdomain);

  WireWriter w(out);
  // EDE only for EDNS clients (RFC 8914 options live in the OPT RR).
  const bool ede = q.edns.present && result.ede.present;
  const std::string_view ede_text = result.ede.text.substr(0, kMaxEdeText);
  const std::size_t ede_size = ede ? 4 + 2 + ede_text.size() : 0;
  const std::size_t cookie_size = options.cookie.empty() ? 0 : 4 + options.cookie.size();
  const bool nsid = q.edns.nsid_requested && !options.nsid.empty();
  const std::size_t nsid_size = nsid ? 4 + options.nsid.size() : 0;
  const std::size_t options_size = ede_size + cookie_size + nsid_size;
  const std::size_t opt_room = q.edns.present ? kOptSize + options_size : 0;
  w.set_limit(max_size > opt_room ? max_size - opt_room : 0);

  // RD and CD are defined for QUERY only: an opcode we do not know gets its
  // opcode back and no flag of it (as ISC genreport's "opcodeflg" expects).
  const std::uint16_t echoed =
      status == ParseStatus::notimp ? 0xF << 11 : 0xF << 11 | flag::RD | flag::CD;
  std::uint16_t flags =
      static_cast<std::uint16_t>(flag::QR | (q.header.flags & echoed) | (rcode & 0xF));
  if (authoritative) flags |= flag::AA;
  w.u16(q.header.id);
  w.u16(flags);
  w.u16(q.has_question ? 1 : 0);
  w.u16(0);
  w.u16(0);
  w.u16(q.edns.present ? 1 : 0);
  if (q.has_question) {
    w.bytes(q.qname.bytes());
    w.u16(q.qtype);
    w.u16(q.qclass);
  }
  if (!w.ok()) return resp;  // cannot happen for sane limits: a header and question fit in 512
  const std::size_t question_end = w.pos();

  if (answered) {
    const Counts c = write_sections(w, q, result, authority, serial);
    if (w.ok()) {
      w.patch_u16(6, c.an);
      w.patch_u16(8, c.ns);
      w.patch_u16(10, static_cast<std::uint16_t>(c.ar + (q.edns.present ? 1 : 0)));
    } else {
      // Did not fit: nothing partial, TC set, the client retries over TCP.
      w.rollback(question_end);
      w.patch_u16(2, static_cast<std::uint16_t>(flags | flag::TC));
      resp.truncated = true;
    }
  }

  if (q.edns.present) {
    w.set_limit(max_size);
    w.u8(0);
    w.u16(type::OPT);
    w.u16(kServerUdpPayload);
    const std::uint32_t ext_rcode = rcode >> 4;
    w.u32((ext_rcode << 24) | (q.edns.do_bit() ? kEdnsDoBit : 0u));  // version 0
    w.u16(static_cast<std::uint16_t>(options_size));
    if (cookie_size != 0) {
      w.u16(kEdnsOptionCookie);
      w.u16(static_cast<std::uint16_t>(options.cookie.size()));
      w.bytes(options.cookie);
    }
    if (nsid) {
      w.u16(kEdnsOptionNsid);
      w.u16(static_cast<std::uint16_t>(options.nsid.size()));
      w.bytes(as_bytes(options.nsid));
    }
    if (ede) {
      w.u16(kEdnsOptionEde);
      w.u16(static_cast<std::uint16_t>(2 + ede_text.size()));
      w.u16(result.ede.info_code);
      w.bytes(as_bytes(ede_text));
    }
  }
  if (!w.ok()) return Response{};
  resp.size = w.pos();
  return resp;
}

}  // namespace pweb::dns
