#include "pweb/rest/http_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <array>
#include <nlohmann/json.hpp>
#include <thread>

#include "bounded_server.hpp"
#include "device_routes.hpp"
#include "directory_routes.hpp"
#include "doh.hpp"
#include "doh_routes.hpp"
#include "http_util.hpp"
#include "nic_routes.hpp"
#include "pweb/metrics.hpp"
#include "pweb/registrar/store.hpp"
#include "route_table.hpp"
#include "rrset_routes.hpp"
#include "status_page_routes.hpp"
#include "token_routes.hpp"

namespace pweb::rest {
namespace {

// A keep-alive connection holds a worker for its lifetime, and updates wait for
// their group commit: enough workers that many clients commit together.
constexpr std::size_t kHttpWorkers = 128;
constexpr std::size_t kMaxHeaders = 100;
// An HTTP/2 DoH stream is answered 504 this long after the DNS service's own
// longest wait: only a service that broke its promise meets it.
constexpr std::chrono::seconds kAnswerMargin{1};

nlohmann::json to_json(const StatusInfo& s) {
  return {{"version", s.version},
          {"label", s.label},
          {"zones", s.zones},
          {"devices", s.devices},
          {"serial", s.serial},
          {"started", s.started},
          {"dns", {{"udp_queries", s.dns_udp_queries}, {"tcp_queries", s.dns_tcp_queries}}},
          {"store", {{"commits", s.commits}, {"changes", s.changes}}},
          {"mode", s.mode},
          {"addresses", s.addresses},
          {"ports", {{"dns", s.dns_port}, {"http", s.http_port}, {"gateway", s.gateway_port}}},
          {"peers", s.peers}};
}

// A path for a log line: printable ASCII, no spaces or quotes, at most 200 bytes.
std::string log_safe(const std::string& path) {
  std::string out;
  for (const char c : path.substr(0, 200)) {
    out += (c > ' ' && c < 127 && c != '"') ? c : '?';
  }
  return out;
}

// HTTP responses by status class, counted as each request ends.
struct HttpCounters {
  std::array<metrics::SharedCounter, 5> by_class{};  // 1xx..5xx

