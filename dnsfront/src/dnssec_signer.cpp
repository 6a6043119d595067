#include "pweb/dns/dnssec_signer.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pweb/dns/rdata.hpp"

namespace pweb::dns {
namespace {

constexpr std::uint32_t kHour = 3600;
constexpr std::uint16_t kPointer = 0xC000;
// Per thread; cleared when full. An entry is about 130 bytes: 256Ki of them
// (~34 MB) hold every answer of a store of 100,000 devices.
constexpr std::size_t kMaxCachedSignatures = 256 * 1024;

std::uint8_t lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

void lower_name(Name& n) noexcept {
  for (std::size_t i = 0; i < n.size; ++i) n.wire[i] = lower(n.wire[i]);
  // Length bytes are below 64 and unchanged by lower().
}

// Reads a (possibly compressed) name at `at` of `message`, lowercase; returns
// the position after it in the rdata, or 0 on failure.
std::size_t read_name_at(std::span<const std::uint8_t> message, std::size_t at,
                         Name& out) noexcept {
  WireReader r(message);
  r.seek(at);
  if (!read_name(r, out)) return 0;
  lower_name(out);
  return r.pos();
}

void append(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> b) {
  out.insert(out.end(), b.begin(), b.end());
}
void append16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void append32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  append16(out, static_cast<std::uint16_t>(v >> 16));
  append16(out, static_cast<std::uint16_t>(v));
}

// One record of the response, its rdata canonical, in the thread's arena.
struct Rr {
  Name owner;  // lowercase
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_at = 0;
  std::size_t rdata_len = 0;
};

struct Scratch {
  std::vector<std::uint8_t> arena;
  std::vector<Rr> sections[3];
  std::vector<std::size_t> order;
  std::vector<std::uint8_t> to_sign;
};

// Keyed by the SHA-256 of the signed data (which holds the RRSIG fields, so the
// validity window and key too): that digest is what ECDSA signs anyway.
struct DigestHash {
  std::size_t operator()(const Sha256& d) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};
struct SignatureCache {
  std::uint32_t inception = 0;
  std::unordered_map<Sha256, EcdsaSignature, DigestHash> map;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}
SignatureCache& cache() {
  static thread_local SignatureCache c;
  return c;
}

std::span<const std::uint8_t> rdata_of(const Scratch& s, const Rr& rr) noexcept {
  return {s.arena.data() + rr.rdata_at, rr.rdata_len};
}

bool same_rrset(const Rr& a, const Rr& b) noexcept {
  return a.type == b.type && a.owner.size == b.owner.size &&
         std::memcmp(a.owner.wire.data(), b.owner.wire.data(), a.owner.size) == 0;
}

// The types that exist at the query name, for a NODATA answer's NSEC.
void types_at(const SignInput& in, std::vector<std::uint16_t>& types) {
  const Query& q = *in.query;
  const LookupResult& r = *in.result;
  types.push_back(type::RRSIG);
  types.push_back(type::NSEC);
  switch (r.node) {
    case Node::apex:
      for (auto t : {type::SOA, type::NS, type::DNSKEY, type::CDS, type::CDNSKEY}) {
        types.push_back(t);
      }
      return;
    case Node::name_server: {
      const auto& a = in.authority->name_servers()[r.name_server];
      if (a.v4) types.push_back(type::A);
      if (a.v6) types.push_back(type::AAAA);
      return;
    }
    case Node::none:
    case Node::interior:
      return;
    case Node::device:
      break;
  }
  if (!r.device) return;
  const std::size_t depth = r.zone_label;
  if (depth == 3) {
    if (r.device->has_v4()) types.push_back(type::A);
    if (r.device->has_v6()) types.push_back(type::AAAA);
  }
  if (in.remote) {
    // Another agent's device: what else lives there is not known here. Naming
    // every record type but the one asked for keeps resolvers that reuse NSEC
    // (RFC 8198) from denying types that may exist.
    for (std::uint16_t t :
         {type::TXT, type::MX, type::SRV, type::CAA, type::TLSA, type::SVCB, type::HTTPS}) {
      if (t != q.qtype) types.push_back(t);
    }
    if (depth > 3) {
      for (std::uint16_t t : {type::A, type::AAAA}) {
        if (t != q.qtype) types.push_back(t);
      }
    }
    return;
  }
  const registrar::DeviceZone* z = r.device->zone();
  if (!z) return;
  // The subname: the labels below the device, lowercase and dotted.
  std::string sub;
  for (std::size_t i = 0; i + 3 < depth; ++i) {
    if (i > 0) sub.push_back('.');
    for (auto c : q.qname.label(i)) sub.push_back(static_cast<char>(lower(c)));
  }
  auto collect = [&](std::string_view name) {
    bool found = false;
    for (const auto& set : z->rrsets) {
      if (set.subname == name) {
        types.push_back(set.type);
        found = true;
      }
    }
    return found;
  };
  if (collect(sub) || depth == 3) return;
  // No records of its own: a wildcard may have answered (RFC 4592), whose types these are.
  std::string_view enc = sub;
  while (!enc.empty()) {
    const auto dot = enc.find('.');
    enc = dot == std::string_view::npos ? std::string_view() : enc.substr(dot + 1);
    std::string wild = enc.empty() ? std::string("*") : "*." + std::string(enc);
    if (collect(wild)) return;
  }
}

class Writer {
 public:
  Writer(const SignInput& in, Scratch& s, WireWriter& w, Validity v)
      : in_(in), s_(s), w_(w), v_(v) {}

