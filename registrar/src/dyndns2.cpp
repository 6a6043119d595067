#include "pweb/registrar/dyndns2.hpp"

#include <charconv>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? pos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

struct Addresses {
  std::optional<Ipv4> v4;
  std::optional<Ipv6> v6;
  std::string error;
};

// One address of myip or the caller's: the one rule (parse_device_address),
// at most one per family.
std::string add_address(const std::string& text, Addresses& out) {
  const auto a = parse_device_address(text);
  if (!a.error.empty()) return a.error;
  if ((a.v4 && out.v4) || (a.v6 && out.v6)) {
    return "'" + printable(text) + "' repeats an address family";
  }
  if (a.v4) out.v4 = a.v4;
  if (a.v6) out.v6 = a.v6;
  return {};
}

Addresses addresses_of(const NicUpdateRequest& req) {
  Addresses a;
  if (req.myip && !trim(*req.myip).empty()) {
    for (const auto& part : split(*req.myip, ',')) {
      const auto addr = trim(part);
      if (addr.empty()) continue;
      if (auto err = add_address(addr, a); !err.empty()) {
        a.error = "myip '" + printable(*req.myip) + "': " + err;
        return a;
      }
    }
  }
  if (req.myipv6 && !trim(*req.myipv6).empty()) {
    const auto text = trim(*req.myipv6);
    const auto v6 = parse_device_address(text);
    if (!v6.error.empty()) {
      a.error = "myipv6 '" + printable(*req.myipv6) + "': " + v6.error;
      return a;
    }
    if (!v6.v6) {
      a.error = "myipv6 '" + printable(*req.myipv6) + "' is not an IPv6 address";
      return a;
    }
    if (a.v6) {
      a.error = "an IPv6 address was given twice (in myip and in myipv6)";
      return a;
    }
    a.v6 = v6.v6;
  }
  if (!a.v4 && !a.v6) {
    if (auto err = add_address(req.client_address, a); !err.empty()) {
      a.error = "cannot use the caller's address: " + err;
    }
  }
  return a;
}

std::string address_text(const DeviceRecord& d, bool sent_v4, bool sent_v6) {
  std::string out;
  if (sent_v4 && d.ipv4) out = format_ipv4(*d.ipv4);
  if (sent_v6 && d.ipv6) out += (out.empty() ? "" : ",") + format_ipv6(*d.ipv6);
  return out;
}

}  // namespace

NicUpdatePlan plan_nic_update(const std::string& agent, const std::string& user,
                              const NicUpdateRequest& req) {
  NicUpdatePlan plan;
  if (!req.hostname || trim(*req.hostname).empty()) {
    // A router renewing its prefix need not name a host.
    if (!req.ipv6prefix || trim(*req.ipv6prefix).empty()) {
      plan.answer = NicUpdateAnswer{false, "notfqdn\n"};
    }
    return plan;
  }
  const auto hosts = split(*req.hostname, ',');
  if (hosts.size() > kMaxHostsPerUpdate) {
    plan.answer = NicUpdateAnswer{false, "numhost\n"};
    return plan;
  }
  const bool offline = req.offline && to_lower(trim(*req.offline)) == "yes";
  Addresses addrs;
  if (!offline) {
    addrs = addresses_of(req);
    if (!addrs.error.empty()) {
      plan.answer = NicUpdateAnswer{true, addrs.error + "\n"};
      return plan;
    }
  }
  plan.sent_v4 = addrs.v4.has_value();
  plan.sent_v6 = addrs.v6.has_value();
  plan.lines.resize(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto parsed = parse_device_name(trim(hosts[i]));
    if (!parsed.name) {
      plan.lines[i] = "notfqdn";
      continue;
    }
    if (parsed.name->user != user || parsed.name->agent != agent) {
      plan.lines[i] = "nohost";
      continue;
    }
    DeviceChange c;
    c.name = parsed.name->full();
    if (offline) {
      c.ipv4 = FieldChange<Ipv4>::clear();
      c.ipv6 = FieldChange<Ipv6>::clear();
    } else {
      if (addrs.v4) c.ipv4 = FieldChange<Ipv4>::set(*addrs.v4);
      if (addrs.v6) c.ipv6 = FieldChange<Ipv6>::set(*addrs.v6);
    }
    plan.changes.push_back(std::move(c));
    plan.line_of_change.push_back(i);
  }
  return plan;
}

