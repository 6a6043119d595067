#pragma once
// What this node tells other agents about its own names over the gateway
// protocol v3: the DNS path's lookup (dns::answer_local), never forwarded.
#include <string>
#include <vector>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/gateway/server.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::node {

// The frame for an answer: found with its RRset (or, for ANY, the addresses
// as A and AAAA RRsets), nodata, absent, failed.
gateway::Answer3 to_answer3(const dns::RemoteAnswer& a);

// Answers QUERY3 on the gateway server's thread, at once. The name may carry
// one of `zones` as a suffix; a name of another agent is absent.
gateway::Resolve3 own_records(std::vector<std::string> zones, const dns::Authority& authority,
                              const registrar::SnapshotHolder& snapshots);

}  // namespace pweb::node
