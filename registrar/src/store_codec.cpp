#include "store_codec.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace pweb::registrar::store_codec {

std::string encode_rdata(const std::vector<std::string>& rdata) {
  std::string out;
  for (const auto& r : rdata) {
    out.push_back(static_cast<char>(r.size() >> 8));
    out.push_back(static_cast<char>(r.size() & 0xFF));
    out += r;
  }
  return out;
}

std::vector<std::string> decode_rdata(const std::string& device, const unsigned char* p,
                                      std::size_t n) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < n) {
    if (n - at < 2) throw StoreError("store: RRset data of " + device + " is damaged");
    const std::size_t len = (std::size_t{p[at]} << 8) | p[at + 1];
    at += 2;
    if (n - at < len) throw StoreError("store: RRset data of " + device + " is damaged");
    out.emplace_back(reinterpret_cast<const char*>(p + at), len);
    at += len;
  }
  return out;
}

std::optional<std::string> address_text(const std::optional<Ipv4>& a) {
  if (!a) return std::nullopt;
  return format_ipv4(*a);
}

std::optional<std::string> address_text(const std::optional<Ipv6>& a) {
  if (!a) return std::nullopt;
  return format_ipv6(*a);
}

DeviceRecord device_from_columns(const DeviceColumns& c) {
  DeviceRecord r;
  r.name = c.name;
  if (!c.ipv4.empty()) r.ipv4 = parse_ipv4(c.ipv4);
  if (!c.ipv6.empty()) r.ipv6 = parse_ipv6(c.ipv6);
  r.services = c.services;
  r.updated = c.updated;
  r.ttl = static_cast<std::uint32_t>(c.ttl);
  if (!c.ipv6_iid.empty()) r.ipv6_iid = parse_ipv6(c.ipv6_iid);
  return r;
}

bool is_device_of(const std::string& name, const std::string& user_agent) {
  return name.size() > user_agent.size() + 1 && name.ends_with(user_agent) &&
         name.find('.') == name.size() - user_agent.size() - 1;
}

std::optional<StoredToken> token_from_columns(const TokenColumns& c) {
  StoredToken t;
  t.info.id = c.id;
  t.info.device = c.device;
  t.info.expires = c.expires;
  t.info.created = c.created;
  t.sealed = c.sealed;
  const auto scope = parse_scope(c.scope);
  if (!scope || c.hash.size() != t.hash.size()) return std::nullopt;
  t.info.scope = *scope;
  std::copy(c.hash.begin(), c.hash.end(), t.hash.begin());
  for (std::size_t start = 0; start < c.subnets.size();) {
    auto comma = c.subnets.find(',', start);
    if (comma == std::string::npos) comma = c.subnets.size();
    const auto parsed = parse_subnet(std::string_view(c.subnets).substr(start, comma - start));
    if (!parsed.subnet) return std::nullopt;
    t.info.allowed_subnets.push_back(*parsed.subnet);
    start = comma + 1;
  }
  return t;
}

std::string subnets_text(const std::vector<Subnet>& subnets) {
  std::string out;
  for (const auto& s : subnets) out += (out.empty() ? "" : ",") + s.text();
  return out;
}

std::string salt_hex(const TokenSalt& salt) {
  std::array<char, 2 * sizeof(TokenSalt) + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), salt.data(), salt.size());
  return std::string(hex.data(), hex.size() - 1);
}

std::optional<TokenSalt> salt_from_hex(const std::string& hex) {
  TokenSalt salt{};
  std::size_t len = 0;
  if (sodium_hex2bin(salt.data(), salt.size(), hex.data(), hex.size(), nullptr, &len, nullptr) !=
          0 ||
      len != salt.size()) {
    return std::nullopt;
  }
  return salt;
}

TokenSalt new_salt() {
  if (sodium_init() < 0) throw StoreError("libsodium failed to initialise");
  TokenSalt salt{};
  randombytes_buf(salt.data(), salt.size());
  return salt;
}

}  // namespace pweb::registrar::store_codec
