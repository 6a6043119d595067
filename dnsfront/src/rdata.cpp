#include "pweb/dns/rdata.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace pweb::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

constexpr std::size_t kMaxRdata = 65535;
constexpr std::size_t kMaxCharString = 255;
constexpr std::size_t kMaxCaaTag = 15;

struct TypeName {
  std::uint16_t type;
  std::string_view name;
};
constexpr std::array<TypeName, 17> kTypeNames{{
    {type::A, "A"},
    {type::NS, "NS"},
    {type::CNAME, "CNAME"},
    {type::SOA, "SOA"},
    {type::MX, "MX"},
    {type::TXT, "TXT"},
    {type::AAAA, "AAAA"},
    {type::SRV, "SRV"},
    {type::OPT, "OPT"},
    {type::TLSA, "TLSA"},
    {type::SVCB, "SVCB"},
    {type::HTTPS, "HTTPS"},
    {type::TSIG, "TSIG"},
    {type::IXFR, "IXFR"},
    {type::AXFR, "AXFR"},
    {type::ANY, "ANY"},
    {type::CAA, "CAA"},
}};

// SvcParamKeys of RFC 9460 §14.3.2 that have a presentation syntax of their own.
namespace svc {
constexpr std::uint16_t mandatory = 0;
constexpr std::uint16_t alpn = 1;
constexpr std::uint16_t no_default_alpn = 2;
constexpr std::uint16_t port = 3;
constexpr std::uint16_t ipv4hint = 4;
constexpr std::uint16_t ech = 5;
constexpr std::uint16_t ipv6hint = 6;
constexpr std::uint16_t invalid = 65535;
constexpr std::array<std::string_view, 7> kNames{"mandatory", "alpn", "no-default-alpn", "port",
                                                 "ipv4hint",  "ech",  "ipv6hint"};
}  // namespace svc

constexpr char upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - ('a' - 'A')) : c;
}
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(std::uint8_t c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
// Bytes a name label may hold: we print names without escapes, and name_from_text
// knows none, so anything that would need one (or confuse a zone file) is refused.
constexpr bool name_byte_ok(std::uint8_t c) noexcept {
  return c > 0x20 && c < 0x7F && c != '.' && c != '\\' && c != '"' && c != '(' && c != ')' &&
         c != ';';
}

// ---- Tokens and character-strings (RFC 1035 §5.1) ----

struct Token {
  std::string_view raw;  // without the surrounding quotes when quoted; escapes not decoded
  bool quoted = false;
};

// Moves i past a quoted section whose opening quote is at i-1; false if unterminated.
bool skip_quoted(std::string_view s, std::size_t& i) noexcept {
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  if (i >= s.size()) return false;
  ++i;
  return true;
}

// Splits at whitespace. An unquoted token may hold a quoted part (alpn="h2,h3").
std::string tokenize(std::string_view s, std::vector<Token>& out) {
  std::size_t i = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) return {};
    const std::size_t start = i;
    if (s[i] == '"') {
      ++i;
      if (!skip_quoted(s, i)) return "unterminated quoted string";
      out.push_back({s.substr(start + 1, i - start - 2), true});
      continue;
    }
    while (i < s.size() && !is_space(s[i])) {
      if (s[i] == '\\') {
        i += 2;
      } else if (s[i++] == '"') {
        if (!skip_quoted(s, i)) return "unterminated quoted string";
      }
    }
    i = std::min(i, s.size());
    out.push_back({s.substr(start, i - start), false});
  }
}

// Decodes \X and \DDD escapes; an unescaped quote is an error.
std::string decode_string(std::string_view raw, Bytes& out) {
  for (std::size_t i = 0; i < raw.size();) {
    const char c = raw[i];
    if (c == '"') return "unexpected quote";
    if (c != '\\') {
      out.push_back(static_cast<std::uint8_t>(c));
      ++i;
      continue;
    }
    if (i + 1 >= raw.size()) return "backslash at the end of a string";
    if (!is_digit(raw[i + 1])) {
      out.push_back(static_cast<std::uint8_t>(raw[i + 1]));
      i += 2;
      continue;
    }
    if (i + 3 >= raw.size() || !is_digit(raw[i + 2]) || !is_digit(raw[i + 3]))
      return "\\DDD escape needs three digits";
    const int v = (raw[i + 1] - '0') * 100 + (raw[i + 2] - '0') * 10 + (raw[i + 3] - '0');
    if (v > 255) return "\\DDD escape above 255";
    out.push_back(static_cast<std::uint8_t>(v));
    i += 4;
  }
  return {};
}

