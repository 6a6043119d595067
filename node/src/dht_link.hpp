#pragma once
// Between the node and its DHT directory: the directory's configuration from
// the node's, the record this agent publishes, and the resolver's view of
// agent lookups.
#include <cstdint>

#include "pweb/dht/agent_directory.hpp"
#include "pweb/node/config.hpp"
#include "pweb/node/resolver.hpp"

namespace pweb::node {

dht::DirectoryConfig directory_config(const NodeConfig& cfg);

// The addresses others reach this agent at: the gateway listener's own address,
// or, when it listens on a wildcard, this host's interface addresses.
dht::AgentRecord own_record(const NodeConfig& cfg, std::uint16_t gateway_port,
                            std::uint16_t http_port, std::uint16_t dns_port);

// Lookups through `directory`; a search with no peer to ask is a failure, not
// an absence, unless this node was started alone (no --bootstrap).
AgentLookup agent_lookup(dht::AgentDirectory& directory, bool alone);

}  // namespace pweb::node
