#include "pweb/registrar/tokens.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "pweb/registrar/device.hpp"

namespace pweb::registrar {
namespace {

constexpr const char* kNodeKeyFile = "token.key";
constexpr std::uint16_t kTypeA = 1, kTypeTxt = 16, kTypeAaaa = 28;

void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// An address as 16 bytes, IPv4 (and IPv4-mapped IPv6) in the first 4.
struct Address {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;
};
std::optional<Address> parse_address(std::string_view text) {
  const std::string s(text);
  Address a;
  if (const auto v4 = parse_ipv4(s)) {
    std::copy(v4->begin(), v4->end(), a.bytes.begin());
    a.v4 = true;
    return a;
  }
  const auto v6 = parse_ipv6(s);
  if (!v6) return std::nullopt;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, v6->begin())) {
    std::copy(v6->begin() + 12, v6->end(), a.bytes.begin());
    a.v4 = true;
    return a;
  }
  a.bytes = *v6;
  return a;
}

// Whether the first `prefix` bits of a and b agree.
bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                 int prefix) {
  const auto whole = static_cast<std::size_t>(prefix / 8);
  if (!std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(whole), b.begin())) {
    return false;
  }
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<TokenScope> parse_scope(std::string_view text) {
  if (text == "update") return TokenScope::update;
  if (text == "acme") return TokenScope::acme;
  if (text == "records") return TokenScope::records;
  return std::nullopt;
}

const char* scope_name(TokenScope scope) noexcept {
  switch (scope) {
    case TokenScope::update:
      return "update";
    case TokenScope::acme:
      return "acme";
    case TokenScope::records:
      return "records";
  }
  return "update";
}

std::string Subnet::text() const {
  std::string addr;
  if (v4) {
    addr = format_ipv4(Ipv4{bytes[0], bytes[1], bytes[2], bytes[3]});
  } else {
    addr = format_ipv6(bytes);
  }
  return addr + "/" + std::to_string(prefix);
}

bool Subnet::contains(std::string_view address) const {
  const auto a = parse_address(address);
  return a && a->v4 == v4 && same_prefix(a->bytes, bytes, prefix);
}

SubnetResult parse_subnet(std::string_view text) {
  SubnetResult r;
  const auto quoted = "'" + printable(text) + "'";
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    r.error = "subnet " + quoted + " is not ADDRESS/PREFIX (192.0.2.0/24, 2001:db8::/32)";
    return r;
  }
  const auto a = parse_address(text.substr(0, slash));
  const auto len = text.substr(slash + 1);
  int prefix = -1;
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
  if (!a) {
    r.error = "subnet " + quoted + " does not start with an IPv4 or IPv6 address";
    return r;
  }
  if (a->v4 && text.substr(0, slash).find(':') != std::string_view::npos) {
    // Is "::ffff:192.0.2.0/120" a /120 of IPv6 or a /24 of IPv4? Neither: asked plainly.
    r.error = "subnet " + quoted + ": write IPv4 subnets as IPv4 (192.0.2.0/24)";
    return r;
  }
  const int max = a->v4 ? 32 : 128;
  if (len.empty() || ec != std::errc() || end != len.data() + len.size() || prefix < 0 ||
      prefix > max || (len.size() > 1 && len[0] == '0')) {
    r.error = "subnet " + quoted + ": the prefix length must be 0 to " + std::to_string(max);
    return r;
  }
  Subnet s;
  s.v4 = a->v4;
  s.prefix = prefix;
  // The network address: bits past the prefix cleared.
  for (std::size_t i = 0; i < 16; ++i) {
    const int first_bit = static_cast<int>(i) * 8;
    std::uint8_t mask = 0;
    if (prefix >= first_bit + 8) {
      mask = 0xff;
    } else if (prefix > first_bit) {
      mask = static_cast<std::uint8_t>(0xff << (8 - (prefix - first_bit)));
    }
    s.bytes[i] = a->bytes[i] & mask;
  }
  if (s.bytes != a->bytes) {
    // Refused rather than cleared: "192.0.2.7/24" is more likely a typo than a wish.
    r.error = "subnet " + quoted + " has host bits set (did you mean " + s.text() + "?)";
    return r;
  }
  r.subnet = s;
  return r;
}

bool scope_allows(TokenScope scope, std::string_view subname, std::uint16_t rrtype) noexcept {
  switch (scope) {
    case TokenScope::update:
      return subname == "@" && (rrtype == kTypeA || rrtype == kTypeAaaa);
    case TokenScope::acme:
      return subname == "_acme-challenge" && rrtype == kTypeTxt;
    case TokenScope::records:
      return true;
  }
  return false;
}

std::optional<std::string> token_refusal(const TokenInfo& info, std::string_view client,
                                         std::int64_t now) {
  if (info.expires != 0 && now >= info.expires) return "token expired";
  if (!info.allowed_subnets.empty() &&
      std::none_of(info.allowed_subnets.begin(), info.allowed_subnets.end(),
                   [&](const Subnet& s) { return s.contains(client); })) {
    return "client address not in the token's allowed subnets";
  }
  return std::nullopt;
}

