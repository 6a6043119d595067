#pragma once
// DynDNS2 semantics, as ddclient, inadyn and routers expect them: several
// hostnames per request, one answer line each (good, nochg, nohost, notfqdn,
// numhost, dnserr), myip with IPv4, IPv6 or both, offline=YES. Knows nothing
// of HTTP: the caller has parsed the query string and authenticated the user.
#include <optional>
#include <string>
#include <vector>

#include "pweb/registrar/registrar.hpp"

namespace pweb::registrar {

inline constexpr std::size_t kMaxHostsPerUpdate = 20;

struct NicUpdateRequest {
  std::optional<std::string> hostname;  // comma-separated
  std::optional<std::string> myip;      // v4, v6, or "v4,v6"
  std::optional<std::string> myipv6;
  std::optional<std::string> offline;  // "YES" removes the addresses
  std::string client_address;          // the caller, used when no myip is given
};

struct NicUpdateAnswer {
  bool bad_request = false;  // the answer is an explanation, nothing was changed
  std::string body;          // one line per hostname, each ending in '\n'
};

class DynDns2 {
 public:
  DynDns2(std::string agent_label, Registrar& registrar)
      : agent_(std::move(agent_label)), registrar_(registrar) {}

  NicUpdateAnswer update(const std::string& user, const NicUpdateRequest& req);

 private:
  std::string agent_;
  Registrar& registrar_;
};

}  // namespace pweb::registrar
