#pragma once
// HTTP GETs to the registration server (cpp-httplib), with connect/read/write
// timeouts, a cap on the answer size, and HTTP Basic credentials sent up front
// on the requests that need them. Failures are return values.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pweb/registrar/update_policy.hpp"

namespace pweb::updater {

struct HttpOptions {
  std::chrono::seconds timeout{10};
  std::string user_agent;
  std::string ca_file;  // https: extra CA bundle; empty = the system's
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpResult {
  std::optional<HttpResponse> response;
  std::string error;  // why there is no response
};

using Query = std::vector<std::pair<std::string, std::string>>;

class HttpTransport {
 public:
  HttpTransport(registrar::update::ServerUrl url, HttpOptions options)
      : url_(std::move(url)), options_(std::move(options)) {}

  // Empty if this build can talk to the URL's scheme, otherwise why not.
  static std::string unsupported(const registrar::update::ServerUrl& url);

  void set_credentials(std::string user, std::string password) {
    user_ = std::move(user);
    password_ = std::move(password);
  }

  // GET base + path with `query`; `authenticate` adds the Basic credentials.
  HttpResult get(std::string_view path, const Query& query, bool authenticate) const;

  // "host:port" for log lines.
  [[nodiscard]] std::string endpoint() const;

 private:
  registrar::update::ServerUrl url_;
  HttpOptions options_;
  std::string user_;
  std::string password_;
};

}  // namespace pweb::updater
