// A DynDNS2 update's query parameters come from anyone with an account (and the
// hostname list from anyone at all before authentication fails). Input: the
// fields hostname, myip, myipv6, offline and the client address, separated by
// '\n' ("\x01" alone = the field is absent). Invariants: no crash; an early
// answer is one line; otherwise one line per host, each host either a change
// for this user's device under this agent or a notfqdn/nohost line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pweb/registrar/dyndns2.hpp"
#include "pweb/registrar/names.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> fields[5];
  for (auto& f : fields) {
    const auto nl = in.find('\n');
    const auto part = in.substr(0, nl);
    if (part != "\x01") f = std::string(part);
    if (nl == std::string_view::npos) {
      in = {};
    } else {
      in.remove_prefix(nl + 1);
    }
  }
  pweb::registrar::NicUpdateRequest req;
  req.hostname = fields[0];
  req.myip = fields[1];
  req.myipv6 = fields[2];
  req.offline = fields[3];
  req.client_address = fields[4].value_or("");
  const auto plan = pweb::registrar::plan_nic_update("uw", "alice", req);
  if (plan.answer) {
    const auto& body = plan.answer->body;
    if (body.empty() || body.back() != '\n' || !plan.changes.empty()) std::abort();
    return 0;
  }
  if (plan.changes.size() != plan.line_of_change.size()) std::abort();
  if (plan.lines.empty() || plan.lines.size() > pweb::registrar::kMaxHostsPerUpdate) std::abort();
  for (std::size_t k = 0; k < plan.changes.size(); ++k) {
    const auto& c = plan.changes[k];
    const auto parsed = pweb::registrar::parse_device_name(c.name);
    if (!parsed.name || parsed.name->user != "alice" || parsed.name->agent != "uw") std::abort();
    if (plan.line_of_change[k] >= plan.lines.size()) std::abort();
    if (!plan.lines[plan.line_of_change[k]].empty()) std::abort();
  }
  for (const auto& line : plan.lines) {
    if (!line.empty() && line != "notfqdn" && line != "nohost") std::abort();
  }
  return 0;
}
