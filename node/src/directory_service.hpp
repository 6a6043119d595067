#pragma once
// The REST API's view of resolution and the DHT, over the resolver and the
// agent directory.
#include <chrono>
#include <string>
#include <vector>

#include "pweb/dht/agent_directory.hpp"
#include "pweb/node/resolver.hpp"
#include "pweb/rest/directory_service.hpp"

namespace pweb::node {

class NodeDirectory final : public rest::DirectoryService {
 public:
  // `directory` is null in gateway mode.
  NodeDirectory(Resolver& resolver, dht::AgentDirectory* directory, std::vector<std::string> zones,
                std::chrono::milliseconds timeout)
      : resolver_(resolver), directory_(directory), zones_(std::move(zones)), timeout_(timeout) {}

  rest::ResolveInfo resolve(const std::string& name, const std::string& type) override;
  AgentStatus agent(const std::string& label, rest::AgentInfo& out, std::string& why) override;
  std::optional<std::vector<rest::NeighborInfo>> neighbors() override;

 private:
  Resolver& resolver_;
  dht::AgentDirectory* directory_;
  std::vector<std::string> zones_;
  std::chrono::milliseconds timeout_;
};

}  // namespace pweb::node
