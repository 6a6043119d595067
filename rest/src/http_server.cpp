#include "pweb/rest/http_server.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace pweb::rest {
namespace {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

nlohmann::json to_json(const StatusInfo& s) {
  return {{"version", s.version},
          {"label", s.label},
          {"zones", s.zones},
          {"devices", s.devices},
          {"serial", s.serial},
          {"started", s.started},
          {"dns", {{"udp_queries", s.dns_udp_queries}, {"tcp_queries", s.dns_tcp_queries}}}};
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(const StatusService& s) : status(s) {}
  const StatusService& status;
  httplib::Server server;
  std::thread thread;
};

HttpServer::HttpServer(const StatusService& status) : impl_(std::make_unique<Impl>(status)) {
  auto& srv = impl_->server;
  srv.set_payload_max_length(64 * 1024);
  srv.set_read_timeout(10, 0);
  srv.set_write_timeout(10, 0);
  srv.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, to_json(impl_->status.status()));
  });
  srv.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      send_json(res, res.status,
                {{"error",
                  res.status == 404 ? "no such endpoint" : "HTTP " + std::to_string(res.status)}});
    }
  });
  // One catch per request: an unexpected failure is a 500 with a JSON error.
  srv.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_json(res, 500, {{"error", what}});
      });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& host, std::uint16_t port) {
  if (!impl_->server.bind_to_port(host, port)) {
    throw HttpError("cannot listen for HTTP on " + host + ":" + std::to_string(port));
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pweb::rest
