#pragma once
// Helpers shared by the route files: JSON answers, Basic auth parsing.
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace pweb::rest {

inline constexpr std::size_t kMaxBody = 64 * 1024;

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& message);
// A 200 JSON answer with a strong ETag of its body; 304 and no body when the
// request's If-None-Match already names that tag (or is "*").
void send_json_cached(const httplib::Request& req, httplib::Response& res,
                      const nlohmann::json& body);

struct Credentials {
  std::string user;
  std::string password;
};
// From "Authorization: Basic base64(user:password)"; nullopt if absent or malformed.
std::optional<Credentials> basic_auth(const httplib::Request& req);
void ask_for_credentials(httplib::Response& res);

}  // namespace pweb::rest
