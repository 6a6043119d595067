#include "directory_service.hpp"

#include <charconv>
#include <future>
#include <optional>

#include "pweb/dns/rdata.hpp"
#include "pweb/node/names.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::node {
namespace {

// Resolution always ends within the timeout; this margin only guards the HTTP
// worker against a bug there.
constexpr std::chrono::seconds kMargin{2};

const char* status_name(dns::RemoteAnswer::Status s) {
  switch (s) {
    case dns::RemoteAnswer::Status::found:
      return "found";
    case dns::RemoteAnswer::Status::nxdomain:
      return "nxdomain";
    case dns::RemoteAnswer::Status::servfail:
      return "servfail";
    case dns::RemoteAnswer::Status::nodata:  // the name, without records of the type
      return "nodata";
  }
  return "servfail";
}

// "TXT", "txt", "TYPE16", "ANY" or "16"; nullopt if none of these.
std::optional<std::uint16_t> parse_type(const std::string& text) {
  if (registrar::to_lower(text) == "any") return dns::type::ANY;
  if (const auto t = dns::rrtype_from_text(text)) return t;
  unsigned value = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || err != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::string type_name(std::uint16_t type) {
  return type == dns::type::ANY ? std::string("ANY") : dns::rrtype_to_text(type);
}

}  // namespace

rest::ResolveInfo NodeDirectory::resolve(const std::string& name, const std::string& type) {
  rest::ResolveInfo info;
  // Without a type: a device's addresses, as before (ANY asks for both).
  std::uint16_t qtype = dns::type::ANY;
  if (!type.empty()) {
    const auto parsed = parse_type(type);
    if (!parsed) {
      info.error = "unknown record type '" + type + "'";
      return info;
    }
    qtype = *parsed;
    info.type = type_name(qtype);
  }
  const auto k = type.empty() ? device_key(name, zones_) : record_key(name, zones_);
  if (!k.error.empty()) {
    info.error = k.error;
    return info;
  }
  info.name = k.key;
  auto promise = std::make_shared<std::promise<Resolution>>();
  auto future = promise->get_future();
  resolver_.resolve_detailed(k.key, qtype,
                             [promise](const Resolution& r) { promise->set_value(r); });
  if (future.wait_for(timeout_ + kMargin) != std::future_status::ready) {
    info.status = "servfail";
    info.source = "remote";
    info.detail = "no answer within the timeout";
    info.failure = to_string(Failure::timeout);
    return info;
  }
  const Resolution r = future.get();
  info.status = status_name(r.answer.status);
  info.source = to_string(r.source);
  info.ttl = r.answer.ttl;
  info.agent = r.agent;
  info.detail = r.detail;
  info.failure = to_string(r.failure);
  info.stale = r.stale;
  const auto& e = r.answer.entry;
  if (r.answer.status == dns::RemoteAnswer::Status::found) {
    if (e.has_v4()) info.ipv4 = registrar::format_ipv4(e.v4);
    if (e.has_v6()) info.ipv6 = registrar::format_ipv6(e.v6);
    if (!type.empty() && r.answer.rrset) {
      for (const auto& rd : r.answer.rrset->rdata) {
        const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(rd.data()), rd.size());
        info.records.push_back({type_name(r.answer.rrset->type), r.answer.rrset->ttl,
                                dns::rdata_to_text(r.answer.rrset->type, bytes)});
      }
    }
  }
  return info;
}

rest::DirectoryService::AgentStatus NodeDirectory::agent(const std::string& label,
                                                         rest::AgentInfo& out, std::string& why) {
  if (auto err = registrar::label_error(label)) {
    why = *err;
    return AgentStatus::bad_label;
  }
  if (!directory_) {
    why = "this node is a gateway and not in the DHT";
    return AgentStatus::unavailable;
  }
  const std::string lower = registrar::to_lower(label);
  auto promise = std::make_shared<std::promise<dht::LookupResult>>();
  auto future = promise->get_future();
  directory_->lookup(lower, [promise](dht::LookupResult r) { promise->set_value(std::move(r)); });
  if (future.wait_for(timeout_ + kMargin) != std::future_status::ready) {
    why = "the DHT did not answer within the timeout";
    return AgentStatus::unavailable;
  }
  const auto found = future.get();
  const auto& record = found.record;
  if (found.contested) {
    // Not "no such agent": several keys claim it and this node follows none.
    why = "agent label '" + lower + "' is contested: records signed by keys";
    for (const auto& k : found.contenders) why += " " + k;
    why += "; none is pinned (pweb-node pin add " + lower + " KEY_ID)";
    return AgentStatus::unavailable;
  }
  if (!record) {
    why = "no agent '" + lower + "' in the DHT";
    return AgentStatus::none;
  }
  const auto info = [](const dht::AgentRecord& r) {
    rest::AgentInfo a;
    a.ipv4 = r.ipv4;
    a.ipv6 = r.ipv6;
    a.gateway_port = r.gateway_port;
    a.http_port = r.http_port;
    a.dns_port = r.dns_port;
    a.updated = r.updated;
    return a;
  };
  out = info(*record);
  out.label = record->label;
  for (const auto& r : found.records) out.nodes.push_back(info(r));
  if (out.nodes.empty()) out.nodes.push_back(info(*record));
  return AgentStatus::found;
}

std::optional<std::vector<rest::NeighborInfo>> NodeDirectory::neighbors() {
  if (!directory_) return std::nullopt;
  std::vector<rest::NeighborInfo> out;
  for (const auto& n : directory_->neighbors()) out.push_back({n.id, n.address});
  return out;
}

}  // namespace pweb::node
