#include "pweb/dns/update.hpp"

#include <algorithm>

namespace pweb::dns {
namespace {

// Smallest RR on the wire: root owner (1) + type, class, TTL, RDLENGTH (10).
constexpr std::size_t kMinRecordSize = 11;

bool read_records(WireReader& r, std::uint16_t count, std::vector<UpdateRecord>& out) {
  // Bounded by what the packet can hold, so a hostile count cannot make us allocate.
  out.reserve(std::min<std::size_t>(count, r.remaining() / kMinRecordSize));
  for (std::uint16_t i = 0; i < count; ++i) {
    UpdateRecord rr;
    if (!read_name(r, rr.owner)) return false;
    rr.type = r.u16();
    rr.cls = r.u16();
    rr.ttl = r.u32();
    rr.rdlength = r.u16();
    rr.rdata_offset = r.pos();
    r.skip(rr.rdlength);
    if (!r.ok()) return false;
    out.push_back(rr);
  }
  return true;
}

bool read_additional(WireReader& r, std::uint16_t count, UpdateMessage& out) noexcept {
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::size_t start = r.pos();
    Name owner;
    if (!read_name(r, owner)) return false;
    const std::uint16_t rtype = r.u16();
    if (rtype == type::TSIG) {
      // RFC 8945 §5.1: only as the last record; so also at most one.
      if (i + 1 != count) return false;
      r.seek(start);
      if (!read_tsig_record(r, out.tsig)) return false;
      out.has_tsig = true;
      continue;
    }
    r.skip(6);  // class, TTL
    r.skip(r.u16());
    if (!r.ok()) return false;
    if (rtype == type::OPT) {
      if (out.has_edns || owner.size != 1) return false;  // RFC 6891: one, owned by root
      out.has_edns = true;
    }
    // Anything else in the additional section is not used by an update (§3.8).
  }
  return true;
}

bool in_zone(const Name& owner, const Name& zone) noexcept {
  if (owner.labels < zone.labels) return false;
  if (zone.labels == 0) return true;
  return wire_equal_nocase(owner.suffix(owner.labels - zone.labels), zone.bytes());
}

}  // namespace

bool is_meta_type(std::uint16_t t) noexcept {
  // RFC 6895 §3.1: 128-255 are QTYPEs and meta-TYPEs (TKEY, TSIG, IXFR, AXFR, MAILB,
  // MAILA, ANY among them); OPT is a meta-TYPE below that range.
  return t == type::OPT || (t >= 128 && t <= 255);
}

UpdateParse parse_update(std::span<const std::uint8_t> packet, UpdateMessage& out) {
  out.prerequisites.clear();
  out.updates.clear();
  out.has_zone = false;
  out.has_edns = false;
  out.has_tsig = false;
  if (packet.size() < kHeaderSize) return UpdateParse::drop;
  WireReader r(packet);
  out.header = read_header(r);
  if (out.header.qr()) return UpdateParse::drop;
  if (out.header.opcode() != opcode::UPDATE) return UpdateParse::notimp;
  // §3.1.1: exactly one zone, of type SOA.
  if (out.header.qdcount != 1) return UpdateParse::formerr;
  if (!read_name(r, out.zone)) return UpdateParse::formerr;
  out.zone_type = r.u16();
  out.zone_class = r.u16();
  if (!r.ok()) return UpdateParse::formerr;
  out.has_zone = true;
  if (out.zone_type != type::SOA) return UpdateParse::formerr;
  if (!read_records(r, out.header.ancount, out.prerequisites) ||
      !read_records(r, out.header.nscount, out.updates) ||
      !read_additional(r, out.header.arcount, out)) {
    out.has_tsig = false;
    return UpdateParse::formerr;
  }
  // Bytes after the last record would not be covered by the TSIG MAC.
  if (!r.ok() || r.remaining() != 0) {
    out.has_tsig = false;  // a FORMERR goes back unsigned
    return UpdateParse::formerr;
  }
  return UpdateParse::ok;
}