void append_escaped(std::string& out, std::uint8_t c) {
  if (c == '"' || c == '\\') {
    out.push_back('\\');
    out.push_back(static_cast<char>(c));
  } else if (c < 0x20 || c >= 0x7F) {
    std::array<char, 5> buf{};
    std::snprintf(buf.data(), buf.size(), "\\%03u", static_cast<unsigned>(c));
    out.append(buf.data(), 4);
  } else {
    out.push_back(static_cast<char>(c));
  }
}

void append_quoted(std::string& out, ByteSpan bytes) {
  out.push_back('"');
  for (auto c : bytes) append_escaped(out, c);
  out.push_back('"');
}

// ---- Fields ----

// Input echoed in an error: printable ASCII only and short, so that the message is
// always valid UTF-8 (it may end up in JSON) and bounded.
std::string quote_input(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  for (char c : s.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  if (s.size() > kMax) out += "...";
  return out + "'";
}

bool parse_uint(const Token& t, std::uint32_t max, std::uint32_t& v) noexcept {
  if (t.quoted || t.raw.empty() || t.raw.size() > 10) return false;
  std::uint64_t x = 0;
  for (char c : t.raw) {
    if (!is_digit(c)) return false;
    x = x * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (x > max) return false;
  v = static_cast<std::uint32_t>(x);
  return true;
}

void put16(Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// An absolute name, through the one name parser (name_from_text).
std::string parse_name(const Token& t, std::string_view what, Bytes& out) {
  const std::string w(what);
  if (t.quoted) return w + " must not be quoted";
  const auto s = t.raw;
  if (s.empty() || s.back() != '.') return w + " must be absolute (end in '.')";
  for (char c : s) {
    if (c != '.' && !name_byte_ok(static_cast<std::uint8_t>(c)))
      return w + " has a character that would need an escape (not supported)";
  }
  Name n;
  if (!name_from_text(s, n)) {
    // name_from_text only says no; say why.
    if (s.front() == '.' || s.find("..") != std::string_view::npos)
      return w + " has an empty label";
    std::size_t label = 0;
    for (char c : s) {
      label = c == '.' ? 0 : label + 1;
      if (label > kMaxLabelSize) return w + " has a label longer than 63 bytes";
    }
    return w + " is longer than 255 bytes";
  }
  const auto b = n.bytes();
  out.insert(out.end(), b.begin(), b.end());
  return {};
}

bool name_printable(const Name& n) noexcept {
  for (std::size_t i = 0; i < n.labels; ++i) {
    for (auto c : n.label(i)) {
      if (!name_byte_ok(c)) return false;
    }
  }
  return true;
}

// Reads a name inside rdata; pointers only where the type allows compression.
std::string read_rdata_name(WireReader& r, std::string_view what, bool allow_pointer, Name& n) {
  const std::string w(what);
  const std::size_t start = r.pos();
  if (!read_name(r, n)) return w + ": malformed name (truncated, bad label or bad pointer)";
  // Without a pointer the reader moved by exactly the name's size; with one, by the
  // labels before it plus 2, which never equals the size (a suffix is 1 or >= 3 bytes).
  if (!allow_pointer && r.pos() - start != n.size) return w + ": compressed name not allowed";
  if (!name_printable(n)) return w + ": name has a byte that cannot be written without escapes";
  return {};
}

std::string hex_decode(std::span<const Token> tokens, Bytes& out) {
  std::string digits;
  for (const auto& t : tokens) {
    if (t.quoted) return "hex data must not be quoted";
    digits.append(t.raw);
  }
  if (digits.size() % 2 != 0) return "hex data has an odd number of digits";
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int hi = nibble(digits[i]);
    const int lo = nibble(digits[i + 1]);
    if (hi < 0 || lo < 0) return "hex data has a non-hex character";
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return {};
}

void append_hex(std::string& out, ByteSpan bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
}

std::string ip_to_text(int family, ByteSpan addr) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_ntop(family, addr.data(), buf.data(), buf.size()) == nullptr) return {};
  return buf.data();
}

bool ip_from_text(int family, std::string_view text, Bytes& out) {
  if (text.find('\0') != std::string_view::npos) return false;  // inet_pton would stop there
  const std::string s(text);                                    // it needs a terminated string
  std::array<std::uint8_t, 16> addr{};
  if (s.size() > INET6_ADDRSTRLEN || inet_pton(family, s.c_str(), addr.data()) != 1) return false;
  out.insert(out.end(), addr.begin(), addr.begin() + (family == AF_INET ? 4 : 16));
  return true;
}

// ---- SVCB / HTTPS (RFC 9460) ----

std::optional<std::uint16_t> svc_key_from_text(std::string_view s) noexcept {
  for (std::size_t i = 0; i < svc::kNames.size(); ++i) {
    if (s == svc::kNames[i]) return static_cast<std::uint16_t>(i);
  }
  if (s.size() < 4 || s.size() > 8 || s.substr(0, 3) != "key") return std::nullopt;
  const auto digits = s.substr(3);
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;  // no leading zeros
  std::uint32_t v = 0;
  if (!parse_uint(Token{digits, false}, 65535, v)) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::string svc_key_to_text(std::uint16_t key) {
  if (key < svc::kNames.size()) return std::string(svc::kNames[key]);
  return "key" + std::to_string(key);
}

// Splits a decoded value-list at commas; "\," and "\\" escape (RFC 9460 Appendix A.1).
std::string split_list(ByteSpan value, std::vector<Bytes>& items) {
  items.emplace_back();
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == ',') {
      items.emplace_back();
    } else if (value[i] == '\\') {
      if (++i >= value.size()) return "list ends in a backslash";
      items.back().push_back(value[i]);
    } else {
      items.back().push_back(value[i]);
    }
  }
  for (const auto& item : items) {
    if (item.empty()) return "empty item in a list";
  }
  return {};
}

