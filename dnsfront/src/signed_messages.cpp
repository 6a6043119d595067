#include "pweb/dns/signed_messages.hpp"

#include <chrono>

#include "pweb/dns/query_processor.hpp"
#include "pweb/dns/rdata.hpp"
#include "pweb/dns/tsig.hpp"
#include "pweb/dns/update.hpp"
#include "pweb/registrar/records.hpp"

namespace pweb::dns {
namespace {

constexpr std::size_t kTsigRoom = 2 * kMaxNameSize + 64;  // a response's TSIG RR at most

std::uint64_t unix_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string lower_text(const Name& n) {
  std::string out;
  for (std::size_t i = 0; i < n.labels; ++i) {
    if (i > 0) out.push_back('.');
    for (auto c : n.label(i)) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    }
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Rcode rcode_of(const registrar::ChangeResult& r) {
  using S = registrar::ChangeStatus;
  using K = registrar::EditError::Kind;
  switch (r.status) {
    case S::created:
    case S::changed:
    case S::unchanged:
      return Rcode::noerror;
    case S::store_error:
      return Rcode::servfail;
    case S::removed:
    case S::not_found:
      return Rcode::refused;
    case S::refused:
      break;
  }
  if (!r.error) return Rcode::refused;
  switch (r.error->kind) {
    case K::invalid:
      return Rcode::formerr;
    case K::name_absent:
      return Rcode::nxdomain;
    case K::name_present:
      return Rcode::yxdomain;
    case K::rrset_absent:
      return Rcode::nxrrset;
    case K::rrset_present:
      return Rcode::yxrrset;
    case K::refused:
    case K::not_found:
      return Rcode::refused;
  }
  return Rcode::refused;
}

// Where an owner name lies relative to the key's device: its subname, or why not.
struct Placed {
  Rcode rcode = Rcode::noerror;
  std::string subname;
};
Placed place(const Name& owner, const Name& zone, const std::string& device) {
  Placed p;
  if (owner.labels < zone.labels ||
      !wire_equal_nocase(owner.suffix(owner.labels - zone.labels), zone.bytes())) {
    p.rcode = Rcode::notzone;
    return p;
  }
  std::string relative;
  for (std::size_t i = 0; i + zone.labels < owner.labels; ++i) {
    if (i > 0) relative.push_back('.');
    for (auto c : owner.label(i)) {
      relative.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    }
  }
  if (relative == device) return p;  // "@"
  if (relative.size() <= device.size() + 1 || !relative.ends_with(device) ||
      relative[relative.size() - device.size() - 1] != '.') {
    p.rcode = Rcode::refused;  // in the zone, not below this key's device
    return p;
  }
  const auto sub =
      registrar::parse_subname(relative.substr(0, relative.size() - device.size() - 1));
  if (!sub.subname) {
    p.rcode = Rcode::refused;
    return p;
  }
  p.subname = *sub.subname;
  return p;
}

// The wire classification of RFC 2136 §2.4/§2.5 in the registrar's terms.
registrar::RecordOp::Kind op_kind(PrereqKind k) {
  using K = registrar::RecordOp::Kind;
  switch (k) {
    case PrereqKind::rrset_exists:
      return K::rrset_exists;
    case PrereqKind::rrset_exists_value:
      return K::rrset_exists_value;
    case PrereqKind::rrset_absent:
      return K::rrset_absent;
    case PrereqKind::name_in_use:
      return K::name_in_use;
    case PrereqKind::name_not_in_use:
      return K::name_not_in_use;
  }
  return K::rrset_exists;
}

registrar::RecordOp::Kind op_kind(UpdateKind k) {
  using K = registrar::RecordOp::Kind;
  switch (k) {
    case UpdateKind::add:
      return K::add;
    case UpdateKind::delete_rrset:
      return K::delete_rrset;
    case UpdateKind::delete_name:
      return K::delete_name;
    case UpdateKind::delete_rr:
      return K::delete_record;
  }
  return K::add;
}

// The record's rdata in canonical form (names decompressed); false if malformed.
bool read_rdata(std::span<const std::uint8_t> message, const UpdateRecord& rr,
                registrar::RecordOp& op) {
  const auto r = rdata_from_wire(rr.type, message, rr.rdata_offset, rr.rdlength);
  if (!r.ok()) return false;
  op.rdata.assign(r.wire.begin(), r.wire.end());
  return true;
}

}  // namespace

SignedMessages::SignedMessages(const Authority& authority,
                               const registrar::SnapshotHolder& snapshots, KeyLookup keys,
                               ApplyChange apply, std::uint32_t min_ttl, std::uint32_t max_ttl)
    : authority_(authority),
      snapshots_(snapshots),
      keys_(std::move(keys)),
      apply_(std::move(apply)),
      min_ttl_(min_ttl),
      max_ttl_(max_ttl) {}

void SignedMessages::count(Rcode rcode) noexcept {
  const auto v = static_cast<std::size_t>(rcode);
  counts_[v < kUpdateRcodes.size() - 1 ? v : kUpdateRcodes.size() - 1].fetch_add(1);
}

std::array<std::uint64_t, kUpdateRcodes.size()> SignedMessages::update_counts() const noexcept {
  std::array<std::uint64_t, kUpdateRcodes.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load();
  return out;
}

void SignedMessages::handle(std::vector<std::uint8_t> message, Transport /*transport*/,
                            const std::string& client, std::size_t max_size, Done done) {
  try {
    if (message.size() >= kHeaderSize && ((message[2] >> 3) & 0xF) == opcode::UPDATE) {
      update(std::move(message), client, std::move(done));
    } else {
      query(message, client, max_size, done);
    }
  } catch (...) {
    // One catch per message: answered nothing rather than half (the client retries).
    if (done) done({});
  }
}

void SignedMessages::update(std::vector<std::uint8_t> message, const std::string& client,
                            Done done) {
  const std::uint64_t now = unix_now();
  auto msg = std::make_shared<UpdateMessage>();
  const auto parsed = parse_update(message, *msg);
  auto respond = [this, msg, now](const std::vector<std::uint8_t>& packet, Rcode rcode,
                                  TsigResult tsig, const std::string& secret, const Done& d) {
    std::vector<std::uint8_t> out(512 + kTsigRoom);
    const auto n = write_update_response(packet, *msg, rcode, tsig, bytes_of(secret), now, out);
    out.resize(n);
    count(n >= 4 ? static_cast<Rcode>(out[3] & 0xF) : rcode);
    d(std::move(out));
  };
  switch (parsed) {
    case UpdateParse::drop:
      return done({});
    case UpdateParse::formerr:
      return respond(message, Rcode::formerr, TsigResult::ok, {}, done);
    case UpdateParse::notimp:
      return respond(message, Rcode::notimp, TsigResult::ok, {}, done);
    case UpdateParse::ok:
      break;
  }
  // Only signed updates: an address is no proof of anything.
  if (!msg->has_tsig) return respond(message, Rcode::refused, TsigResult::ok, {}, done);
  const auto key = keys_(lower_text(msg->tsig.key_name), client);
  const std::string secret = key ? key->secret : std::string();
  const auto verified = tsig_verify(message, msg->tsig, bytes_of(secret), now);
  if (verified != TsigResult::ok) {
    tsig_failures_.fetch_add(1);
    return respond(message, Rcode::notauth, verified, secret, done);
  }
  auto answer = [&](Rcode rcode) { respond(message, rcode, TsigResult::ok, secret, done); };
  if (!key->refusal.empty()) return answer(Rcode::refused);
  // The zone must be one we serve (RFC 2136 §3.1.1).
  bool served = msg->zone_class == cls::IN;
  if (served) {
    const std::string zone = lower_text(msg->zone) + ".";
    served = false;
    for (const auto& z : authority_.config().zones) served = served || z == zone;
  }
  if (!served) return answer(Rcode::notauth);
  if (const auto rc = check_update_sections(*msg); rc != Rcode::noerror) return answer(rc);

  std::vector<registrar::RecordOp> ops;
  for (const auto& rr : msg->prerequisites) {
    const auto c = classify_prerequisite(*msg, rr);
    if (c.rcode != Rcode::noerror) return answer(c.rcode);
    const auto where = place(rr.owner, msg->zone, key->device);
    if (where.rcode != Rcode::noerror) return answer(where.rcode);
    registrar::RecordOp op{op_kind(c.kind), where.subname, rr.type, 0, {}};
    if (c.kind == PrereqKind::rrset_exists_value && !read_rdata(message, rr, op)) {
      return answer(Rcode::formerr);
    }
    ops.push_back(std::move(op));
  }
  for (const auto& rr : msg->updates) {
    const auto c = classify_update(*msg, rr);
    if (c.rcode != Rcode::noerror) return answer(c.rcode);
    const auto where = place(rr.owner, msg->zone, key->device);
    if (where.rcode != Rcode::noerror) return answer(where.rcode);
    registrar::RecordOp op{op_kind(c.kind), where.subname, rr.type, 0, {}};
    const bool any = c.kind == UpdateKind::delete_name;
    if (!any && !is_record_type(rr.type)) return answer(Rcode::refused);
    if (!key->allows(op.subname, any ? type::ANY : rr.type)) return answer(Rcode::refused);
    // Added TTLs below --min-ttl are raised to it, not refused.
    if (c.kind == UpdateKind::add) op.ttl = std::clamp(rr.ttl, min_ttl_, max_ttl_);
    const bool has_rdata = c.kind == UpdateKind::add || c.kind == UpdateKind::delete_rr;
    if (has_rdata && !read_rdata(message, rr, op)) return answer(Rcode::formerr);
    ops.push_back(std::move(op));
  }
  registrar::DeviceChange change;
  change.name = key->device;
  const std::uint32_t default_ttl = authority_.ttl();
  change.edit = [ops = std::move(ops), default_ttl](registrar::DeviceRecord& d) {
    return registrar::apply_record_ops(d, ops, default_ttl);
  };
  // Answered once durable (or refused without effect), from the writer thread.
  apply_(std::move(change), [respond, message = std::move(message), secret,
                             done = std::move(done)](const registrar::ChangeResult& r) {
    respond(message, rcode_of(r), TsigResult::ok, secret, done);
  });
}

void SignedMessages::query(const std::vector<std::uint8_t>& message, const std::string& client,
                           std::size_t max_size, const Done& done) {
  const std::uint64_t now = unix_now();
  TsigRecord tsig;
  if (find_tsig(message, tsig) != TsigFind::ok) {
    // Not signed after all (or malformed): what the plain path says.
    std::vector<std::uint8_t> out(65535);
    const auto p = process_query(message, std::span(out.data(), std::min(out.size(), max_size)),
                                 Transport::tcp, authority_, *snapshots_.current());
    out.resize(p.response.size);
    return done(std::move(out));
  }
  signed_queries_.fetch_add(1);
  const auto key = keys_(lower_text(tsig.key_name), client);
  const std::string secret = key ? key->secret : std::string();
  const auto verified = tsig_verify(message, tsig, bytes_of(secret), now);
  // The query without its TSIG RR (ARCOUNT one less) is what gets answered.
  std::vector<std::uint8_t> bare(message.begin(),
                                 message.begin() + static_cast<std::ptrdiff_t>(tsig.rr_offset));
  const auto arcount = static_cast<std::uint16_t>(((bare[10] << 8) | bare[11]) - 1);
  bare[10] = static_cast<std::uint8_t>(arcount >> 8);
  bare[11] = static_cast<std::uint8_t>(arcount);
  std::vector<std::uint8_t> out(std::max<std::size_t>(max_size, 512));
  const std::size_t room = out.size() > kTsigRoom ? out.size() - kTsigRoom : 0;
  std::size_t size = 0;
  if (verified == TsigResult::ok) {
    const auto p = process_query(bare, std::span(out.data(), room), Transport::tcp, authority_,
                                 *snapshots_.current());
    size = p.response.size;
  } else {
    tsig_failures_.fetch_add(1);
    // NOTAUTH with the question echoed, and the TSIG error (RFC 8945 §5.2).
    Query q;
    (void)parse_query(bare, q);
    WireWriter w(std::span(out.data(), room));
    write_response_head(w, q.header.id,
                        static_cast<std::uint16_t>((q.header.flags & (0xF << 11 | flag::RD)) |
                                                   static_cast<std::uint16_t>(Rcode::notauth)),
                        q.has_question ? &q.qname : nullptr, q.qtype, q.qclass);
    size = w.ok() ? w.pos() : 0;
  }
  if (size == 0) return done({});
  WireWriter w(out);
  w.resume_at(size);
  if (!tsig_sign_response(w, message, tsig,
                          static_cast<std::uint16_t>((message[0] << 8) | message[1]), verified,
                          bytes_of(secret), now)) {
    return done({});
  }
  out.resize(w.pos());
  done(std::move(out));
}

}  // namespace pweb::dns
