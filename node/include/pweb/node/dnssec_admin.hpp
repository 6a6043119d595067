#pragma once
// `pweb-node dnssec ds` (the DS records for the parent zone) and
// `pweb-node dnssec keygen` (a key to share with --dnssec-key).
namespace CLI {
class App;
}

namespace pweb::node {

void add_dnssec_commands(CLI::App& app, int& exit_code);

}  // namespace pweb::node