  // Owner names: a pointer where the name is a suffix of the question's, else in full.
  void owner(const Name& n) noexcept {
    const Name& qn = in_.query->qname;
    for (std::size_t i = 0; i < qn.labels; ++i) {
      if (wire_equal_nocase(qn.suffix(i), n.bytes())) {
        w_.u16(static_cast<std::uint16_t>(kPointer | (kHeaderSize + qn.offsets[i])));
        return;
      }
    }
    w_.bytes(n.bytes());
  }

  // Writes the records [begin, end) of `rrs` (one RRset) and, when signing, its
  // RRSIG; returns the number of records written.
  std::uint16_t rrset(const std::vector<Rr>& rrs, std::size_t begin, std::size_t end) {
    auto& order = s_.order;
    order.clear();
    for (std::size_t i = begin; i < end; ++i) order.push_back(i);
    // Canonical RR order (RFC 4034 §6.3): by rdata as left-justified octets.
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const auto ra = rdata_of(s_, rrs[a]);
      const auto rb = rdata_of(s_, rrs[b]);
      return std::lexicographical_compare(ra.begin(), ra.end(), rb.begin(), rb.end());
    });
    // Duplicates are one record (RFC 2181 §5).
    order.erase(std::unique(order.begin(), order.end(),
                            [&](std::size_t a, std::size_t b) {
                              const auto ra = rdata_of(s_, rrs[a]);
                              const auto rb = rdata_of(s_, rrs[b]);
                              return std::ranges::equal(ra, rb);
                            }),
                order.end());
    const Rr& first = rrs[begin];
    std::uint32_t ttl = first.ttl;
    for (auto i : order) ttl = std::min(ttl, rrs[i].ttl);  // RFC 2181 §5.2: one TTL
    for (auto i : order) {
      owner(first.owner);
      w_.u16(first.type);
      w_.u16(cls::IN);
      w_.u32(ttl);
      const auto rd = rdata_of(s_, rrs[i]);
      w_.u16(static_cast<std::uint16_t>(rd.size()));
      w_.bytes(rd);
    }
    auto n = static_cast<std::uint16_t>(order.size());
    if (in_.sign) {
      if (!rrsig(rrs, first, ttl)) failed_ = true;
      ++n;
    }
    return n;
  }

  [[nodiscard]] bool failed() const noexcept { return failed_; }

 private:
  bool rrsig(const std::vector<Rr>& rrs, const Rr& first, std::uint32_t ttl) {
    const Name& zone = zone_name();
    std::uint8_t labels = first.owner.labels;
    if (labels > 0 && first.owner.label(0).size() == 1 && first.owner.label(0)[0] == '*') {
      --labels;  // RFC 4034 §3.1.3: the wildcard label is not counted
    }
    auto& data = s_.to_sign;
    data.clear();
    append16(data, first.type);
    data.push_back(kDnssecAlgorithm);
    data.push_back(labels);
    append32(data, ttl);
    append32(data, v_.expiration);
    append32(data, v_.inception);
    append16(data, in_.key->key_tag());
    append(data, zone.bytes());
    const std::size_t rdata_head = data.size();
    for (auto i : s_.order) {
      append(data, first.owner.bytes());
      append16(data, first.type);
      append16(data, cls::IN);
      append32(data, ttl);
      const auto rd = rdata_of(s_, rrs[i]);
      append16(data, static_cast<std::uint16_t>(rd.size()));
      append(data, rd);
    }
    EcdsaSignature sig{};
    if (!cached_signature(data, sig)) return false;

    owner(first.owner);
    w_.u16(type::RRSIG);
    w_.u16(cls::IN);
    w_.u32(ttl);
    w_.u16(static_cast<std::uint16_t>(rdata_head + sig.size()));
    w_.bytes(std::span(data.data(), rdata_head));
    w_.bytes(sig);
    return true;
  }

  bool cached_signature(const std::vector<std::uint8_t>& data, EcdsaSignature& sig) {
    auto& c = cache();
    if (c.inception != v_.inception || c.map.size() >= kMaxCachedSignatures) {
      c.map.clear();  // a new window: the old signatures are no longer made
      c.inception = v_.inception;
    }
    Sha256 digest{};
    if (!sha256(data, digest)) return false;
    if (auto it = c.map.find(digest); it != c.map.end()) {
      sig = it->second;
      return true;
    }
    if (!in_.key->sign_digest(digest, sig)) return false;
    c.map.emplace(digest, sig);
    return true;
  }

  const Name& zone_name() noexcept {
    if (zone_.size == 0) {
      const Name& qn = in_.query->qname;
      const auto suffix = qn.suffix(in_.result->zone_label);
      WireReader r(suffix);
      read_name(r, zone_);
      lower_name(zone_);
    }
    return zone_;
  }

  const SignInput& in_;
  Scratch& s_;
  WireWriter& w_;
  Validity v_;
  Name zone_{};
  bool failed_ = false;
};

