#pragma once
// DynDNS2 semantics, as ddclient, inadyn and routers expect them: several
// hostnames per request, one answer line each (good, nochg, nohost, notfqdn,
// numhost, dnserr), myip with IPv4, IPv6 or both, offline=YES. Knows nothing
// of HTTP: the caller has parsed the query string and authenticated the user.
#include <functional>
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
  // "2001:db8:1::/64": every device of the user with an interface id gets
  // prefix + iid as its IPv6 address, in the same transaction.
  std::optional<std::string> ipv6prefix;
  std::string client_address;  // the caller, used when no myip is given
};

struct NicUpdateAnswer {
  bool bad_request = false;  // the answer is an explanation, nothing was changed
  std::string body;          // one line per hostname, each ending in '\n'
};

// What a request asks for, before anything is stored: either an answer at once
// (notfqdn, numhost, a bad request), or one line per host name with the
// changes to apply for the hosts that are the user's. Pure; fuzzed alone.
struct NicUpdatePlan {
  std::optional<NicUpdateAnswer> answer;
  std::vector<std::string> lines;  // "" where a change decides the line
  std::vector<DeviceChange> changes;
  std::vector<std::size_t> line_of_change;
  bool sent_v4 = false, sent_v6 = false;  // which families the answer lines report
};
NicUpdatePlan plan_nic_update(const std::string& agent, const std::string& user,
                              const NicUpdateRequest& req);
// A device token may change its device only: the plan's other changes are
// dropped, their lines answering nohost.
void restrict_plan(NicUpdatePlan& plan, const std::string& device);

struct Ipv6Prefix {
  Ipv6 address{};
  unsigned length = 0;
};
// "2001:db8:1::/64" (length 1-64: the rest is the interface id); a reason if not.
struct PrefixResult {
  std::optional<Ipv6Prefix> prefix;
  std::string error;
};
PrefixResult parse_ipv6_prefix(std::string_view text);
// The prefix's first `length` bits, then the interface id's remaining bits.
Ipv6 with_prefix(const Ipv6Prefix& prefix, const Ipv6& iid) noexcept;

class DynDns2 {
 public:
  // The devices of "user.agent" that have an interface id (the store).
  using IidDevices = std::function<std::vector<std::string>(const std::string& user_agent)>;
  DynDns2(std::string agent_label, Registrar& registrar, IidDevices iid_devices = {})
      : agent_(std::move(agent_label)),
        registrar_(registrar),
        iid_devices_(std::move(iid_devices)) {}

  // With `only_device` (a device token), other host names answer nohost.
  NicUpdateAnswer update(const std::string& user, const NicUpdateRequest& req,
                         const std::string* only_device = nullptr);

 private:
  std::string agent_;
  Registrar& registrar_;
  IidDevices iid_devices_;
};

}  // namespace pweb::registrar
