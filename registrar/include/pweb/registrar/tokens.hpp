#pragma once
// Scoped device tokens: a secret that can change one device and nothing else,
// as the DynDNS2 password (user name = the device name) and, later, as a TSIG
// key (key name = the token id, secret = the token). The rules here are pure;
// the store keeps the tokens, RegistrationService creates and checks them.
//
// Storage: the store keeps a keyed hash of each token (BLAKE2b, keyed with a
// per-store salt) to check DynDNS2 passwords, and the secret itself sealed
// (crypto_secretbox) under a node key in <data-dir>/token.key, because TSIG
// needs the secret to compute its HMAC. A copy of the database alone thus
// reveals no token: the hash is of 264 random bits, the sealed secret needs the
// key file, which never leaves the data dir and is never logged.
#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pweb::registrar {

enum class TokenScope { update, acme, records };

// "update", "acme", "records"; nullopt for anything else (case-sensitive).
std::optional<TokenScope> parse_scope(std::string_view text);
const char* scope_name(TokenScope scope) noexcept;

// An address prefix a token may be used from. Host bits must be zero
// ("192.0.2.1/24" is refused: it is more likely a typo than a wish).
struct Subnet {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes
  bool v4 = false;
  int prefix = 0;
  [[nodiscard]] std::string text() const;
  // `address` as text ("192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7" counts as IPv4).
  [[nodiscard]] bool contains(std::string_view address) const;
  friend bool operator==(const Subnet&, const Subnet&) = default;
};
struct SubnetResult {
  std::optional<Subnet> subnet;
  std::string error;  // set when subnet is empty
};
SubnetResult parse_subnet(std::string_view text);

struct TokenInfo {
  std::string id;  // "t" + 16 lowercase hex digits: a DNS label, the TSIG key name
  std::string device;
  TokenScope scope = TokenScope::update;
  std::vector<Subnet> allowed_subnets;  // empty: from anywhere
  std::int64_t expires = 0;             // unix seconds; 0 = never
  std::int64_t created = 0;
  friend bool operator==(const TokenInfo&, const TokenInfo&) = default;
};

inline constexpr std::size_t kMaxTokensPerDevice = 20;
inline constexpr std::size_t kMaxSubnetsPerToken = 16;
inline constexpr std::size_t kTokenSecretBytes = 33;  // 44 base64 characters, no padding
using TokenHash = std::array<std::uint8_t, 32>;
using TokenSalt = std::array<std::uint8_t, 32>;
using NodeKey = std::array<std::uint8_t, 32>;

// What a request with this token may change: `subname` is "@" for the device
// name itself, else the labels below it ("_acme-challenge", "www").
// update: A (1) and AAAA (28) at "@"; acme: TXT (16) at "_acme-challenge";
// records: anything under the device.
bool scope_allows(TokenScope scope, std::string_view subname, std::uint16_t rrtype) noexcept;

// Why a correct token may not be used now from `client`: "token expired",
// "client address not in the token's allowed subnets"; nullopt if it may.
std::optional<std::string> token_refusal(const TokenInfo& info, std::string_view client,
                                         std::int64_t now);

// A new random id ("t" + 16 hex) and secret (raw bytes), from libsodium.
std::string new_token_id();
std::string new_token_secret();
// Standard base64 of the secret (the text users hold), and back: nullopt unless
// `text` is exactly the base64 of kTokenSecretBytes bytes.
std::string encode_token(std::string_view secret);
std::optional<std::string> decode_token(std::string_view text);

// The keyed hash stored for a secret; compare with tokens_equal (constant time).
TokenHash hash_token(const TokenSalt& salt, std::string_view secret);
bool tokens_equal(const TokenHash& a, const TokenHash& b) noexcept;

// The secret sealed under the node key (random nonce, then the box), and back;
// nullopt if the box was not made with this key or is damaged.
std::string seal_token(const NodeKey& key, std::string_view secret);
std::optional<std::string> unseal_token(const NodeKey& key, std::string_view sealed);

// <data_dir>/token.key: read it, or create it (32 random bytes, mode 0600) when
// `create`. nullopt and `error` set when it cannot; nullopt and no error when
// absent and not created.
struct NodeKeyResult {
  std::optional<NodeKey> key;
  std::string error;
};
NodeKeyResult load_node_key(const std::filesystem::path& data_dir, bool create);

// The node key as standard base64 (44 characters), and back: nullopt unless
// `text` is exactly that (`pweb-node identity export|import` carry it so).
std::string encode_node_key(const NodeKey& key);
std::optional<NodeKey> decode_node_key(std::string_view text);

// A token with its secret (raw bytes; empty if it could not be unsealed).
struct TokenKey {
  TokenInfo info;
  std::string secret;
  TokenHash hash{};
};

// The immutable in-memory view of all tokens, for the DNS threads (TSIG) to
// find a key by id without touching SQLite. Built whole, never modified.
class TokenTable {
 public:
  static std::shared_ptr<const TokenTable> build(std::vector<TokenKey> keys);
  [[nodiscard]] const TokenKey* find(std::string_view id) const;
  [[nodiscard]] std::vector<const TokenKey*> of_device(std::string_view device) const;
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }

 private:
  TokenTable() = default;
  std::unordered_map<std::string, TokenKey> by_id_;
};

// Where the current table is published; readers take a shared_ptr.
class TokenHolder {
 public:
  TokenHolder() : current_(TokenTable::build({})) {}
  void publish(std::shared_ptr<const TokenTable> next) {
    current_.store(std::move(next), std::memory_order_release);
  }
  [[nodiscard]] std::shared_ptr<const TokenTable> current() const {
    return current_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<std::shared_ptr<const TokenTable>> current_;
};

}  // namespace pweb::registrar