// Writes a section's RRsets (consecutive records of one owner and type); returns the count.
std::uint16_t write_section(Writer& wr, const std::vector<Rr>& rrs) {
  std::uint16_t n = 0;
  std::size_t i = 0;
  while (i < rrs.size()) {
    std::size_t j = i + 1;
    while (j < rrs.size() && same_rrset(rrs[i], rrs[j])) ++j;
    n = static_cast<std::uint16_t>(n + wr.rrset(rrs, i, j));
    i = j;
  }
  return n;
}

void add_rr(Scratch& s, std::vector<Rr>& to, const Name& owner, std::uint16_t rtype,
            std::uint32_t ttl, std::span<const std::uint8_t> rdata) {
  Rr rr;
  rr.owner = owner;
  lower_name(rr.owner);
  rr.type = rtype;
  rr.ttl = ttl;
  rr.rdata_at = s.arena.size();
  rr.rdata_len = rdata.size();
  append(s.arena, rdata);
  to.push_back(rr);
}

bool is_apex_key_type(std::uint16_t t) noexcept {
  return t == type::DNSKEY || t == type::CDS || t == type::CDNSKEY;
}

}  // namespace

Validity validity_at(std::uint32_t now) noexcept {
  Validity v;
  v.inception = (now > kHour ? now - kHour : 0) / kHour * kHour;
  v.expiration = v.inception + kSignatureLifetime;
  return v;
}

