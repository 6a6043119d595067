#include "pweb/node/app.hpp"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <asio/ip/address.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "dht_link.hpp"
#include "directory_service.hpp"
#include "doh_service.hpp"
#include "metrics_page.hpp"
#include "pweb/dns/authority.hpp"
#include "pweb/dns/server.hpp"
#include "pweb/dns/signed_messages.hpp"
#include "pweb/gateway/server.hpp"
#include "pweb/gateway/tls.hpp"
#include "pweb/lock_guarded.hpp"
#include "pweb/node/dnssec_keyfile.hpp"
#include "pweb/node/names.hpp"
#include "pweb/node/own_records.hpp"
#include "pweb/node/resolver.hpp"
#include "pweb/registrar/service.hpp"
#include "pweb/registrar/snapshot.hpp"
#include "pweb/registrar/sqlite_store.hpp"
#include "pweb/registrar/tokens.hpp"
#include "pweb/rest/http_server.hpp"
#include "version.hpp"

namespace pweb::node {
namespace {

// How long a starting node looks for an earlier holder of its label.
constexpr std::chrono::milliseconds kClaimWait{5000};
constexpr std::chrono::seconds kAddressCheck{10};

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

// With only wildcard DNS listeners the default ns1 still needs an address:
// the ones this agent advertises in the DHT (its gateway listener's, or the
// host's interfaces), never 0.0.0.0.
dns::NameServerAddress advertised_address(const NodeConfig& cfg) {
  const auto record = own_record(cfg, 0, 0, 0);
  dns::NameServerAddress a;
  if (!record.ipv4.empty()) a.v4 = registrar::parse_ipv4(record.ipv4.front());
  if (!record.ipv6.empty()) a.v6 = registrar::parse_ipv6(record.ipv6.front());
  return a;
}

class NodeStatus final : public rest::StatusService {
 public:
  NodeStatus(const NodeConfig& cfg, MetricsSources sources, rest::StatusInfo fixed)
      : cfg_(cfg), src_(std::move(sources)), fixed_(std::move(fixed)) {}

  rest::StatusInfo status() const override {
    rest::StatusInfo s = fixed_;
    s.addresses = *addresses_.lock();
    s.version = kVersion;
    s.label = cfg_.label;
    s.zones = cfg_.suffix;
    s.mode = src_.mode;
    s.started = src_.started;
    const auto snap = src_.snapshots->current();
    s.devices = snap->device_count();
    s.serial = snap->serial();
    if (src_.dns) {
      const auto st = src_.dns->stats();
      s.dns_udp_queries = st.udp_queries;
      s.dns_tcp_queries = st.tcp_queries;
    }
    if (src_.registration) {
      const auto rs = src_.registration->stats();
      s.commits = rs.commits;
      s.changes = rs.changes;
    }
    if (src_.directory) s.peers = src_.directory->good_nodes();
    return s;
  }

  std::string metrics_text() const override { return render_metrics(src_); }

  void set_addresses(std::vector<std::string> addresses) {
    *addresses_.lock() = std::move(addresses);
  }

