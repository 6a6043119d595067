#include "http_util.hpp"

#include <sodium.h>

#include <array>
#include <cctype>
#include <string_view>
#include <vector>

namespace pweb::rest {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

namespace {

// "a", W/"b" -> does the If-None-Match list name `tag` (weak comparison, RFC 9110 13.1.2)?
bool names_tag(std::string_view list, std::string_view tag) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == tag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void send_json_cached(const httplib::Request& req, httplib::Response& res,
                      const nlohmann::json& body) {
  const std::string text = body.dump();
  std::array<unsigned char, 16> hash{};
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (const auto b : hash) {
    tag += kHex[b >> 4];
    tag += kHex[b & 15];
  }
  tag += '"';
  res.set_header("ETag", tag);
  res.set_header("Cache-Control", "no-cache");  // may be stored, but revalidated each time
  if (req.has_header("If-None-Match") && names_tag(req.get_header_value("If-None-Match"), tag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(text, "application/json");
}

std::optional<Credentials> basic_auth(const httplib::Request& req) {
  if (!req.has_header("Authorization")) return std::nullopt;
  const std::string header = req.get_header_value("Authorization");
  // The scheme name is case-insensitive (RFC 7235).
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  const std::string encoded = header.substr(kScheme.size());
  std::vector<unsigned char> decoded(encoded.size());
  std::size_t len = 0;
  if (sodium_base642bin(decoded.data(), decoded.size(), encoded.data(), encoded.size(), " ", &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  const std::string pair(reinterpret_cast<const char*>(decoded.data()), len);
  const auto colon = pair.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{pair.substr(0, colon), pair.substr(colon + 1)};
}

void ask_for_credentials(httplib::Response& res) {
  res.set_header("WWW-Authenticate", "Basic realm=\"pweb\"");
}

}  // namespace pweb::rest
