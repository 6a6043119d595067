#pragma once
// The HTTP API (cpp-httplib). Handlers parse, call a service, serialize JSON;
// business logic lives in the services the node injects.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pweb::registrar {
class RegistrationService;
}

namespace pweb::rest {

class DirectoryService;
class DnsQueryService;

struct StatusInfo {
  std::string version;
  std::string label;
  std::vector<std::string> zones;
  std::uint64_t devices = 0;
  std::uint32_t serial = 0;
  std::int64_t started = 0;  // unix seconds
  std::uint64_t dns_udp_queries = 0;
  std::uint64_t dns_tcp_queries = 0;
  std::uint64_t commits = 0;
  std::uint64_t changes = 0;
  std::string mode;                    // "agent" or "gateway"
  std::vector<std::string> addresses;  // published in this agent's DHT record
  std::uint16_t dns_port = 0, http_port = 0, gateway_port = 0;
  std::uint64_t peers = 0;  // good DHT nodes known
};

class StatusService {
 public:
  virtual ~StatusService() = default;
  [[nodiscard]] virtual StatusInfo status() const = 0;
  // The node's metrics in Prometheus text format (the HTTP server adds its own).
  [[nodiscard]] virtual std::string metrics_text() const = 0;
};

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpOptions {
  // HTTPS when both are set: PEM certificate chain and private key files.
  std::string tls_cert;
  std::string tls_key;
  // Connections one client address may hold at once (0 = no limit): one
  // address cannot occupy every HTTP worker.
  std::size_t max_connections_per_client = 64;
};

class HttpServer {
 public:
  // `registration` may be null (no label: nothing to register); `directory`
  // may be null (no resolution routes); `dns` may be null (no DNS over HTTPS
  // at /dns-query). HttpError if the TLS files do not load.
  HttpServer(const StatusService& status, registrar::RegistrationService* registration,
             DirectoryService* directory = nullptr, const HttpOptions& options = {},
             DnsQueryService* dns = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds now (HttpError if it cannot), serves on its own threads.
  void start(const std::string& host, std::uint16_t port);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::rest
