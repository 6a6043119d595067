#include "doh.hpp"

#include <sodium.h>

#include <algorithm>

#include "pweb/dns/freshness.hpp"

namespace pweb::rest {
namespace {

DohRequest refuse(int status, std::string error) {
  DohRequest r;
  r.status = status;
  r.error = std::move(error);
  return r;
}

DohRequest checked(std::vector<std::uint8_t> message) {
  if (message.size() > kMaxDnsMessage) {
    return refuse(413, "DNS message larger than " + std::to_string(kMaxDnsMessage) + " bytes");
  }
  if (message.size() < kDnsHeader) {
    return refuse(400, "not a DNS message: " + std::to_string(message.size()) +
                           " bytes, shorter than a DNS header (12)");
  }
  DohRequest r;
  r.message = std::move(message);
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (s.size() - i < 3) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string json_error(const std::string& message) {
  // Our own messages: no quotes or control characters to escape.
  return "{\"error\":\"" + message + "\"}";
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    return lower(x) == lower(y);
  });
}

}  // namespace

std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
  // Base64 never grows: three bytes for four characters.
  std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::optional<std::string> query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return percent_decode(eq == std::string_view::npos ? std::string_view()
                                                         : pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

DohRequest doh_from_get(const std::optional<std::string>& dns) {
  if (!dns) return refuse(400, "missing the dns parameter (the DNS query in base64url)");
  // Longer than any 65535-byte message in base64: not decoded at all.
  if (dns->size() > (kMaxDnsMessage + 2) / 3 * 4) {
    return refuse(413, "DNS message larger than " + std::to_string(kMaxDnsMessage) + " bytes");
  }
  auto message = base64url_decode(*dns);
  if (!message) {
    return refuse(400, "the dns parameter is not base64url without padding (RFC 8484 6)");
  }
  return checked(std::move(*message));
}

DohRequest doh_from_post(std::string_view content_type, std::string_view body) {
  // The media type without parameters, case-insensitive (RFC 9110 8.3.1).
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  if (!iequals(media, kDnsMessageType)) {
    return refuse(415, "Content-Type must be application/dns-message");
  }
  return checked(std::vector<std::uint8_t>(body.begin(), body.end()));
}

DohResponse doh_refusal(const DohRequest& refused) {
  DohResponse out;
  out.status = refused.status;
  out.content_type = "application/json";
  out.body = json_error(refused.error);
  return out;
}

DohResponse doh_answer(std::span<const std::uint8_t> response) {
  DohResponse out;
  const auto freshness = dns::response_freshness(response);
  if (response.empty() || !freshness) {
    out.status = 400;
    out.content_type = "application/json";
    out.body = json_error("not a DNS query (a response, or no DNS message)");
    return out;
  }
  out.content_type = kDnsMessageType;
  out.body.assign(response.begin(), response.end());
  out.cache_control = "max-age=" + std::to_string(*freshness);
  return out;
}

DohResponse doh_respond(DnsQueryService& service, const DohRequest& request) {
  if (request.refused()) return doh_refusal(request);
  return doh_answer(service.answer(request.message));
}

}  // namespace pweb::rest