std::string new_token_id() {
  init_sodium();
  std::array<unsigned char, 8> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::array<char, 17> hex{};
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  return "t" + std::string(hex.data(), 16);
}

std::string new_token_secret() {
  init_sodium();
  std::string s(kTokenSecretBytes, '\0');
  randombytes_buf(s.data(), s.size());
  return s;
}

std::string encode_token(std::string_view secret) {
  init_sodium();
  const auto len = sodium_base64_encoded_len(secret.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), out.size(), bytes(secret), secret.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // the terminating NUL
  return out;
}

namespace {

// Exactly `size` bytes from their standard base64 in `text`, or nullopt.
std::optional<std::string> decode_base64(std::string_view text, std::size_t size) {
  init_sodium();
  if (text.size() != sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL) - 1) {
    return std::nullopt;  // also bounds the work for hostile input
  }
  std::string out(size, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != size || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::string> decode_token(std::string_view text) {
  return decode_base64(text, kTokenSecretBytes);
}

std::string encode_node_key(const NodeKey& key) {
  return encode_token({reinterpret_cast<const char*>(key.data()), key.size()});
}

std::optional<NodeKey> decode_node_key(std::string_view text) {
  NodeKey key{};
  const auto raw = decode_base64(text, key.size());
  if (!raw) return std::nullopt;
  std::copy(raw->begin(), raw->end(), key.begin());
  return key;
}

TokenHash hash_token(const TokenSalt& salt, std::string_view secret) {
  init_sodium();
  TokenHash h{};
  crypto_generichash(h.data(), h.size(), bytes(secret), secret.size(), salt.data(), salt.size());
  return h;
}

bool tokens_equal(const TokenHash& a, const TokenHash& b) noexcept {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string seal_token(const NodeKey& key, std::string_view secret) {
  init_sodium();
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + secret.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, bytes(secret), secret.size(), nonce,
                        key.data());
  return out;
}

std::optional<std::string> unseal_token(const NodeKey& key, std::string_view sealed) {
  init_sodium();
  if (sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) return std::nullopt;
  const auto* nonce = bytes(sealed);
  const auto box = sealed.substr(crypto_secretbox_NONCEBYTES);
  std::string out(box.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()), bytes(box),
                                 box.size(), nonce, key.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

NodeKeyResult load_node_key(const std::filesystem::path& data_dir, bool create) {
  init_sodium();
  NodeKeyResult r;
  const auto path = data_dir / kNodeKeyFile;
  auto read_key = [&]() -> bool {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno != ENOENT) r.error = "cannot read " + path.string() + ": " + std::strerror(errno);
      return false;
    }
    NodeKey k{};
    std::array<std::uint8_t, 33> buf{};  // one more: a longer file is wrong too
    const auto n = ::read(fd, buf.data(), buf.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(k.size())) {
      r.error = path.string() + " is not a token key (32 bytes)";
      return false;
    }
    std::copy_n(buf.begin(), k.size(), k.begin());
    r.key = k;
    return true;
  };
  if (read_key() || !r.error.empty() || !create) return r;
  // Written whole under another name, then linked into place: a concurrent
  // reader never sees half a key, and a concurrent creator's key wins whole.
  NodeKey k{};
  randombytes_buf(k.data(), k.size());
  const auto tmp = data_dir / (std::string(kNodeKeyFile) + ".new-" + new_token_id());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    r.error = "cannot create " + tmp.string() + ": " + std::strerror(errno);
    return r;
  }
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, k.data(), k.size()) == static_cast<ssize_t>(k.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  sodium_memzero(k.data(), k.size());
  if (!ok) {
    ::unlink(tmp.c_str());
    r.error = "cannot write " + tmp.string() + ": " + std::strerror(err);
    return r;
  }
  const bool linked = ::link(tmp.c_str(), path.c_str()) == 0;
  const int link_err = errno;
  ::unlink(tmp.c_str());
  if (!linked && link_err != EEXIST) {
    r.error = "cannot create " + path.string() + ": " + std::strerror(link_err);
    return r;
  }
  read_key();
  return r;
}

std::shared_ptr<const TokenTable> TokenTable::build(std::vector<TokenKey> keys) {
  std::shared_ptr<TokenTable> t(new TokenTable());
  t->by_id_.reserve(keys.size());
  for (auto& k : keys) {
    auto id = k.info.id;
    t->by_id_.emplace(std::move(id), std::move(k));
  }
  return t;
}

const TokenKey* TokenTable::find(std::string_view id) const {
  // Heterogeneous lookup of unordered_map needs a transparent hash; ids are short.
  const auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &it->second;
}

std::vector<const TokenKey*> TokenTable::of_device(std::string_view device) const {
  std::vector<const TokenKey*> out;
  for (const auto& [id, k] : by_id_) {
    if (k.info.device == device) out.push_back(&k);
  }
  std::sort(out.begin(), out.end(),
            [](const TokenKey* a, const TokenKey* b) { return a->info.id < b->info.id; });
  return out;
}

}  // namespace pweb::registrar
