#include "http_transport.hpp"

#include <httplib.h>

#include <memory>

namespace pweb::updater {
namespace {

constexpr std::size_t kMaxBody = 64 * 1024;  // a DynDNS2 or checkip answer is a line

std::string describe(httplib::Error e, const std::string& endpoint, std::chrono::seconds timeout) {
  const auto secs = std::to_string(timeout.count()) + " s";
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect to " + endpoint;
    case httplib::Error::ConnectionTimeout:
      return "no connection to " + endpoint + " within " + secs;
    case httplib::Error::Read:
      return "no complete answer from " + endpoint + " within " + secs;
    case httplib::Error::Write:
      return "cannot send the request to " + endpoint;
    case httplib::Error::Canceled:
      return "the answer from " + endpoint + " is larger than 64 KiB";
    case httplib::Error::SSLConnection:
      return "TLS handshake with " + endpoint + " failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates (--ca-file)";
    case httplib::Error::SSLServerVerification:
      return "the TLS certificate of " + endpoint +
             " is not trusted or does not match the host (a private CA: --ca-file)";
    default:
      return "request to " + endpoint + " failed (" + httplib::to_string(e) + ")";
  }
}

}  // namespace

std::string HttpTransport::unsupported(const registrar::update::ServerUrl& url) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  (void)url;
  return {};
#else
  if (url.scheme == "https") {
    return "this pweb-update was built with a cpp-httplib without OpenSSL: https:// is not "
           "supported; use http:// (e.g. behind a local TLS proxy)";
  }
  return {};
#endif
}

std::string HttpTransport::endpoint() const {
  const bool v6 = url_.host.find(':') != std::string::npos;
  return (v6 ? "[" + url_.host + "]" : url_.host) + ":" + std::to_string(url_.port);
}

HttpResult HttpTransport::get(std::string_view path, const Query& query, bool authenticate) const {
  std::unique_ptr<httplib::ClientImpl> client;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (url_.scheme == "https") {
    auto ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port);
    if (!options_.ca_file.empty()) ssl->set_ca_cert_path(options_.ca_file);
    ssl->enable_server_certificate_verification(true);
    client = std::move(ssl);
  }
#endif
  if (!client) {
    if (url_.scheme != "http") return {std::nullopt, unsupported(url_)};
    client = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
  }
  const auto t = static_cast<time_t>(options_.timeout.count());
  client->set_connection_timeout(t, 0);
  client->set_read_timeout(t, 0);
  client->set_write_timeout(t, 0);
  client->set_keep_alive(false);
  client->set_follow_location(false);

  httplib::Headers headers{{"User-Agent", options_.user_agent}, {"Accept", "text/plain, */*"}};
  if (authenticate) headers.insert(httplib::make_basic_authentication_header(user_, password_));
  httplib::Params params;
  for (const auto& [k, v] : query) params.emplace(k, v);

  // The timeouts bound each connect, send and receive; a server that trickles
  // its answer is also cut off after two timeouts in all.
  std::string body;
  bool too_slow = false;
  const auto deadline = std::chrono::steady_clock::now() + 2 * options_.timeout;
  const auto receive = [&](const char* data, std::size_t len) {
    if (std::chrono::steady_clock::now() > deadline) {
      too_slow = true;
      return false;
    }
    if (body.size() + len > kMaxBody) return false;
    body.append(data, len);
    return true;
  };
  const auto res = client->Get(url_.base + std::string(path), params, headers, receive);
  if (!res) {
    if (too_slow) return {std::nullopt, "the answer from " + endpoint() + " is too slow"};
    return {std::nullopt, describe(res.error(), endpoint(), options_.timeout)};
  }
  return {HttpResponse{res->status, std::move(body)}, {}};
}

}  // namespace pweb::updater