bool canonical_rdata(std::uint16_t type, std::span<const std::uint8_t> message, std::size_t at,
                     std::size_t len, std::vector<std::uint8_t>& out) noexcept {
  if (at + len > message.size()) return false;
  const std::size_t end = at + len;
  // Fixed bytes before the name(s), and how many names (RFC 4034 §6.2 list, as far
  // as the types this server writes go).
  std::size_t fixed_before = 0;
  int names = 0;
  std::size_t fixed_after = 0;
  switch (type) {
    case type::NS:
    case type::CNAME:
      names = 1;
      break;
    case type::SOA:
      names = 2;
      fixed_after = 20;
      break;
    case type::MX:
      fixed_before = 2;
      names = 1;
      break;
    case type::SRV:
      fixed_before = 6;
      names = 1;
      break;
    default:
      out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(at),
                 message.begin() + static_cast<std::ptrdiff_t>(end));
      return true;
  }
  if (fixed_before > len) return false;
  out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(at),
             message.begin() + static_cast<std::ptrdiff_t>(at + fixed_before));
  std::size_t pos = at + fixed_before;
  for (int i = 0; i < names; ++i) {
    Name n;
    // Compression pointers may point anywhere before; the name must start inside the rdata.
    if (pos >= end) return false;
    const std::size_t next = read_name_at(message.first(end), pos, n);
    if (next == 0) return false;
    out.insert(out.end(), n.wire.begin(), n.wire.begin() + n.size);
    pos = next;
  }
  if (end - pos != fixed_after) return false;
  out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(pos),
             message.begin() + static_cast<std::ptrdiff_t>(end));
  return true;
}

void append_type_bitmap(std::span<const std::uint16_t> types, std::vector<std::uint8_t>& out) {
  std::array<std::uint8_t, 32> bits{};
  int window = -1;
  std::size_t used = 0;
  auto flush = [&] {
    if (window < 0) return;
    out.push_back(static_cast<std::uint8_t>(window));
    out.push_back(static_cast<std::uint8_t>(used));
    out.insert(out.end(), bits.begin(), bits.begin() + static_cast<std::ptrdiff_t>(used));
  };
  std::vector<std::uint16_t> sorted(types.begin(), types.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::uint16_t t : sorted) {
    const int w = t >> 8;
    if (w != window) {
      flush();
      window = w;
      bits.fill(0);
      used = 0;
    }
    const std::size_t byte = (t & 0xFF) / 8;
    bits[byte] = static_cast<std::uint8_t>(bits[byte] | (0x80 >> (t & 7)));
    used = std::max(used, byte + 1);
  }
  flush();
}

