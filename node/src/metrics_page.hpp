#pragma once
// GET /metrics: every component's counters as one Prometheus text page. The
// names are all here, in one place, as pweb_<component>_<what>_<unit|total>.
#include <cstdint>
#include <string>

namespace pweb::dns {
class DnsServer;
class SignedMessages;
}  // namespace pweb::dns
namespace pweb::gateway {
class GatewayServer;
}
namespace pweb::dht {
class AgentDirectory;
}
namespace pweb::registrar {
class SnapshotHolder;
class RegistrationService;
}  // namespace pweb::registrar

namespace pweb::node {

class Resolver;
class NodeDoh;

// What the page is made of; any pointer may be null (not running in this mode).
struct MetricsSources {
  std::string version;
  std::string label;
  std::string mode;
  std::int64_t started = 0;  // unix seconds
  const registrar::SnapshotHolder* snapshots = nullptr;
  const dns::DnsServer* dns = nullptr;
  const Resolver* resolver = nullptr;
  const gateway::GatewayServer* gateway = nullptr;
  const dht::AgentDirectory* directory = nullptr;
  const registrar::RegistrationService* registration = nullptr;
  const dns::SignedMessages* signed_messages = nullptr;
  const NodeDoh* doh = nullptr;
};

std::string render_metrics(const MetricsSources& sources);

}  // namespace pweb::node
