#include "pweb/node/app.hpp"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <asio/ip/address.hpp>
#include <chrono>
#include <thread>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/server.hpp"
#include "pweb/registrar/service.hpp"
#include "pweb/registrar/snapshot.hpp"
#include "pweb/registrar/store.hpp"
#include "pweb/rest/http_server.hpp"
#include "version.hpp"

namespace pweb::node {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Glue for the apex NS records: each specific listen address is a name server.
std::vector<dns::NameServerAddress> name_servers_of(const std::vector<HostPort>& listen) {
  std::vector<dns::NameServerAddress> out;
  for (const auto& l : listen) {
    asio::error_code ec;
    const auto addr = asio::ip::make_address(l.host, ec);
    if (ec || addr.is_unspecified()) continue;
    dns::NameServerAddress ns;
    if (addr.is_v4()) {
      ns.v4 = addr.to_v4().to_bytes();
    } else {
      ns.v6 = addr.to_v6().to_bytes();
    }
    out.push_back(ns);
  }
  return out;
}

class NodeStatus final : public rest::StatusService {
 public:
  NodeStatus(const NodeConfig& cfg, const registrar::SnapshotHolder& snaps,
             const dns::DnsServer*& dns, const registrar::RegistrationService* registration)
      : cfg_(cfg), snaps_(snaps), dns_(dns), registration_(registration), started_(unix_now()) {}

  rest::StatusInfo status() const override {
    rest::StatusInfo s;
    s.version = kVersion;
    s.label = cfg_.label;
    s.zones = cfg_.suffix;
    const auto snap = snaps_.current();
    s.devices = snap->device_count();
    s.serial = snap->serial();
    s.started = started_;
    if (dns_) {
      const auto st = dns_->stats();
      s.dns_udp_queries = st.udp_queries;
      s.dns_tcp_queries = st.tcp_queries;
    }
    if (registration_) {
      const auto rs = registration_->stats();
      s.commits = rs.commits;
      s.changes = rs.changes;
    }
    return s;
  }

 private:
  const NodeConfig& cfg_;
  const registrar::SnapshotHolder& snaps_;
  const dns::DnsServer*& dns_;
  const registrar::RegistrationService* registration_;
  std::int64_t started_;
};

}  // namespace

int run_node(const NodeConfig& cfg) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));

  // Block the stop signals before any thread starts; only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (auto err = validate(cfg)) {
    spdlog::error("event=config_error msg=\"{}\"", *err);
    return 2;
  }
  if (!cfg.home_agent.empty()) {
    spdlog::error("event=config_error msg=\"gateway mode (--home-agent) is not implemented yet\"");
    return 2;
  }
  // Accepted so that configurations written for the full design keep working,
  // but nothing behind them runs yet: say so rather than pretend.
  if (!cfg.bootstrap.empty() || cfg.network_id != 0) {
    spdlog::warn("event=not_implemented what=dht options=--bootstrap,--network-id,--dht-port");
  }
  std::vector<HostPort> dns_listen;
  for (const auto& l : cfg.dns_listen) dns_listen.push_back(*parse_host_port(l));
  const auto http_listen = *parse_host_port(cfg.http_listen);

  std::unique_ptr<registrar::SnapshotHolder> snapshots;
  std::unique_ptr<registrar::RegistrationService> registration;
  {
    std::vector<registrar::DeviceRecord> records;
    std::string path;
    {
      const registrar::DeviceStore store(cfg.data_dir);
      records = store.load_all();
      path = store.path().string();
    }
    const auto initial =
        registrar::Snapshot::build(records, static_cast<std::uint32_t>(unix_now()));
    snapshots = std::make_unique<registrar::SnapshotHolder>(initial);
    spdlog::info("event=store_loaded path={} devices={} snapshot_bytes={}", path,
                 initial->device_count(), initial->memory_bytes());
    // Only an agent with a label has users and devices of its own to register.
    if (!cfg.label.empty()) {
      registration = std::make_unique<registrar::RegistrationService>(cfg.label, cfg.data_dir,
                                                                      *snapshots, records);
    }
  }
  malloc_trim(0);  // the load's temporaries are gone; give their pages back

  dns::AuthorityConfig auth_cfg;
  auth_cfg.zones = cfg.suffix;
  auth_cfg.ttl = cfg.ttl;
  auth_cfg.label = cfg.label;
  auth_cfg.name_servers = name_servers_of(dns_listen);
  const dns::Authority authority(auth_cfg);

  dns::ServerConfig server_cfg;
  for (const auto& l : dns_listen) server_cfg.listen.push_back({l.host, l.port});
  server_cfg.threads =
      cfg.threads != 0 ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  dns::DnsServer dns_server(server_cfg, authority, *snapshots);

  const dns::DnsServer* dns_for_status = &dns_server;
  NodeStatus status(cfg, *snapshots, dns_for_status, registration.get());
  rest::HttpServer http(status, registration.get());
  http.start(http_listen.host, http_listen.port);
  dns_server.start();
  for (const auto& l : cfg.dns_listen) spdlog::info("event=dns_listen addr={}", l);
  spdlog::info("event=http_listen addr={}", cfg.http_listen);
  spdlog::info("event=ready label={} threads={} zones={}", cfg.label.empty() ? "-" : cfg.label,
               server_cfg.threads, fmt::join(cfg.suffix, ","));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("event=stopping signal={}", sig);
  // No new requests, then let the writer answer what is queued, then stop DNS.
  http.stop();
  if (registration) registration->stop();
  dns_server.stop();
  const auto st = dns_server.stats();
  spdlog::info("event=stopped udp_queries={} tcp_queries={}", st.udp_queries, st.tcp_queries);
  return 0;
}

}  // namespace pweb::node
