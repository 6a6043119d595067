#include "http_util.hpp"

#include <sodium.h>

#include <cctype>
#include <vector>

namespace pweb::rest {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
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
