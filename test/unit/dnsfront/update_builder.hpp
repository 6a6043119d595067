#pragma once
// Builds RFC 2136 UPDATE messages for the update and TSIG tests, and signs them with
// its own HMAC-SHA256 (OpenSSL's one-shot HMAC() over a contiguous copy), independent
// of the code under test. Also holds real packets from dnspython and nsupdate.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/dns/message.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns::testutil {

using Bytes = std::vector<std::uint8_t>;

inline const Bytes kSecret = [] {
  const std::string_view s = "0123456789abcdef0123456789abcdef";
  return Bytes(s.begin(), s.end());
}();
inline constexpr std::uint64_t kTime = 1'796'597'228;

inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(nib(hex[i]) * 16 + nib(hex[i + 1])));
  return out;
}

inline Bytes name_wire(std::string_view text) {
  Name n;
  if (!name_from_text(text, n)) return {};
  return Bytes(n.wire.begin(), n.wire.begin() + n.size);
}

inline Bytes lower(Bytes b) {
  for (auto& c : b)
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c + 32);
  return b;
}

// RFC 8945 §4.3: [request MAC size, request MAC], message without TSIG, variables.
inline Bytes expected_mac(const Bytes& secret, const Bytes& request_mac, const Bytes& message,
                          const Bytes& key_wire, const Bytes& alg_wire, std::uint64_t time,
                          std::uint16_t fudge, std::uint16_t error, const Bytes& other) {
  Bytes in;
  auto u16 = [&](std::uint32_t v) {
    in.push_back(static_cast<std::uint8_t>(v >> 8));
    in.push_back(static_cast<std::uint8_t>(v));
  };
  if (!request_mac.empty()) {
    u16(static_cast<std::uint32_t>(request_mac.size()));
    in.insert(in.end(), request_mac.begin(), request_mac.end());
  }
  in.insert(in.end(), message.begin(), message.end());
  const Bytes k = lower(key_wire), a = lower(alg_wire);
  in.insert(in.end(), k.begin(), k.end());
  u16(cls::ANY);
  u16(0);
  u16(0);
  in.insert(in.end(), a.begin(), a.end());
  u16(static_cast<std::uint32_t>(time >> 32));
  u16(static_cast<std::uint32_t>(time >> 16) & 0xFFFF);
  u16(static_cast<std::uint32_t>(time) & 0xFFFF);
  u16(fudge);
  u16(error);
  u16(static_cast<std::uint32_t>(other.size()));
  in.insert(in.end(), other.begin(), other.end());
  Bytes mac(32);
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), in.data(), in.size(),
       mac.data(), &len);
  mac.resize(len);
  return mac;
}

struct Rr {
  std::string name;
  std::uint16_t type = type::A;
  std::uint16_t cls = cls::IN;
  std::uint32_t ttl = 0;
  Bytes rdata;
};

struct TsigSpec {
  std::string key = "tok1.";
  std::string alg = "hmac-sha256.";
  std::uint64_t time = kTime;
  std::uint16_t fudge = 300;
  std::uint16_t error = 0;
  Bytes other;
  Bytes secret = kSecret;
  std::size_t mac_len = 32;  // the first mac_len bytes of the MAC are sent
  std::optional<Bytes> mac;  // sent instead of the computed MAC
  std::optional<std::uint16_t> original_id;
  std::uint16_t rclass = cls::ANY;
  std::uint32_t ttl = 0;
};

struct UpdateSpec {
  std::uint16_t id = 0x4242;
  std::uint16_t flags = static_cast<std::uint16_t>(opcode::UPDATE << 11);
  std::string zone = "dyn.example.org.";
  std::uint16_t ztype = type::SOA;
  std::uint16_t zclass = cls::IN;
  std::vector<Rr> prereqs, updates, additional;
  std::optional<TsigSpec> tsig = TsigSpec{};
};

inline void put_rr(WireWriter& w, const Rr& rr) {
  w.bytes(name_wire(rr.name));
  w.u16(rr.type);
  w.u16(rr.cls);
  w.u32(rr.ttl);
  w.u16(static_cast<std::uint16_t>(rr.rdata.size()));
  w.bytes(rr.rdata);
}

// Appends a TSIG RR (signed by expected_mac) to a complete message without one.
inline Bytes sign(Bytes msg, const TsigSpec& t, const Bytes& request_mac = {}) {
  const std::uint16_t id = static_cast<std::uint16_t>((msg[0] << 8) | msg[1]);
  const std::uint16_t orig = t.original_id.value_or(id);
  Bytes digested = msg;
  digested[0] = static_cast<std::uint8_t>(orig >> 8);
  digested[1] = static_cast<std::uint8_t>(orig);
  Bytes mac = t.mac.value_or(expected_mac(t.secret, request_mac, digested, name_wire(t.key),
                                          name_wire(t.alg), t.time, t.fudge, t.error, t.other));
  if (!t.mac && t.mac_len < mac.size()) mac.resize(t.mac_len);
  Bytes buf(msg.size() + 1024);
  WireWriter w(buf);
  w.bytes(msg);
  Bytes rdata;
  {
    Bytes rd(1024);
    WireWriter r(rd);
    r.bytes(name_wire(t.alg));
    r.u16(static_cast<std::uint16_t>(t.time >> 32));
    r.u32(static_cast<std::uint32_t>(t.time));
    r.u16(t.fudge);
    r.u16(static_cast<std::uint16_t>(mac.size()));
    r.bytes(mac);
    r.u16(orig);
    r.u16(t.error);
    r.u16(static_cast<std::uint16_t>(t.other.size()));
    r.bytes(t.other);
    rdata.assign(rd.begin(), rd.begin() + static_cast<std::ptrdiff_t>(r.pos()));
  }
  put_rr(w, {t.key, type::TSIG, t.rclass, t.ttl, rdata});
  const std::uint16_t ar = static_cast<std::uint16_t>(((msg[10] << 8) | msg[11]) + 1);
  w.patch_u16(10, ar);
  buf.resize(w.pos());
  return buf;
}