PrefixResult parse_ipv6_prefix(std::string_view text) {
  PrefixResult out;
  const auto slash = text.find('/');
  const std::string quoted = "'" + printable(text) + "'";
  if (slash == std::string_view::npos) {
    out.error = quoted + " has no /length";
    return out;
  }
  const auto addr = parse_ipv6(std::string(text.substr(0, slash)));
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!addr || ec != std::errc() || end != len_text.data() + len_text.size()) {
    out.error = quoted + " is not an IPv6 prefix such as 2001:db8:1::/64";
    return out;
  }
  if (len < 1 || len > 64) {
    out.error = quoted + ": the length must be 1 to 64 (the rest is each device's interface id)";
    return out;
  }
  if ((*addr)[0] == 0xFF || (*addr)[0] == 0) {
    out.error = quoted + " is not a global unicast prefix";
    return out;
  }
  out.prefix = Ipv6Prefix{*addr, len};
  return out;
}

Ipv6 with_prefix(const Ipv6Prefix& prefix, const Ipv6& iid) noexcept {
  Ipv6 out{};
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bits = prefix.length > i * 8 ? std::min(8u, prefix.length - i * 8) : 0;
    const auto mask = static_cast<std::uint8_t>(bits == 0 ? 0 : (0xFF << (8 - bits)) & 0xFF);
    out[i] = static_cast<std::uint8_t>((prefix.address[i] & mask) | (iid[i] & ~mask));
  }
  return out;
}

void restrict_plan(NicUpdatePlan& plan, const std::string& device) {
  std::vector<DeviceChange> kept;
  std::vector<std::size_t> kept_lines;
  for (std::size_t k = 0; k < plan.changes.size(); ++k) {
    if (plan.changes[k].name == device) {
      kept.push_back(std::move(plan.changes[k]));
      kept_lines.push_back(plan.line_of_change[k]);
    } else {
      plan.lines[plan.line_of_change[k]] = "nohost";
    }
  }
  plan.changes = std::move(kept);
  plan.line_of_change = std::move(kept_lines);
}

NicUpdateAnswer DynDns2::update(const std::string& user, const NicUpdateRequest& req,
                                const std::string* only_device) {
  NicUpdatePlan plan = plan_nic_update(agent_, user, req);
  if (plan.answer) return *plan.answer;
  if (only_device) restrict_plan(plan, *only_device);
  auto& lines = plan.lines;
  // ipv6prefix: one change per device with an interface id, in the same commit
  // group as the hosts' changes; each change computes the address from the
  // interface id the writer sees.
  std::optional<Ipv6Prefix> prefix;
  const std::size_t host_changes = plan.changes.size();
  if (req.ipv6prefix && !trim(*req.ipv6prefix).empty()) {
    const auto p = parse_ipv6_prefix(trim(*req.ipv6prefix));
    if (!p.prefix) return NicUpdateAnswer{true, "ipv6prefix " + p.error + "\n"};
    prefix = p.prefix;
    const std::string user_agent = user + "." + agent_;
    for (auto& name : iid_devices_ ? iid_devices_(user_agent) : std::vector<std::string>{}) {
      if (only_device && name != *only_device) continue;  // a device token moves its device only
      DeviceChange c;
      c.name = std::move(name);
      c.edit = [pfx = *prefix](DeviceRecord& d) -> std::optional<EditError> {
        if (d.ipv6_iid) d.ipv6 = with_prefix(pfx, *d.ipv6_iid);
        return std::nullopt;
      };
      plan.changes.push_back(std::move(c));
    }
  }
  if (!plan.changes.empty()) {
    auto results = registrar_.apply(std::move(plan.changes));
    std::size_t prefix_changed = 0;
    for (std::size_t k = host_changes; k < results.size(); ++k) {
      if (results[k].status == ChangeStatus::changed) ++prefix_changed;
    }
    results.resize(host_changes);
    if (lines.empty() && prefix) {
      lines.push_back(std::string(prefix_changed ? "good " : "nochg ") + trim(*req.ipv6prefix));
    }
    for (std::size_t k = 0; k < results.size(); ++k) {
      const auto& r = results[k];
      std::string& line = lines[plan.line_of_change[k]];
      switch (r.status) {
        case ChangeStatus::created:
        case ChangeStatus::changed:
          line = "good";
          break;
        case ChangeStatus::unchanged:
          line = "nochg";
          break;
        case ChangeStatus::store_error:
        case ChangeStatus::refused:  // e.g. a CNAME at the device name: no address there
          line = "dnserr";
          continue;
        case ChangeStatus::removed:
        case ChangeStatus::not_found:
          line = "911";
          continue;
      }
      const auto text = address_text(r.device, plan.sent_v4, plan.sent_v6);
      if (!text.empty()) line += " " + text;
    }
  }
  if (lines.empty() && prefix) lines.push_back("nochg " + trim(*req.ipv6prefix));
  NicUpdateAnswer answer;
  for (const auto& l : lines) answer.body += l + "\n";
  return answer;
}

}  // namespace pweb::registrar