  void count(int status) noexcept {
    if (status >= 100 && status < 600) by_class[static_cast<std::size_t>(status / 100 - 1)].inc();
  }
  void write(metrics::TextWriter& w) const {
    static constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    w.family("pweb_http_requests_total", "counter", "HTTP requests answered, by status class");
    for (std::size_t i = 0; i < by_class.size(); ++i) {
      w.sample("pweb_http_requests_total", {{"code", kClasses[i]}}, by_class[i].get());
    }
  }
};

ConnectionPolicy connection_policy(const HttpOptions& o) {
  ConnectionPolicy p;
  p.limits.max_body_bytes = kMaxBody + 8 * 1024;  // chunk framing on top of the body
  p.max_connections_per_client = o.max_connections_per_client;
  return p;
}

struct MadeServer {
  std::unique_ptr<httplib::Server> server;
  BoundedListener* listener;  // the same object as `server`
};

H2Response to_h2(DohResponse r) {
  H2Response out;
  out.status = r.status;
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  out.cache_control = std::move(r.cache_control);
  if (r.status == 405) out.allow = "GET, POST";
  return out;
}

// DNS over HTTPS on an HTTP/2 stream; other paths go back to HTTP/1.1. A
// query for another agent's name is answered when that agent has answered,
// while the connection's other streams go on.
void h2_doh(DnsQueryService& dns, const H2Request& req, const H2Reply& reply) {
  const auto now = [&reply](std::optional<H2Response> r) {
    reply([r = std::move(r)] { return r; });
  };
  const auto question = req.path.find('?');
  if (req.path.substr(0, question) != kDohPath) return now(std::nullopt);
  const std::string_view query = question == std::string::npos
                                     ? std::string_view()
                                     : std::string_view(req.path).substr(question + 1);
  DohRequest request;
  if (req.method == "GET") {
    request = doh_from_get(query_parameter(query, "dns"));
  } else if (req.method == "POST") {
    request = doh_from_post(req.content_type, req.body);
  } else {
    DohResponse r;
    r.status = 405;
    r.content_type = "application/json";
    r.body = "{\"error\":\"method not allowed here (allowed: GET, POST)\"}";
    return now(to_h2(std::move(r)));
  }
  if (request.refused()) return now(to_h2(doh_refusal(request)));
  dns.answer_later(request.message, [reply](DnsAnswerFinish finish) {
    reply([finish = std::move(finish)]() -> std::optional<H2Response> {
      return to_h2(doh_answer(finish()));
    });
  });
}

H2Limits h2_limits() {
  H2Limits l;
  l.request.max_body_bytes = kMaxDnsMessage + 1;  // one byte over is a DoH 413
  l.max_header_fields = kMaxHeaders;
  return l;
}

MadeServer make_server(const HttpOptions& o) {
  if (o.tls_cert.empty() && o.tls_key.empty()) {
    auto srv = std::make_unique<BoundedServer>(connection_policy(o));
    BoundedListener* listener = srv.get();
    return {std::move(srv), listener};
  }
  if (o.tls_cert.empty() || o.tls_key.empty()) {
    throw HttpError("HTTPS needs both --tls-cert and --tls-key");
  }
  auto srv = std::make_unique<BoundedTlsServer>(o.tls_cert, o.tls_key, connection_policy(o));
  if (!srv->is_valid()) {
    throw HttpError("cannot load the TLS certificate '" + o.tls_cert + "' and key '" + o.tls_key +
                    "' (PEM files, readable, key matching the certificate?)");
  }
  BoundedListener* listener = srv.get();
  return {std::move(srv), listener};
}

}  // namespace

struct HttpServer::Impl {
  Impl(const StatusService& s, MadeServer made)
      : status(s), server(std::move(made.server)), listener(*made.listener), routes(*server) {}
  const StatusService& status;
  HttpCounters counters;
  std::unique_ptr<httplib::Server> server;
  BoundedListener& listener;
  RouteTable routes;
  std::thread thread;
};

HttpServer::HttpServer(const StatusService& status, registrar::RegistrationService* registration,
                       DirectoryService* directory, const HttpOptions& options,
                       DnsQueryService* dns)
    : impl_(std::make_unique<Impl>(status, make_server(options))) {
  auto& srv = *impl_->server;
  srv.new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
  srv.set_payload_max_length(kMaxBody);
  srv.set_keep_alive_max_count(100000);
  // Request size and time limits, and TCP_NODELAY: BoundedStream (bounded_server.cpp).
  // cpp-httplib bounds each header line (8 KiB) but not their number.
  srv.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.headers.size() <= kMaxHeaders) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 431,
               "more than " + std::to_string(kMaxHeaders) + " header fields in the request");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto& routes = impl_->routes;
  routes.get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, to_json(impl_->status.status()));
  });
  routes.get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    metrics::TextWriter http;
    impl_->counters.write(http);
    impl_->listener.limit_counters().write(http);
    res.set_header("Cache-Control", "no-store");
    res.set_content(impl_->status.metrics_text() + http.text(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    impl_->counters.count(res.status);
    // The path only: query strings and headers may carry what should stay private.
    spdlog::debug("event=http client={} method={} path={} status={} bytes={}", req.remote_addr,
                  req.method, log_safe(req.path), res.status, res.body.size());
  });
  if (registration) {
    register_nic_routes(routes, *registration);
    register_device_routes(routes, *registration);
    register_rrset_routes(routes, *registration);
    register_token_routes(routes, *registration);
  }
  if (directory) register_directory_routes(routes, *directory);
  if (dns) {
    register_doh_routes(routes, *dns);
    auto limits = h2_limits();
    limits.answer_timeout = dns->longest_wait() + kAnswerMargin;
    impl_->listener.serve_h2_with(
        [this, dns](const H2Request& req, const H2Reply& reply) {
          // Counted when the response is made, on the connection's thread.
          h2_doh(*dns, req, [this, reply](H2Finish finish) {
            reply([this, finish = std::move(finish)] {
              auto res = finish();
              if (res) impl_->counters.count(res->status);
              return res;
            });
          });
        },
        limits);
  }
  register_checkip_route(routes);
  register_status_page_routes(routes);
  srv.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) {
      std::string what = "HTTP " + std::to_string(res.status);
      if (res.status == 404) {
        // No route took the request: the path may exist with other methods.
        if (const auto allow = impl_->routes.allowed(req.path); !allow.empty()) {
          res.status = 405;
          res.set_header("Allow", allow);
          what = "method " + req.method + " not allowed here (allowed: " + allow + ")";
        } else {
          what = "no such endpoint";
        }
      }
      if (res.status == 413)
        what = "request body larger than " + std::to_string(kMaxBody) + " bytes";
      send_error(res, res.status, what);
    }
  });
  // One catch per request: an unexpected failure is a 500 with a JSON error; a
  // store that cannot be reached (PostgreSQL down) a 503: nothing was changed,
  // and the client may retry.
  srv.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const registrar::StoreError& e) {
          return send_json(res, 503,
                           {{"error", std::string("the device store is unavailable; nothing was "
                                                  "changed: ") +
                                          e.what()}});
        } catch (const std::exception& e) {
          what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_json(res, 500, {{"error", what}});
      });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& host, std::uint16_t port) {
  if (!impl_->listener.bind_listener(host, port)) {
    throw HttpError("cannot listen for HTTP on " + host + ":" + std::to_string(port));
  }
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pweb::rest