SignedResponse sign_response(const SignInput& in, std::span<const std::uint8_t> plain,
                             std::span<std::uint8_t> out, std::size_t max_size) noexcept {
  SignedResponse res;
  try {
    const Query& q = *in.query;
    const LookupResult& r = *in.result;
    Scratch& s = scratch();
    s.arena.clear();
    for (auto& sec : s.sections) sec.clear();

    WireReader rd(plain);
    Header h = read_header(rd);
    Name ignored;
    for (std::uint16_t i = 0; i < h.qdcount; ++i) {
      read_name(rd, ignored);
      rd.skip(4);
    }
    if (!rd.ok()) return res;
    const std::size_t question_end = rd.pos();
    std::span<const std::uint8_t> opt;
    const std::uint16_t counts[3] = {h.ancount, h.nscount, h.arcount};
    for (int sec = 0; sec < 3; ++sec) {
      for (std::uint16_t i = 0; i < counts[sec]; ++i) {
        const std::size_t start = rd.pos();
        Name owner;
        if (!read_name(rd, owner)) return res;
        const std::uint16_t rtype = rd.u16();
        rd.u16();  // class: IN
        const std::uint32_t ttl = rd.u32();
        const std::uint16_t rdlen = rd.u16();
        const std::size_t rdata_at = rd.pos();
        rd.skip(rdlen);
        if (!rd.ok()) return res;
        if (rtype == type::OPT) {
          opt = plain.subspan(start, rd.pos() - start);
          continue;
        }
        Rr rr;
        rr.owner = owner;
        lower_name(rr.owner);
        rr.type = rtype;
        rr.ttl = ttl;
        rr.rdata_at = s.arena.size();
        if (!canonical_rdata(rtype, plain, rdata_at, rdlen, s.arena)) return res;
        rr.rdata_len = s.arena.size() - rr.rdata_at;
        s.sections[sec].push_back(rr);
      }
    }

    auto& answer = s.sections[0];
    auto& authority = s.sections[1];
    std::uint16_t rcode = h.flags & 0xF;
    const Name& qname = q.qname;
    if (r.node == Node::apex && r.outcome == Outcome::nodata && is_apex_key_type(q.qtype)) {
      authority.clear();
      // The signing key, then keys published ahead of a rollover (they sign nothing).
      const auto add_key = [&](const DnssecKey& key) {
        if (q.qtype == type::CDS) {
          add_rr(s, answer, qname, type::CDS, kDnskeyTtl, key.ds_rdata(qname));
        } else {
          add_rr(s, answer, qname, q.qtype, kDnskeyTtl, key.dnskey_rdata());
        }
      };
      add_key(*in.key);
      for (const auto& k : in.authority->config().dnssec_published) {
        if (k) add_key(*k);
      }
    } else if (in.sign && (r.outcome == Outcome::nxdomain || r.outcome == Outcome::nodata)) {
      // RFC 9824: one NSEC at the name, next name "\000.<qname>"; NXDOMAIN is
      // NOERROR with the NXNAME pseudo-type instead of the types present.
      std::uint32_t nsec_ttl = in.authority->ttl();
      for (const auto& rr : authority) {
        if (rr.type == type::SOA) nsec_ttl = rr.ttl;  // min(SOA TTL, SOA minimum): both the TTL
      }
      // No room for "\000." before a name of 254-255 bytes: no denial at all
      // (validators fail it) rather than an NSEC whose next name is its owner,
      // which would deny every name of the zone to resolvers reusing NSEC.
      if (std::size_t{qname.size} + 2 > kMaxNameSize) return res;
      std::vector<std::uint8_t> rdata{1, 0};
      for (std::size_t i = 0; i < qname.size; ++i) rdata.push_back(lower(qname.wire[i]));
      std::vector<std::uint16_t> types;
      if (r.outcome == Outcome::nxdomain) {
        types = {type::RRSIG, type::NSEC, type::NXNAME};
        rcode = 0;
      } else {
        types_at(in, types);
        std::sort(types.begin(), types.end());
        types.erase(std::unique(types.begin(), types.end()), types.end());
        // Never claim what was just denied (RRSIG and NSEC exist with this very NSEC).
        if (q.qtype != type::RRSIG && q.qtype != type::NSEC) std::erase(types, q.qtype);
      }
      append_type_bitmap(types, rdata);
      add_rr(s, authority, qname, type::NSEC, nsec_ttl, rdata);
    }

    WireWriter w(out);
    w.set_limit(max_size > opt.size() ? max_size - opt.size() : 0);
    const auto flags = static_cast<std::uint16_t>((h.flags & ~0xF) | rcode);
    w.bytes(plain.first(question_end));
    w.patch_u16(2, flags);
    if (!w.ok()) return res;
    Writer wr(in, s, w, validity_at(in.now));
    std::uint16_t an = write_section(wr, answer);
    std::uint16_t ns = write_section(wr, authority);
    if (wr.failed()) return res;
    std::uint16_t ar = 0;
    if (!w.ok()) {
      w.rollback(question_end);
      an = ns = 0;
      w.patch_u16(2, static_cast<std::uint16_t>(flags | flag::TC));
      res.truncated = true;
    } else {
      // Additional RRsets one by one, each whole with its RRSIG or not at all.
      const auto& extra = s.sections[2];
      std::size_t i = 0;
      while (i < extra.size()) {
        std::size_t j = i + 1;
        while (j < extra.size() && same_rrset(extra[i], extra[j])) ++j;
        const std::size_t before = w.pos();
        const std::uint16_t n = wr.rrset(extra, i, j);
        if (wr.failed()) return res;
        if (!w.ok()) {
          w.rollback(before);
          break;
        }
        ar = static_cast<std::uint16_t>(ar + n);
        i = j;
      }
    }
    w.set_limit(max_size);
    w.bytes(opt);
    w.patch_u16(6, an);
    w.patch_u16(8, ns);
    w.patch_u16(10, static_cast<std::uint16_t>(ar + (opt.empty() ? 0 : 1)));
    if (!w.ok()) return res;
    res.size = w.pos();
    res.rcode = rcode;
    return res;
  } catch (...) {
    // Allocation failure: no answer rather than a wrong one.
    return SignedResponse{};
  }
}

}  // namespace pweb::dns