PrereqCheck classify_prerequisite(const UpdateMessage& msg, const UpdateRecord& rr) noexcept {
  PrereqCheck out;
  // §3.2.1, in its order: TTL, zone, then class.
  if (rr.ttl != 0) return {Rcode::formerr, {}};
  if (!in_zone(rr.owner, msg.zone)) return {Rcode::notzone, {}};
  if (rr.cls == cls::ANY || rr.cls == cls::NONE) {
    const bool any = rr.cls == cls::ANY;
    if (rr.rdlength != 0) return {Rcode::formerr, {}};
    if (rr.type == type::ANY) {
      out.kind = any ? PrereqKind::name_in_use : PrereqKind::name_not_in_use;
    } else if (is_meta_type(rr.type)) {
      return {Rcode::formerr, {}};
    } else {
      out.kind = any ? PrereqKind::rrset_exists : PrereqKind::rrset_absent;
    }
    return out;
  }
  if (rr.cls == msg.zone_class && !is_meta_type(rr.type)) {
    out.kind = PrereqKind::rrset_exists_value;
    return out;
  }
  return {Rcode::formerr, {}};
}

UpdateCheck classify_update(const UpdateMessage& msg, const UpdateRecord& rr) noexcept {
  UpdateCheck out;
  // §3.4.1.3, in its order: zone, then class with its TTL/RDLENGTH/type rules.
  if (!in_zone(rr.owner, msg.zone)) return {Rcode::notzone, {}};
  if (rr.cls == cls::ANY) {
    if (rr.ttl != 0 || rr.rdlength != 0) return {Rcode::formerr, {}};
    if (rr.type == type::ANY) {
      out.kind = UpdateKind::delete_name;
    } else if (is_meta_type(rr.type)) {
      return {Rcode::formerr, {}};
    } else {
      out.kind = UpdateKind::delete_rrset;
    }
    return out;
  }
  if (rr.cls == cls::NONE) {
    if (rr.ttl != 0 || is_meta_type(rr.type)) return {Rcode::formerr, {}};
    out.kind = UpdateKind::delete_rr;
    return out;
  }
  if (rr.cls == msg.zone_class && !is_meta_type(rr.type)) {
    out.kind = UpdateKind::add;
    return out;
  }
  return {Rcode::formerr, {}};
}

Rcode check_update_sections(const UpdateMessage& msg) noexcept {
  for (const auto& rr : msg.prerequisites) {
    const auto c = classify_prerequisite(msg, rr);
    if (c.rcode != Rcode::noerror) return c.rcode;
  }
  for (const auto& rr : msg.updates) {
    const auto c = classify_update(msg, rr);
    if (c.rcode != Rcode::noerror) return c.rcode;
  }
  return Rcode::noerror;
}

std::size_t write_update_response(std::span<const std::uint8_t> packet, const UpdateMessage& req,
                                  Rcode rcode, TsigResult tsig,
                                  std::span<const std::uint8_t> secret, std::uint64_t now,
                                  std::span<std::uint8_t> out) noexcept {
  const bool with_tsig = req.has_tsig && tsig != TsigResult::formerr;
  if (req.has_tsig && tsig == TsigResult::formerr) {
    rcode = Rcode::formerr;
  } else if (req.has_tsig && tsig != TsigResult::ok) {
    rcode = Rcode::notauth;  // RFC 8945 §5.2: TSIG errors say NOTAUTH in the header
  }
  WireWriter w(out);
  write_response_head(w, req.header.id,
                      static_cast<std::uint16_t>((std::uint16_t{opcode::UPDATE} << 11) |
                                                 (static_cast<std::uint16_t>(rcode) & 0xF)),
                      req.has_zone ? &req.zone : nullptr, req.zone_type, req.zone_class);
  if (!w.ok()) return 0;
  if (!with_tsig) return w.pos();

  if (!tsig_sign_response(w, packet, req.tsig, req.header.id, tsig, secret, now)) return 0;
  return w.pos();
}

}  // namespace pweb::dns
