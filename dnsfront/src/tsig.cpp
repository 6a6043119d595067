#include "pweb/dns/tsig.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>

namespace pweb::dns {
namespace {

constexpr std::uint64_t kMax48 = (std::uint64_t{1} << 48) - 1;

// Incremental HMAC-SHA256 (the digest input is the message plus separate variables,
// so no contiguous copy is needed). Any OpenSSL failure sticks and makes final() fail.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const std::uint8_t> key) noexcept {
    // Fetched once: the algorithm lookup is the costly part of EVP_MAC.
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    ok_ =
        ctx_ != nullptr && !key.empty() && EVP_MAC_init(ctx_, key.data(), key.size(), params) == 1;
  }
  ~HmacSha256() { EVP_MAC_CTX_free(ctx_); }
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  void update(std::span<const std::uint8_t> data) noexcept {
    if (ok_ && !data.empty()) ok_ = EVP_MAC_update(ctx_, data.data(), data.size()) == 1;
  }
  void u16(std::uint16_t v) noexcept {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    update(b);
  }
  bool final(std::array<std::uint8_t, kHmacSha256Size>& out) noexcept {
    std::size_t len = 0;
    return ok_ && EVP_MAC_final(ctx_, out.data(), &len, out.size()) == 1 && len == out.size();
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

// Canonical form (RFC 4034 §6.2) of an uncompressed wire name: ASCII letters lowered.
void update_lower_name(HmacSha256& h, const Name& n) noexcept {
  std::array<std::uint8_t, kMaxNameSize> buf{};
  for (std::size_t i = 0; i < n.size; ++i) {
    const std::uint8_t c = n.wire[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
  }
  // Length bytes are < 64, so lowering never touches them.
  h.update(std::span(buf.data(), n.size));
}

struct Variables {
  const Name* key_name;
  std::uint64_t time_signed;
  std::uint16_t fudge;
  std::uint16_t error;
  std::span<const std::uint8_t> other;
};

// MAC = HMAC(key, [request MAC size, request MAC,] header', body, TSIG variables)
// (RFC 8945 §4.3). header' is the 12-byte header with ID and ARCOUNT as digested.
bool compute_mac(std::span<const std::uint8_t> secret, std::span<const std::uint8_t> request_mac,
                 std::span<const std::uint8_t> header, std::span<const std::uint8_t> body,
                 const Variables& v, std::array<std::uint8_t, kHmacSha256Size>& out) noexcept {
  HmacSha256 h(secret);
  if (!request_mac.empty()) {
    h.u16(static_cast<std::uint16_t>(request_mac.size()));
    h.update(request_mac);
  }
  h.update(header);
  h.update(body);
  update_lower_name(h, *v.key_name);
  h.u16(cls::ANY);
  h.u16(0);  // TTL, 32 bits
  h.u16(0);
  h.update(kHmacSha256Name);
  h.u16(static_cast<std::uint16_t>(v.time_signed >> 32));
  h.u16(static_cast<std::uint16_t>(v.time_signed >> 16));
  h.u16(static_cast<std::uint16_t>(v.time_signed));
  h.u16(v.fudge);
  h.u16(v.error);
  h.u16(static_cast<std::uint16_t>(v.other.size()));
  h.update(v.other);
  return h.final(out);
}

void skip_rr(WireReader& r) noexcept {
  Name ignored;
  if (!read_name(r, ignored)) return;
  r.skip(8);  // type, class, ttl
  r.skip(r.u16());
}

}  // namespace

bool read_tsig_record(WireReader& r, TsigRecord& out) noexcept {
  out.rr_offset = r.pos();
  if (!read_name(r, out.key_name)) return false;
  const std::uint16_t rtype = r.u16();
  const std::uint16_t rclass = r.u16();
  const std::uint32_t ttl = r.u32();
  const std::uint16_t rdlen = r.u16();
  const std::size_t rdata_end = r.pos() + rdlen;
  // RFC 8945 §4.2: CLASS ANY, TTL 0.
  if (!r.ok() || rtype != type::TSIG || rclass != cls::ANY || ttl != 0 || rdlen > r.remaining()) {
    r.fail();
    return false;
  }
  if (!read_name(r, out.algorithm)) return false;
  const std::uint64_t hi = r.u16();
  out.time_signed = (hi << 32) | r.u32();
  out.fudge = r.u16();
  out.mac_size = r.u16();
  out.mac_offset = r.pos();
  r.skip(out.mac_size);
  out.original_id = r.u16();
  out.error = r.u16();
  out.other_len = r.u16();
  out.other_offset = r.pos();
  r.skip(out.other_len);
  if (!r.ok() || r.pos() != rdata_end) {
    r.fail();
    return false;
  }
  return true;
}

TsigFind find_tsig(std::span<const std::uint8_t> msg, TsigRecord& out) noexcept {
  WireReader r(msg);
  r.skip(4);
  const std::uint16_t qd = r.u16();
  const std::uint32_t records = std::uint32_t{r.u16()} + r.u16();
  const std::uint16_t ar = r.u16();
  for (std::uint16_t i = 0; i < qd && r.ok(); ++i) {
    Name ignored;
    read_name(r, ignored);
    r.skip(4);
  }
  for (std::uint32_t i = 0; i < records && r.ok(); ++i) skip_rr(r);
  bool found = false;
  for (std::uint16_t i = 0; i < ar && r.ok(); ++i) {
    const std::size_t start = r.pos();
    Name owner;
    read_name(r, owner);
    const std::uint16_t rtype = r.u16();
    if (rtype != type::TSIG) {
      r.seek(start);
      skip_rr(r);
      continue;
    }
    // §5.1: a TSIG anywhere but last (so also a second one) is a format error.
    if (i + 1 != ar) return TsigFind::formerr;
    r.seek(start);
    found = read_tsig_record(r, out);
  }
  if (!r.ok()) return TsigFind::formerr;
  if (!found) return TsigFind::none;
  return r.remaining() == 0 ? TsigFind::ok : TsigFind::formerr;
}

TsigError tsig_error(TsigResult r) noexcept {
  switch (r) {
    case TsigResult::badkey:
      return TsigError::badkey;
    case TsigResult::badsig:
      return TsigError::badsig;
    case TsigResult::badtime:
      return TsigError::badtime;
    case TsigResult::badtrunc:
      return TsigError::badtrunc;
    case TsigResult::ok:
    case TsigResult::formerr:
      break;
  }
  return TsigError::none;
}

const char* to_string(TsigResult r) noexcept {
  switch (r) {
    case TsigResult::ok:
      return "ok";
    case TsigResult::badkey:
      return "BADKEY";
    case TsigResult::badsig:
      return "BADSIG";
    case TsigResult::badtime:
      return "BADTIME";
    case TsigResult::badtrunc:
      return "BADTRUNC";
    case TsigResult::formerr:
      return "FORMERR";
  }
  return "?";
}

TsigResult tsig_verify(std::span<const std::uint8_t> msg, const TsigRecord& tsig,
                       std::span<const std::uint8_t> secret, std::uint64_t now,
                       std::span<const std::uint8_t> request_mac) noexcept {
  // §5.2.1: an unknown key or algorithm is BADKEY.
  if (!wire_equal_nocase(tsig.algorithm.bytes(), kHmacSha256Name) || secret.empty()) {
    return TsigResult::badkey;
  }
  // §5.2.2.1: longer than the hash, or shorter than max(10, half of it): FORMERR.
  if (tsig.mac_size > kHmacSha256Size || tsig.mac_size < kTsigMinMacSize) {
    return TsigResult::formerr;
  }
  if (tsig.rr_offset < kHeaderSize || tsig.rr_offset > msg.size() ||
      tsig.mac_offset + tsig.mac_size > msg.size() ||
      tsig.other_offset + tsig.other_len > msg.size()) {
    return TsigResult::formerr;  // a record that was not parsed from this message
  }
  std::array<std::uint8_t, kHeaderSize> header{};
  std::copy_n(msg.begin(), kHeaderSize, header.begin());
  header[0] = static_cast<std::uint8_t>(tsig.original_id >> 8);
  header[1] = static_cast<std::uint8_t>(tsig.original_id);
  const auto arcount = static_cast<std::uint16_t>(((header[10] << 8) | header[11]) - 1);
  header[10] = static_cast<std::uint8_t>(arcount >> 8);
  header[11] = static_cast<std::uint8_t>(arcount);

  const Variables v{&tsig.key_name, tsig.time_signed, tsig.fudge, tsig.error,
                    msg.subspan(tsig.other_offset, tsig.other_len)};
  std::array<std::uint8_t, kHmacSha256Size> mac{};
  if (!compute_mac(secret, request_mac, header,
                   msg.subspan(kHeaderSize, tsig.rr_offset - kHeaderSize), v, mac)) {
    return TsigResult::badsig;
  }
  if (CRYPTO_memcmp(mac.data(), msg.data() + tsig.mac_offset, tsig.mac_size) != 0) {
    return TsigResult::badsig;
  }
  // §5.2.3: checked only after the MAC, so that BADTIME can be signed.
  const std::uint64_t skew =
      now > tsig.time_signed ? now - tsig.time_signed : tsig.time_signed - now;
  if (skew > tsig.fudge) return TsigResult::badtime;
  // §5.2.2.1 lets local policy refuse truncated MACs: we accept only the full MAC.
  if (tsig.mac_size < kHmacSha256Size) return TsigResult::badtrunc;
  return TsigResult::ok;
}

bool tsig_append(WireWriter& w, const TsigSign& s) noexcept {
  const auto msg = w.written();
  if (s.key_name == nullptr || msg.size() < kHeaderSize || s.time_signed > kMax48 ||
      s.other.size() > 0xFFFF || (msg[10] == 0xFF && msg[11] == 0xFF)) {
    return false;
  }
  std::array<std::uint8_t, kHmacSha256Size> mac{};
  std::size_t mac_len = 0;
  if (!s.unsigned_error) {
    std::array<std::uint8_t, kHeaderSize> header{};
    std::copy_n(msg.begin(), kHeaderSize, header.begin());
    header[0] = static_cast<std::uint8_t>(s.original_id >> 8);
    header[1] = static_cast<std::uint8_t>(s.original_id);
    const Variables v{s.key_name, s.time_signed, s.fudge, static_cast<std::uint16_t>(s.error),
                      s.other};
    if (!compute_mac(s.secret, s.request_mac, header, msg.subspan(kHeaderSize), v, mac)) {
      return false;
    }
    mac_len = mac.size();
  }
  const auto arcount = static_cast<std::uint16_t>((msg[10] << 8) | msg[11]);
  w.bytes(s.key_name->bytes());
  w.u16(type::TSIG);
  w.u16(cls::ANY);
  w.u32(0);
  const std::size_t rdlen_at = w.pos();
  w.u16(0);
  if (s.unsigned_error && s.algorithm != nullptr) {
    w.bytes(s.algorithm->bytes());
  } else {
    w.bytes(kHmacSha256Name);
  }
  w.u16(static_cast<std::uint16_t>(s.time_signed >> 32));
  w.u32(static_cast<std::uint32_t>(s.time_signed));
  w.u16(s.fudge);
  w.u16(static_cast<std::uint16_t>(mac_len));
  w.bytes(std::span(mac.data(), mac_len));
  w.u16(s.original_id);
  w.u16(static_cast<std::uint16_t>(s.error));
  w.u16(static_cast<std::uint16_t>(s.other.size()));
  w.bytes(s.other);
  w.patch_u16(rdlen_at, static_cast<std::uint16_t>(w.pos() - rdlen_at - 2));
  w.patch_u16(10, static_cast<std::uint16_t>(arcount + 1));
  return w.ok();
}

bool tsig_sign_response(WireWriter& w, std::span<const std::uint8_t> packet, const TsigRecord& t,
                        std::uint16_t id, TsigResult tsig, std::span<const std::uint8_t> secret,
                        std::uint64_t now) noexcept {
  if (t.mac_offset + t.mac_size > packet.size()) return false;  // not this request's TSIG
  const std::uint64_t now48 = std::min<std::uint64_t>(now, (std::uint64_t{1} << 48) - 1);
  const std::uint8_t server_time[6] = {
      static_cast<std::uint8_t>(now48 >> 40), static_cast<std::uint8_t>(now48 >> 32),
      static_cast<std::uint8_t>(now48 >> 24), static_cast<std::uint8_t>(now48 >> 16),
      static_cast<std::uint8_t>(now48 >> 8),  static_cast<std::uint8_t>(now48)};
  TsigSign s;
  s.key_name = &t.key_name;
  s.algorithm = &t.algorithm;
  s.secret = secret;
  s.time_signed = now48;
  s.original_id = id;
  s.error = tsig_error(tsig);
  switch (tsig) {
    case TsigResult::badkey:
    case TsigResult::badsig:
      // §5.3.2: the request MAC did not verify, so nothing may be signed with it.
      s.unsigned_error = true;
      break;
    case TsigResult::badtime:
      // The client's own time back, so it can verify; ours in Other Data (§5.2.3).
      s.time_signed = t.time_signed;
      s.other = server_time;
      s.request_mac = t.mac(packet);
      break;
    case TsigResult::ok:
    case TsigResult::badtrunc:
    case TsigResult::formerr:
      s.request_mac = t.mac(packet);
      break;
  }
  return tsig_append(w, s);
}

}  // namespace pweb::dns
