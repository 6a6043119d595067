#pragma once
// How both store backends (SQLite, PostgreSQL) encode values in their columns,
// so that a record reads back the same from either. Pure: no database here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pweb/registrar/device.hpp"
#include "pweb/registrar/store.hpp"
#include "pweb/registrar/tokens.hpp"

namespace pweb::registrar::store_codec {

// Records of one RRset in one blob: (2-byte length, rdata)*. A blob that does
// not parse is damage: StoreError naming the device, never skipped.
std::string encode_rdata(const std::vector<std::string>& rdata);
std::vector<std::string> decode_rdata(const std::string& device, const unsigned char* p,
                                      std::size_t n);

// Address columns hold the text form, or NULL (nullopt) when unset.
std::optional<std::string> address_text(const std::optional<Ipv4>& a);
std::optional<std::string> address_text(const std::optional<Ipv6>& a);

// A device row as text; an empty address column is NULL.
struct DeviceColumns {
  std::string name, ipv4, ipv6, services;
  std::int64_t updated = 0, ttl = 0;
  std::string ipv6_iid;
};
DeviceRecord device_from_columns(const DeviceColumns& c);

// Whether `name` is a device "<label>.<user_agent>" (one label below it).
bool is_device_of(const std::string& name, const std::string& user_agent);

// A token row. Rows that do not parse (written by hand, or by a newer build)
// give nullopt: skipped, not trusted.
struct TokenColumns {
  std::string id, device, scope, subnets;
  std::int64_t expires = 0, created = 0;
  std::string hash, sealed;
};
std::optional<StoredToken> token_from_columns(const TokenColumns& c);
std::string subnets_text(const std::vector<Subnet>& subnets);

// The token salt as kept in meta('token_salt'): hex. nullopt when damaged.
std::string salt_hex(const TokenSalt& salt);
std::optional<TokenSalt> salt_from_hex(const std::string& hex);
// A new random salt; StoreError if libsodium cannot start.
TokenSalt new_salt();

}  // namespace pweb::registrar::store_codec
