#pragma once
#include "pweb/node/config.hpp"

namespace pweb::node {

// Runs a node until SIGINT/SIGTERM; returns the process exit code.
int run_node(const NodeConfig& cfg);

}  // namespace pweb::node
