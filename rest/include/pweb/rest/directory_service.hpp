#pragma once
// What the REST API asks of the node about other agents: resolution with its
// provenance, agent records from the DHT, DHT neighbours. Implemented by the node.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pweb::rest {

struct ResolveInfo {
  std::string error;   // set: the name was not acceptable (400), nothing else is
  std::string name;    // normalized: device.user.agent
  std::string status;  // found | nodata | nxdomain | servfail
  std::string source;  // local | cache | remote
  std::optional<std::string> ipv4, ipv6;
  std::uint32_t ttl = 0;
  std::string agent;   // who answered
  std::string detail;  // why not found / failed
  bool stale = false;  // served stale (RFC 8767): the agent could not be asked
  // With servfail: timeout (504), agent (502: unreachable or no reply), dht (503).
  std::string failure;
  // Asked with ?type=: the type as given back ("TXT", "TYPE65"), and the
  // records of the answer (the type's, or a CNAME), rdata in presentation form.
  std::string type;
  struct Record {
    std::string type;
    std::uint32_t ttl = 0;
    std::string rdata;
  };
  std::vector<Record> records;
};

struct AgentInfo {
  std::string label;
  std::vector<std::string> ipv4, ipv6;
  std::uint16_t gateway_port = 0, http_port = 0, dns_port = 0;
  std::int64_t updated = 0;
  // Every live node of the label (its own record each; the fields above are
  // the newest's). Their `label` and `nodes` are empty.
  std::vector<AgentInfo> nodes;
};

struct NeighborInfo {
  std::string id;
  std::string address;
};

class DirectoryService {
 public:
  virtual ~DirectoryService() = default;
  // Both block the calling HTTP worker for at most the node's --timeout.
  // `type`: empty for the device's addresses (as before), else a type name
  // or number: the records of that type at the name (also below a device).
  [[nodiscard]] virtual ResolveInfo resolve(const std::string& name, const std::string& type) = 0;
  enum class AgentStatus { found, none, unavailable, bad_label };
  [[nodiscard]] virtual AgentStatus agent(const std::string& label, AgentInfo& out,
                                          std::string& why) = 0;
  // nullopt: this node is not in a DHT (gateway mode).
  [[nodiscard]] virtual std::optional<std::vector<NeighborInfo>> neighbors() = 0;
};

}  // namespace pweb::rest