// Checks one SvcParamValue in wire form. Shared by text and wire input, so that what
// one accepts the other prints and reparses.
std::string check_svc_value(std::uint16_t key, ByteSpan v) {
  const std::string k = svc_key_to_text(key);
  switch (key) {
    case svc::mandatory: {
      if (v.empty() || v.size() % 2 != 0) return "mandatory: needs a list of keys";
      std::uint32_t prev = 0;
      for (std::size_t i = 0; i < v.size(); i += 2) {
        const std::uint32_t m = (std::uint32_t{v[i]} << 8) | v[i + 1];
        if (m == svc::mandatory) return "mandatory: must not list itself";
        if (i > 0 && m <= prev) return "mandatory: keys repeated or not in increasing order";
        prev = m;
      }
      return {};
    }
    case svc::alpn: {
      if (v.empty()) return "alpn: needs at least one protocol id";
      for (std::size_t i = 0; i < v.size(); i += 1 + v[i]) {
        if (v[i] == 0) return "alpn: empty protocol id";
        if (i + 1 + v[i] > v.size()) return "alpn: protocol id runs past the value";
      }
      return {};
    }
    case svc::no_default_alpn:
      return v.empty() ? std::string() : "no-default-alpn: takes no value";
    case svc::port:
      return v.size() == 2 ? std::string() : "port: value must be 2 bytes";
    case svc::ipv4hint:
      return (!v.empty() && v.size() % 4 == 0) ? std::string()
                                               : "ipv4hint: needs one or more IPv4 addresses";
    case svc::ech:
      return v.empty() ? "ech: empty ECHConfigList" : std::string();
    case svc::ipv6hint:
      return (!v.empty() && v.size() % 16 == 0) ? std::string()
                                                : "ipv6hint: needs one or more IPv6 addresses";
    case svc::invalid:
      return "key65535 is reserved";
    default:
      return {};
  }
}

