#pragma once
// DNS over HTTPS (RFC 8484) without the HTTP library: a request's DNS message
// from a GET's `dns` parameter or a POST's body, and the HTTP answer to it.
// Shared by the HTTP/1.1 routes and the HTTP/2 sessions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/rest/dns_query_service.hpp"

namespace pweb::rest {

inline constexpr const char* kDohPath = "/dns-query";
inline constexpr const char* kDnsMessageType = "application/dns-message";
inline constexpr std::size_t kMaxDnsMessage = 65535;  // the DNS message's 16-bit length
inline constexpr std::size_t kDnsHeader = 12;

// A DoH request's DNS message, or the 4xx that refuses it.
struct DohRequest {
  int status = 0;     // not 0: refused with this status ...
  std::string error;  // ... saying this
  std::vector<std::uint8_t> message;
  bool refused() const noexcept { return status != 0; }
};

// Base64url without padding (RFC 4648 5, as RFC 8484 6 asks); nullopt if
// `text` is not exactly that.
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

// The value of the parameter `name` in a URL's query part ("ct=x&dns=AAAB"),
// percent-decoded; nullopt if absent or its percent-encoding is broken.
std::optional<std::string> query_parameter(std::string_view query, std::string_view name);

// GET: `dns` is the parameter's value, nullopt when the parameter is absent.
DohRequest doh_from_get(const std::optional<std::string>& dns);
// POST: the Content-Type field's value and the body.
DohRequest doh_from_post(std::string_view content_type, std::string_view body);

struct DohResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string cache_control;  // empty: no Cache-Control field
};

// The HTTP answer to `request`: the DNS response with its freshness as
// `max-age`, or a JSON error naming what was wrong.
DohResponse doh_respond(DnsQueryService& service, const DohRequest& request);
// Its two halves: the JSON error for a refused request, and the HTTP answer
// for the service's response (400 when there is none).
DohResponse doh_refusal(const DohRequest& refused);
DohResponse doh_answer(std::span<const std::uint8_t> response);

}  // namespace pweb::rest