inline Bytes build_update(const UpdateSpec& s) {
  Bytes buf(8192);
  WireWriter w(buf);
  w.u16(s.id);
  w.u16(s.flags);
  w.u16(1);
  w.u16(static_cast<std::uint16_t>(s.prereqs.size()));
  w.u16(static_cast<std::uint16_t>(s.updates.size()));
  w.u16(static_cast<std::uint16_t>(s.additional.size()));
  w.bytes(name_wire(s.zone));
  w.u16(s.ztype);
  w.u16(s.zclass);
  for (const auto& rr : s.prereqs) put_rr(w, rr);
  for (const auto& rr : s.updates) put_rr(w, rr);
  for (const auto& rr : s.additional) put_rr(w, rr);
  buf.resize(w.pos());
  return s.tsig ? sign(buf, *s.tsig) : buf;
}

inline const Bytes kA1 = {192, 0, 2, 1};

// Real packets (test/fuzz/make_dns_update_seeds.py), key tok1. with kSecret.
struct Fixture {
  const char* name;
  const char* hex;
  std::size_t prereqs, updates;
};
inline const Fixture kFixtures[] = {
    {"dnspython_all_forms",
     "632b280000010005000400010364796e076578616d706c65036f72670000060001066c6170746f7005616c69"
     "6365027577c00c00ff00ff000000000000036e6577c02800ff00fe000000000000c021000100ff0000000000"
     "00c02100010001000000000004c0000201c021001c00fe000000000000c021000100010000012c0004c00002"
     "02c021001c00ff000000000000036f6c64c02800ff00ff000000000000c021000100fe000000000004c00002"
     "0104746f6b310000fa00ff00000000003d0b686d61632d7368613235360000006b15e5ef012c0020628539b6"
     "9bd2b7e08f5445f26a521cca59055206d7a4679b8c84c45adac5141e632b00000000",
     5, 4},
    {"dnspython_acme_txt",
     "a664280000010000000100010364796e076578616d706c65036f726700000600010f5f61636d652d6368616c"
     "6c656e6765066c6170746f7005616c696365027577c00c001000010000003c002c2b4c4844684b336f475276"
     "6b696566516e78374f4f637a5459355469635f785a3648634d4f635f676d74737704746f6b310000fa00ff00"
     "000000003d0b686d61632d7368613235360000006b15e5ef012c0020a6fa51d6128f646565f63fb05381c5d5"
     "b063e70a1769d84375877f17561651aba66400000000",
     0, 1},
    {"dnspython_cname_srv",
     "cbea280000010000000300010364796e076578616d706c65036f7267000006000103777777066c6170746f70"
     "05616c696365027577c00c000500ff000000000000c02100050001000000780002c025055f68747470045f74"
     "6370c02500210001000000780008000a00050050c02504746f6b310000fa00ff00000000003d0b686d61632d"
     "7368613235360000006b15e5ef012c00205eb8081541d6bb9270f6eb96e51edc87dcbd6cb8e535a5a169b72f"
     "d898255097cbea00000000",
     0, 3},
    {"nsupdate_add_a_txt",
     "5c67280000010001000200010364796e076578616d706c65036f72670000060001066c6170746f7005616c69"
     "63650275770364796e076578616d706c65036f72670000ff00ff000000000000c021000100010000012c0004"
     "c0000207c021001000010000012c00060568656c6c6f04746f6b310000fa00ff00000000003d0b686d61632d"
     "7368613235360000006b15e5ef012c00201145feaf9200fafcaeb856aa76742f89b4560c2273fb4c0663ee5c"
     "b5240f19915c6700000000",
     1, 2},
    {"nsupdate_delete",
     "0741280000010001000200010364796e076578616d706c65036f72670000060001066c6170746f7005616c69"
     "63650275770364796e076578616d706c65036f726700001c00fe000000000000c021000100fe000000000004"
     "c000020703777777c02100ff00ff00000000000004746f6b310000fa00ff00000000003d0b686d61632d7368"
     "613235360000006b15e5ef012c0020a8287262fcd1b95dfa373869b07db2a121d13f6daa7d85c02e4bb89019"
     "0bec7c074100000000",
     1, 2},
};

}  // namespace pweb::dns::testutil