using SvcParams = std::vector<std::pair<std::uint16_t, Bytes>>;

// Rules across params (RFC 9460 §2.4.3, §7, §8); `params` sorted by key.
std::string check_svc_params(std::uint32_t priority, const SvcParams& params) {
  if (priority == 0 && !params.empty()) return "AliasMode (priority 0) takes no SvcParams";
  // Binary search: keys are checked increasing before use, and a hostile rdata may
  // hold thousands of params and mandatory keys.
  auto has = [&](std::uint16_t key) {
    const auto it = std::lower_bound(params.begin(), params.end(), key,
                                     [](const auto& p, std::uint16_t k) { return p.first < k; });
    return it != params.end() && it->first == key;
  };
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i > 0 && params[i].first <= params[i - 1].first)
      return "SvcParams not in strictly increasing key order";
    if (auto e = check_svc_value(params[i].first, params[i].second); !e.empty()) return e;
  }
  if (!params.empty() && params.front().first == svc::mandatory) {
    const auto& m = params.front().second;
    for (std::size_t i = 0; i + 1 < m.size(); i += 2) {
      const auto key = static_cast<std::uint16_t>((m[i] << 8) | m[i + 1]);
      if (!has(key)) return "mandatory: key " + svc_key_to_text(key) + " is missing";
    }
  }
  if (has(svc::no_default_alpn) && !has(svc::alpn)) return "no-default-alpn requires alpn";
  return {};
}

std::string svc_value_from_text(std::uint16_t key, ByteSpan value, Bytes& out) {
  if (key == svc::no_default_alpn || key >= svc::kNames.size()) {
    out.assign(value.begin(), value.end());
    return {};
  }
  if (key == svc::ech) {
    const std::string b64(value.begin(), value.end());
    out.resize(b64.size());
    std::size_t len = 0;
    if (b64.empty() || sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr,
                                         &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
      return "ech: invalid base64";
    out.resize(len);
    return {};
  }
  if (key == svc::port) {
    std::uint32_t port = 0;
    const std::string_view s(reinterpret_cast<const char*>(value.data()), value.size());
    if (!parse_uint(Token{s, false}, 65535, port)) return "port: must be 0-65535";
    put16(out, port);
    return {};
  }
  std::vector<Bytes> items;
  if (auto e = split_list(value, items); !e.empty()) return svc_key_to_text(key) + ": " + e;
  std::vector<std::uint16_t> keys;
  for (const auto& item : items) {
    const std::string_view s(reinterpret_cast<const char*>(item.data()), item.size());
    if (key == svc::alpn) {
      if (item.size() > kMaxCharString) return "alpn: protocol id longer than 255 bytes";
      out.push_back(static_cast<std::uint8_t>(item.size()));
      out.insert(out.end(), item.begin(), item.end());
    } else if (key == svc::mandatory) {
      const auto k = svc_key_from_text(s);
      if (!k) return "mandatory: unknown key " + quote_input(s);
      keys.push_back(*k);
    } else if (!ip_from_text(key == svc::ipv4hint ? AF_INET : AF_INET6, s, out)) {
      return svc_key_to_text(key) + ": invalid address " + quote_input(s);
    }
  }
  std::sort(keys.begin(), keys.end());  // wire order is increasing (RFC 9460 §7)
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (keys[i] == keys[i - 1])
      return "mandatory: key " + svc_key_to_text(keys[i]) + " listed twice";
  }
  for (auto k : keys) put16(out, k);
  return {};
}