 private:
  const NodeConfig& cfg_;
  MetricsSources src_;
  rest::StatusInfo fixed_;  // what does not change while the node runs
  mutable LockGuarded<std::vector<std::string>> addresses_{fixed_.addresses};
};

std::vector<std::string> addresses_of(const dht::AgentRecord& r) {
  std::vector<std::string> out = r.ipv4;
  out.insert(out.end(), r.ipv6.begin(), r.ipv6.end());
  return out;
}

}  // namespace

namespace {

// Nodes given as host:port options, already validated by the option table.
std::vector<HostPort> host_ports(const std::vector<std::string>& list) {
  std::vector<HostPort> out;
  for (const auto& l : list) out.push_back(*parse_host_port(l));
  return out;
}

std::vector<HostPort> agent_addresses(const std::vector<std::string>& list) {
  std::vector<HostPort> out;
  for (const auto& l : list) out.push_back(*parse_agent_address(l));
  return out;
}

// A gateway QUERY: the name as sent, with or without the suffix. Own devices
// are answered on the gateway's thread; others go through the resolver.
gateway::Resolve gateway_resolver(const NodeConfig& cfg, const registrar::SnapshotHolder& snapshots,
                                  Resolver& resolver) {
  return [&cfg, &snapshots, &resolver](const std::string& name,
                                       std::function<void(gateway::Answer)> done) {
    const auto k = device_key(name, cfg.suffix);
    if (!k.error.empty()) return done(gateway::Answer{});
    const auto to_answer = [](const dns::RemoteAnswer& a) {
      gateway::Answer out;
      out.ttl = a.ttl;
      switch (a.status) {
        case dns::RemoteAnswer::Status::found:
        case dns::RemoteAnswer::Status::nodata:  // a device without addresses
          out.status = gateway::AnswerStatus::found;
          if (a.entry.has_v4()) out.ipv4.push_back(a.entry.v4);
          if (a.entry.has_v6()) out.ipv6.push_back(a.entry.v6);
          break;
        case dns::RemoteAnswer::Status::nxdomain:
          out.status = gateway::AnswerStatus::absent;
          break;
        case dns::RemoteAnswer::Status::servfail:
          out.status = gateway::AnswerStatus::failed;
          out.ttl = 0;
          break;
      }
      return out;
    };
    if (const auto* e = snapshots.current()->find(k.key); e && e->is_device()) {
      dns::RemoteAnswer a;
      a.status = dns::RemoteAnswer::Status::found;
      a.entry = *e;
      a.ttl = cfg.ttl;
      return done(to_answer(a));
    }
    // ANY: both addresses, as v2 carries them.
    resolver.resolve(
        k.key, dns::type::ANY,
        [done = std::move(done), to_answer](const dns::RemoteAnswer& a) { done(to_answer(a)); });
  };
}

// The server-cookie secret: from --cookie-secret (hex), else random for this run.
std::optional<dns::CookieSecret> cookie_secret(const NodeConfig& cfg, std::string& err) {
  if (cfg.cookie_secret.empty()) return dns::random_cookie_secret();
  std::ifstream in(cfg.cookie_secret);
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad() || text.empty()) {
    err = "--cookie-secret " + cfg.cookie_secret + ": cannot read the file";
    return std::nullopt;
  }
  auto secret = dns::cookie_secret_from_hex(text);
  if (!secret) {
    err = "--cookie-secret " + cfg.cookie_secret +
          ": not 32 hex digits (make one with: openssl rand -hex 16)";
    return secret;
  }
  // Whoever reads the secret can make valid cookies for any address, and those
  // skip rate limiting: say so when others may read it (not fatal: a shared
  // secret may be deployed by tools with their own ideas of modes).
  std::error_code ec;
  const auto perms = std::filesystem::status(cfg.cookie_secret, ec).permissions();
  using P = std::filesystem::perms;
  if (!ec && (perms & (P::group_all | P::others_all)) != P::none) {
    spdlog::warn(
        "event=cookie_secret_readable path={} msg=\"readable by group or others: whoever reads "
        "it can make DNS cookies that skip rate limiting; chmod 600 it\"",
        cfg.cookie_secret);
  }
  return secret;
}

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
  std::string secret_error;
  const auto secret = cookie_secret(cfg, secret_error);
  if (!secret) {
    spdlog::error("event=config_error msg=\"{}\"", secret_error);
    return 2;
  }
  const bool gateway_mode = !cfg.home_agent.empty();
  const auto dns_listen = host_ports(cfg.dns_listen);
  const auto http_listen = *parse_host_port(cfg.http_listen);
  const auto gateway_listen = *parse_host_port(cfg.gateway_listen);
  const auto timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(cfg.timeout * 1000.0 + 0.5));

  std::string store_error;
  const auto store_at = *registrar::parse_store_location(cfg.store, cfg.data_dir, store_error);
  // A store that lost devices or users stops the node here, before anything is
  // written to it: starting would serve an empty or failing store, silently.
  // (A PostgreSQL store is the database's to keep: not checked here.)
  if (auto damage = store_at.kind == registrar::StoreLocation::Kind::sqlite
                        ? registrar::store_damage(cfg.data_dir)
                        : std::nullopt) {
    if (!cfg.fresh_store) {
      spdlog::error(
          "event=store_damaged msg=\"{}; nothing was changed. Restore the data dir from a "
          "backup, or start with --fresh-store to move the damaged store aside and start with "
          "an empty one\"",
          *damage);
      return 2;
    }
    const auto moved = registrar::set_aside_store(cfg.data_dir, unix_now());
    spdlog::warn(
        "event=store_set_aside moved_to={} msg=\"{}; --fresh-store: {}starting with an empty "
        "store\"",
        moved.empty() ? "-" : moved.string(), *damage,
        moved.empty() ? "" : "kept the damaged store as " + moved.string() + ", ");
  }

  std::unique_ptr<registrar::SnapshotHolder> snapshots;
  std::unique_ptr<registrar::RegistrationService> registration;
  {
    std::vector<registrar::DeviceRecord> records;
    std::int64_t loaded_seq = 0;
    {
      const auto store = registrar::open_store(store_at);
      // Read first: what others change during the load is caught up on after.
      loaded_seq = store->last_seq();
      records = store->load_all();
    }
    // The SOA serial is the store's change number (see Registrar::publish).
    const auto initial =
        registrar::Snapshot::build(records, static_cast<std::uint32_t>(loaded_seq));
    snapshots = std::make_unique<registrar::SnapshotHolder>(initial);
    spdlog::info("event=store_loaded path={} devices={} snapshot_bytes={} seq={}",
                 store_at.describe(), initial->device_count(), initial->memory_bytes(), loaded_seq);
    // Only an agent with a label has users and devices of its own to register.
    if (!cfg.label.empty()) {
      registrar::RecordLimits limits;
      limits.default_ttl = cfg.ttl;
      limits.min_ttl = cfg.min_ttl;
      registration = std::make_unique<registrar::RegistrationService>(
          cfg.label, store_at, *snapshots, records, limits, loaded_seq);
    }
  }
  malloc_trim(0);  // the load's temporaries are gone; give their pages back

  // The DHT: every node but a standalone gateway is in it.
  std::unique_ptr<dht::AgentDirectory> directory;
  if (!gateway_mode) {
    directory = std::make_unique<dht::AgentDirectory>(directory_config(cfg));
    spdlog::info("event=dht_started port={} node_id={} key_id={} bootstrap={}", directory->port(),
                 directory->node_id(), directory->key_id(), fmt::join(cfg.bootstrap, ","));
  }

  dns::AuthorityConfig auth_cfg;
  auth_cfg.zones = cfg.suffix;
  auth_cfg.ttl = cfg.ttl;
  auth_cfg.label = cfg.label;
  auth_cfg.name_servers = name_servers_of(dns_listen);
  if (auth_cfg.name_servers.empty()) auth_cfg.name_servers.push_back(advertised_address(cfg));
  if (auto err = dns::parse_name_servers(cfg.ns, cfg.suffix, auth_cfg.ns)) {
    throw dns::ConfigError(*err);  // validate() said so already
  }
  if (!cfg.soa_contact.empty()) {
    if (auto err = dns::parse_soa_contact(cfg.soa_contact, auth_cfg.soa_contact)) {
      throw dns::ConfigError(*err);
    }
  }
  auth_cfg.resolve_remote = true;
  auth_cfg.nsid = cfg.nsid;
  auth_cfg.cookie_secret = *secret;
  if (cfg.dnssec) {
    auth_cfg.dnssec = load_dnssec_key(cfg.data_dir, cfg.dnssec_key, cfg.dnssec_key.empty());
    for (const auto& file : cfg.dnssec_publish) {
      try {
        auth_cfg.dnssec_published.push_back(load_dnssec_key(cfg.data_dir, file, false));
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("--dnssec-publish: ") + e.what());
      }
    }
    for (const auto& zone : cfg.suffix) {
      spdlog::info("event=dnssec_key key_tag={} ds=\"{}\"", auth_cfg.dnssec->key_tag(),
                   auth_cfg.dnssec->ds_text(zone));
    }
  }
  const dns::Authority authority(auth_cfg);

  ResolverConfig rcfg;
  rcfg.authority = &authority;
  rcfg.own_label = cfg.label;
  rcfg.timeout = timeout;
  rcfg.ttl = cfg.ttl;
  rcfg.negative_ttl = std::min<std::uint32_t>(cfg.ttl, 5);
  rcfg.stale_max = std::chrono::seconds(cfg.stale_max);
  rcfg.home_agents = agent_addresses(cfg.home_agent);
  // Agents ask agents over TLS (the key checked against the DHT record's
  // signer); a gateway uses TLS for the home agents it was given a key for.
  if (cfg.gateway_tls) rcfg.agent_tls = gateway::make_client_tls();
  AgentLookup lookup;
  if (directory) lookup = agent_lookup(*directory, cfg.bootstrap.empty());
  Resolver resolver(rcfg, *snapshots, std::move(lookup));
  resolver.start();

  dns::ServerConfig server_cfg;
  for (const auto& l : dns_listen) server_cfg.listen.push_back({l.host, l.port});
  for (const auto& l : host_ports(cfg.dot_listen))
    server_cfg.dot_listen.push_back({l.host, l.port});
  server_cfg.tls_cert = cfg.tls_cert;
  server_cfg.tls_key = cfg.tls_key;
  server_cfg.threads =
      cfg.threads != 0 ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  server_cfg.rrl.responses_per_second = cfg.rrl_rate;
  server_cfg.rrl.slip = cfg.rrl_slip;
  if (cfg.query_log) {
    server_cfg.query_log = [](const dns::QueryLogEntry& e) {
      spdlog::info("event=query client={} proto={} qname={} qtype={} rcode={} size={} us={}",
                   e.client,
                   e.tls   ? "dot"
                   : e.tcp ? "tcp"
                           : "udp",
                   e.qname.empty() ? "-" : e.qname, e.qtype, e.rcode, e.size,
                   std::chrono::duration_cast<std::chrono::microseconds>(e.latency).count());
    };
  }
  // RFC 2136 UPDATE and signed queries: keys are device tokens (the in-memory
  // token table, rebuilt on every change), changes go through the registrar.
  std::unique_ptr<dns::SignedMessages> signed_messages;
  if (registration) {
    auto* reg = registration.get();
    signed_messages = std::make_unique<dns::SignedMessages>(
        authority, *snapshots,
        [reg](std::string_view key_name,
              const std::string& client) -> std::optional<dns::UpdateKey> {
          const auto table = reg->tokens().current();
          const auto* token = table->find(key_name);
          if (!token || token->secret.empty()) return std::nullopt;
          dns::UpdateKey key;
          key.secret = token->secret;
          key.device = token->info.device;
          key.allows = [scope = token->info.scope](std::string_view subname, std::uint16_t type) {
            return registrar::scope_allows(scope, subname_to_api(subname), type);
          };
          key.refusal = registrar::token_refusal(token->info, client, unix_now()).value_or("");
          return key;
        },
        [reg](registrar::DeviceChange change,
              std::function<void(const registrar::ChangeResult&)> done) {
          reg->apply_async({std::move(change)},
                           [done = std::move(done)](std::vector<registrar::ChangeResult> r) {
                             done(r.empty() ? registrar::ChangeResult{} : r.front());
                           });
        },
        cfg.min_ttl);
  }
  dns::DnsServer dns_server(server_cfg, authority, *snapshots, &resolver, signed_messages.get());

  // Agents answer other agents and standalone gateways; a gateway answers no one.
  std::unique_ptr<gateway::GatewayServer> gateway_server;
  if (!gateway_mode) {
    gateway::ServerConfig gcfg;
    gcfg.host = gateway_listen.host;
    gcfg.port = gateway_listen.port;
    gcfg.max_per_client = cfg.gateway_max_per_client;
    gcfg.idle_timeout = std::chrono::seconds(cfg.gateway_idle_timeout);
    // TLS with the DHT identity, beside plain v1/v2 on the same port.
    const auto identity = directory_config(cfg).identity_path;
    gcfg.tls = gateway::make_server_tls(identity.string() + ".crt", identity.string() + ".pem");
    gateway_server =
        std::make_unique<gateway::GatewayServer>(gcfg, gateway_resolver(cfg, *snapshots, resolver),
                                                 own_records(cfg.suffix, authority, *snapshots));
  }

  // Claim the label before serving anything: a label held by another key stops us here.
  std::vector<std::string> published_addresses;
  if (directory && !cfg.label.empty()) {
    const auto record =
        own_record(cfg, gateway_server->port(), http_listen.port, dns_listen.front().port);
    if (auto err = directory->claim_and_publish(record, std::max(timeout, kClaimWait))) {
      spdlog::error("event=label_refused label={} msg=\"{}\"", cfg.label, *err);
      dns_server.stop();
      resolver.stop();
      directory->stop();
      return 3;
    }
    published_addresses = addresses_of(record);
    spdlog::info("event=agent_published label={} addresses={} gateway_port={}", cfg.label,
                 fmt::join(record.ipv4.empty() ? record.ipv6 : record.ipv4, ","),
                 record.gateway_port);
  }

  NodeDirectory directory_service(resolver, directory.get(), cfg.suffix, timeout);
  NodeDoh doh(authority, *snapshots, resolver, timeout);
  MetricsSources sources;
  sources.version = kVersion;
  sources.label = cfg.label;
  sources.mode = gateway_mode ? "gateway" : "agent";
  sources.started = unix_now();
  sources.snapshots = snapshots.get();
  sources.dns = &dns_server;
  sources.resolver = &resolver;
  sources.gateway = gateway_server.get();
  sources.directory = directory.get();
  sources.registration = registration.get();
  sources.signed_messages = signed_messages.get();
  sources.doh = &doh;
  rest::StatusInfo fixed;
  fixed.addresses = published_addresses;
  fixed.dns_port = dns_listen.front().port;
  fixed.http_port = http_listen.port;
  fixed.gateway_port = gateway_server ? gateway_server->port() : 0;
  NodeStatus status(cfg, std::move(sources), std::move(fixed));
  rest::HttpOptions http_options;
  http_options.tls_cert = cfg.tls_cert;
  http_options.tls_key = cfg.tls_key;
  http_options.max_connections_per_client = cfg.http_max_per_client;
  rest::HttpServer http(status, registration.get(), &directory_service, http_options, &doh);
  http.start(http_listen.host, http_listen.port);
  dns_server.start();
  if (gateway_server) gateway_server->start();
  for (const auto& l : cfg.dns_listen) spdlog::info("event=dns_listen addr={}", l);
  for (const auto& l : cfg.dot_listen) spdlog::info("event=dot_listen addr={}", l);
  spdlog::info("event=http_listen addr={} tls={}", cfg.http_listen,
               cfg.tls_cert.empty() ? "off" : "on");
  if (gateway_server) {
    spdlog::info("event=gateway_listen addr={}:{}", gateway_listen.host, gateway_server->port());
  }
  spdlog::info("event=ready label={} mode={} threads={} zones={}",
               cfg.label.empty() ? "-" : cfg.label, gateway_mode ? "gateway" : "agent",
               server_cfg.threads, fmt::join(cfg.suffix, ","));

  // Until a stop signal: every kAddressCheck, an agent whose addresses changed
  // (DHCP, a new uplink) publishes its new record, so other agents follow it.
  int sig = 0;
  for (;;) {
    const timespec wait{static_cast<time_t>(kAddressCheck.count()), 0};
    sig = sigtimedwait(&stop_signals, nullptr, &wait);
    if (sig > 0) break;
    if (!directory || cfg.label.empty()) continue;
    const auto now =
        own_record(cfg, gateway_server->port(), http_listen.port, dns_listen.front().port);
    auto addresses = addresses_of(now);
    if (addresses == published_addresses) continue;
    if (auto err = directory->republish(now)) {
      spdlog::warn("event=agent_republish_failed label={} msg=\"{}\"", cfg.label, *err);
      continue;
    }
    spdlog::info("event=agent_republished label={} addresses={} was={}", cfg.label,
                 fmt::join(addresses, ","), fmt::join(published_addresses, ","));
    published_addresses = addresses;
    status.set_addresses(std::move(addresses));
  }
  spdlog::info("event=stopping signal={}", sig);
  // No new requests, then let the writer answer what is queued, then stop DNS;
  // the resolver after everything that waits on it, the DHT last.
  http.stop();
  if (gateway_server) gateway_server->stop();
  if (registration) registration->stop();
  dns_server.stop();
  resolver.stop();
  if (directory) directory->stop();
  const auto st = dns_server.stats();
  spdlog::info("event=stopped udp_queries={} tcp_queries={}", st.udp_queries, st.tcp_queries);
  return 0;
}

}  // namespace pweb::node