std::string parse_svcb(std::span<const Token> t, Bytes& out) {
  if (t.size() < 2) return "expected: priority target [params...]";
  std::uint32_t priority = 0;
  if (!parse_uint(t[0], 65535, priority)) return "priority must be 0-65535";
  put16(out, priority);
  if (auto e = parse_name(t[1], "target name", out); !e.empty()) return e;
  SvcParams params;
  for (const auto& tok : t.subspan(2)) {
    if (tok.quoted) return "a SvcParam must not be quoted as a whole";
    const auto eq = tok.raw.find('=');
    const auto name = tok.raw.substr(0, eq);
    const auto key = svc_key_from_text(name);
    if (!key) return "unknown SvcParam key " + quote_input(name);
    Bytes value;
    if (eq != std::string_view::npos) {
      auto raw = tok.raw.substr(eq + 1);
      if (!raw.empty() && raw.front() == '"') {
        if (raw.size() < 2 || raw.back() != '"') return "SvcParam value has a stray quote";
        raw = raw.substr(1, raw.size() - 2);
      }
      Bytes decoded;
      if (auto e = decode_string(raw, decoded); !e.empty()) return svc_key_to_text(*key) + ": " + e;
      if (*key == svc::no_default_alpn) return "no-default-alpn: takes no value";
      if (auto e = svc_value_from_text(*key, decoded, value); !e.empty()) return e;
    } else if (*key < svc::kNames.size() && *key != svc::no_default_alpn) {
      return svc_key_to_text(*key) + ": needs a value";
    }
    if (value.size() > 65535) return svc_key_to_text(*key) + ": value longer than 65535 bytes";
    params.emplace_back(*key, std::move(value));
  }
  std::sort(params.begin(), params.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < params.size(); ++i) {
    if (params[i].first == params[i - 1].first)
      return "SvcParam key " + svc_key_to_text(params[i].first) + " appears twice";
  }
  if (auto e = check_svc_params(priority, params); !e.empty()) return e;
  for (const auto& [key, value] : params) {
    put16(out, key);
    put16(out, static_cast<std::uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  return {};
}

std::string print_svc_value(std::uint16_t key, ByteSpan v) {
  std::string out;
  switch (key) {
    case svc::mandatory:
      for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
        if (i > 0) out.push_back(',');
        out += svc_key_to_text(static_cast<std::uint16_t>((v[i] << 8) | v[i + 1]));
      }
      return out;
    case svc::alpn: {
      // Two levels of escaping: ',' and '\' inside an id, then the character-string.
      Bytes list;
      for (std::size_t i = 0; i < v.size(); i += 1 + v[i]) {
        if (i > 0) list.push_back(',');
        for (auto c : v.subspan(i + 1, v[i])) {
          if (c == ',' || c == '\\') list.push_back('\\');
          list.push_back(c);
        }
      }
      append_quoted(out, list);
      return out;
    }
    case svc::port:
      return std::to_string((v[0] << 8) | v[1]);
    case svc::ipv4hint:
    case svc::ipv6hint: {
      const bool v4 = key == svc::ipv4hint;
      const std::size_t n = v4 ? 4 : 16;
      for (std::size_t i = 0; i < v.size(); i += n) {
        if (i > 0) out.push_back(',');
        out += ip_to_text(v4 ? AF_INET : AF_INET6, v.subspan(i, n));
      }
      return out;
    }
    case svc::ech: {
      std::string b64(sodium_base64_ENCODED_LEN(v.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(b64.data(), b64.size(), v.data(), v.size(), sodium_base64_VARIANT_ORIGINAL);
      b64.resize(b64.size() - 1);  // the terminating NUL
      return b64;
    }
    default:
      append_quoted(out, v);
      return out;
  }
}

// ---- Per-type text parsers: tokens -> wire; return an error without the type prefix ----

std::string want_fields(std::span<const Token> t, std::size_t n, std::string_view form) {
  if (t.size() == n) return {};
  return "expected " + std::to_string(n) + (n == 1 ? " field" : " fields") + " (" +
         std::string(form) + "), got " + std::to_string(t.size());
}

std::string parse_text(std::uint16_t rtype, std::span<const Token> t, Bytes& out) {
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::uint32_t c = 0;
  switch (rtype) {
    case type::A:
    case type::AAAA: {
      const bool v4 = rtype == type::A;
      if (auto e = want_fields(t, 1, "address"); !e.empty()) return e;
      if (t[0].quoted || !ip_from_text(v4 ? AF_INET : AF_INET6, t[0].raw, out))
        return v4 ? "invalid IPv4 address" : "invalid IPv6 address";
      return {};
    }
    case type::CNAME:
      if (auto e = want_fields(t, 1, "name"); !e.empty()) return e;
      return parse_name(t[0], "name", out);
    case type::MX:
      if (auto e = want_fields(t, 2, "preference exchange"); !e.empty()) return e;
      if (!parse_uint(t[0], 65535, a)) return "preference must be 0-65535";
      put16(out, a);
      return parse_name(t[1], "exchange name", out);
    case type::SRV:
      if (auto e = want_fields(t, 4, "priority weight port target"); !e.empty()) return e;
      if (!parse_uint(t[0], 65535, a)) return "priority must be 0-65535";
      if (!parse_uint(t[1], 65535, b)) return "weight must be 0-65535";
      if (!parse_uint(t[2], 65535, c)) return "port must be 0-65535";
      put16(out, a);
      put16(out, b);
      put16(out, c);
      return parse_name(t[3], "target name", out);
    case type::TXT:
      if (t.empty()) return "at least one string required";
      for (const auto& tok : t) {
        Bytes s;
        if (auto e = decode_string(tok.raw, s); !e.empty()) return e;
        if (s.size() > kMaxCharString) return "string longer than 255 bytes";
        out.push_back(static_cast<std::uint8_t>(s.size()));
        out.insert(out.end(), s.begin(), s.end());
      }
      return {};
    case type::CAA: {
      if (auto e = want_fields(t, 3, "flags tag value"); !e.empty()) return e;
      if (!parse_uint(t[0], 255, a)) return "flags must be 0-255";
      const auto tag = t[1].raw;
      if (t[1].quoted || tag.empty() || tag.size() > kMaxCaaTag ||
          !std::all_of(tag.begin(), tag.end(),
                       [](char ch) { return is_alnum(static_cast<std::uint8_t>(ch)); }))
        return "tag must be 1-15 letters and digits";
      Bytes value;
      if (auto e = decode_string(t[2].raw, value); !e.empty()) return e;
      out.push_back(static_cast<std::uint8_t>(a));
      out.push_back(static_cast<std::uint8_t>(tag.size()));
      out.insert(out.end(), tag.begin(), tag.end());
      out.insert(out.end(), value.begin(), value.end());
      return {};
    }
    case type::TLSA:
      if (t.size() < 4) return "expected: usage selector matching-type hex-data";
      if (!parse_uint(t[0], 255, a)) return "usage must be 0-255";
      if (!parse_uint(t[1], 255, b)) return "selector must be 0-255";
      if (!parse_uint(t[2], 255, c)) return "matching type must be 0-255";
      out.push_back(static_cast<std::uint8_t>(a));
      out.push_back(static_cast<std::uint8_t>(b));
      out.push_back(static_cast<std::uint8_t>(c));
      return hex_decode(t.subspan(3), out);
    case type::SVCB:
    case type::HTTPS:
      return parse_svcb(t, out);
    default:
      return "type not supported";
  }
}

// ---- Wire rdata -> text, checking it fully; returns an error without the type prefix ----

std::string print_wire(std::uint16_t rtype, ByteSpan rd, std::string& out) {
  WireReader r(rd);
  Name n;
  switch (rtype) {
    case type::A:
    case type::AAAA: {
      const bool v4 = rtype == type::A;
      if (rd.size() != (v4 ? 4u : 16u))
        return v4 ? "rdata must be 4 bytes" : "rdata must be 16 bytes";
      out = ip_to_text(v4 ? AF_INET : AF_INET6, rd);
      return {};
    }
    case type::CNAME:
      if (auto e = read_rdata_name(r, "name", false, n); !e.empty()) return e;
      out = name_to_text(n);
      break;
    case type::MX: {
      const auto pref = r.u16();
      if (!r.ok()) return "rdata too short";
      if (auto e = read_rdata_name(r, "exchange name", false, n); !e.empty()) return e;
      out = std::to_string(pref) + " " + name_to_text(n);
      break;
    }
    case type::SRV: {
      const auto prio = r.u16();
      const auto weight = r.u16();
      const auto port = r.u16();
      if (!r.ok()) return "rdata too short";
      if (auto e = read_rdata_name(r, "target name", false, n); !e.empty()) return e;
      out = std::to_string(prio) + " " + std::to_string(weight) + " " + std::to_string(port) + " " +
            name_to_text(n);
      break;
    }
    case type::TXT:
      if (rd.empty()) return "at least one string required";
      while (r.remaining() > 0) {
        const auto s = r.bytes(r.u8());
        if (!r.ok()) return "string runs past the end of the rdata";
        if (!out.empty()) out.push_back(' ');
        append_quoted(out, s);
      }
      break;
    case type::CAA: {
      const auto flags = r.u8();
      const auto tag = r.bytes(r.u8());
      if (!r.ok()) return "rdata too short";
      if (tag.empty() || tag.size() > kMaxCaaTag || !std::all_of(tag.begin(), tag.end(), is_alnum))
        return "tag must be 1-15 letters and digits";
      out = std::to_string(flags) + " " + std::string(tag.begin(), tag.end()) + " ";
      append_quoted(out, r.bytes(r.remaining()));
      break;
    }
    case type::TLSA: {
      const auto usage = r.u8();
      const auto selector = r.u8();
      const auto mtype = r.u8();
      if (!r.ok() || r.remaining() == 0) return "rdata too short";
      out = std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) +
            " ";
      append_hex(out, r.bytes(r.remaining()));
      break;
    }
    case type::SVCB:
    case type::HTTPS: {
      const auto priority = r.u16();
      if (!r.ok()) return "rdata too short";
      if (auto e = read_rdata_name(r, "target name", false, n); !e.empty()) return e;
      SvcParams params;
      while (r.remaining() > 0) {
        const auto key = r.u16();
        const auto value = r.bytes(r.u16());
        if (!r.ok()) return "SvcParam runs past the end of the rdata";
        params.emplace_back(key, Bytes(value.begin(), value.end()));
      }
      if (auto e = check_svc_params(priority, params); !e.empty()) return e;
      out = std::to_string(priority) + " " + name_to_text(n);
      for (const auto& [key, value] : params) {
        out += " " + svc_key_to_text(key);
        if (key == svc::no_default_alpn || (key >= svc::kNames.size() && value.empty())) continue;
        out += "=" + print_svc_value(key, value);
      }
      return {};
    }
    default:
      return "type not supported";
  }
  if (r.remaining() != 0) return "trailing bytes after the rdata";
  return {};
}

std::string generic_text(ByteSpan rd) {
  std::string out = "\\# " + std::to_string(rd.size());
  if (!rd.empty()) out.push_back(' ');
  append_hex(out, rd);
  return out;
}

std::string prefixed(std::uint16_t rtype, std::string_view error) {
  return rrtype_to_text(rtype) + ": " + std::string(error);
}

}  // namespace

bool is_record_type(std::uint16_t t) noexcept {
  switch (t) {
    case type::A:
    case type::AAAA:
    case type::TXT:
    case type::CNAME:
    case type::MX:
    case type::SRV:
    case type::CAA:
    case type::TLSA:
    case type::HTTPS:
    case type::SVCB:
      return true;
    default:
      return false;
  }
}

std::optional<std::uint16_t> rrtype_from_text(std::string_view text) noexcept {
  for (const auto& tn : kTypeNames) {
    if (tn.name.size() == text.size() && std::equal(text.begin(), text.end(), tn.name.begin(),
                                                    [](char x, char y) { return upper(x) == y; }))
      return tn.type;
  }
  // RFC 3597 §5: TYPE followed by the decimal number.
  if (text.size() < 5 || text.size() > 9) return std::nullopt;
  for (std::size_t i = 0; i < 4; ++i) {
    if (upper(text[i]) != "TYPE"[i]) return std::nullopt;
  }
  std::uint32_t v = 0;
  if (!parse_uint(Token{text.substr(4), false}, 65535, v)) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::string rrtype_to_text(std::uint16_t t) {
  for (const auto& tn : kTypeNames) {
    if (tn.type == t) return std::string(tn.name);
  }
  return "TYPE" + std::to_string(t);
}

RdataResult rdata_from_text(std::uint16_t rtype, std::string_view text) {
  RdataResult res;
  if (!is_record_type(rtype)) {
    res.error = prefixed(rtype, "type not supported");
    return res;
  }
  std::vector<Token> tokens;
  if (auto e = tokenize(text, tokens); !e.empty()) {
    res.error = prefixed(rtype, e);
    return res;
  }
  if (!tokens.empty() && !tokens[0].quoted && tokens[0].raw == "\\#") {
    // RFC 3597 generic form: checked as wire rdata of the type.
    std::uint32_t len = 0;
    if (tokens.size() < 2 || !parse_uint(tokens[1], 65535, len)) {
      res.error = prefixed(rtype, "generic rdata: expected \\# LENGTH HEX");
      return res;
    }
    Bytes wire;
    if (auto e = hex_decode(std::span(tokens).subspan(2), wire); !e.empty()) {
      res.error = prefixed(rtype, "generic rdata: " + e);
      return res;
    }
    if (wire.size() != len) {
      res.error = prefixed(rtype, "generic rdata: length does not match the hex data");
      return res;
    }
    std::string ignored;
    if (auto e = print_wire(rtype, wire, ignored); !e.empty()) {
      res.error = prefixed(rtype, e);
      return res;
    }
    res.wire = std::move(wire);
    return res;
  }
  if (auto e = parse_text(rtype, tokens, res.wire); !e.empty()) {
    res.wire.clear();
    res.error = prefixed(rtype, e);
  } else if (res.wire.size() > kMaxRdata) {
    res.wire.clear();
    res.error = prefixed(rtype, "rdata longer than 65535 bytes");
  }
  return res;
}

std::string rdata_to_text(std::uint16_t rtype, std::span<const std::uint8_t> rdata) {
  std::string out;
  if (!is_record_type(rtype) || !print_wire(rtype, rdata, out).empty()) return generic_text(rdata);
  return out;
}

RdataResult rdata_from_wire(std::uint16_t rtype, std::span<const std::uint8_t> message,
                            std::size_t rdata_offset, std::size_t rdlength) {
  RdataResult res;
  if (!is_record_type(rtype)) {
    res.error = prefixed(rtype, "type not supported");
    return res;
  }
  if (rdata_offset > message.size() || rdlength > message.size() - rdata_offset) {
    res.error = prefixed(rtype, "rdata runs past the end of the message");
    return res;
  }
  const auto rd = message.subspan(rdata_offset, rdlength);
  if (rtype == type::CNAME || rtype == type::MX) {
    // RFC 1035 names here may point anywhere earlier in the message, but their own
    // labels must lie within RDLENGTH: the reader ends where the rdata ends.
    WireReader r(message.first(rdata_offset + rdlength));
    r.seek(rdata_offset);
    if (rtype == type::MX) {
      const auto pref = r.u16();
      if (!r.ok()) {
        res.error = prefixed(rtype, "rdata too short");
        return res;
      }
      put16(res.wire, pref);
    }
    Name n;
    if (auto e = read_rdata_name(r, rtype == type::MX ? "exchange name" : "name", true, n);
        !e.empty()) {
      res.wire.clear();
      res.error = prefixed(rtype, e);
      return res;
    }
    if (r.pos() != rdata_offset + rdlength) {
      res.wire.clear();
      res.error = prefixed(rtype, "trailing bytes after the rdata");
      return res;
    }
    const auto b = n.bytes();
    res.wire.insert(res.wire.end(), b.begin(), b.end());
    return res;
  }
  std::string ignored;
  if (auto e = print_wire(rtype, rd, ignored); !e.empty()) {
    res.error = prefixed(rtype, e);
    return res;
  }
  res.wire.assign(rd.begin(), rd.end());
  return res;
}

}  // namespace pweb::dns
