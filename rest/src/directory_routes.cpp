#include "directory_routes.hpp"

#include "http_util.hpp"

namespace pweb::rest {
namespace {

using nlohmann::json;

json optional_text(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

void resolve(DirectoryService& service, const httplib::Request& req, httplib::Response& res) {
  const ResolveInfo r = service.resolve(req.matches[1], req.get_param_value("type"));
  if (!r.error.empty()) return send_error(res, 400, r.error);
  json body = {{"name", r.name},
               {"status", r.status},
               {"source", r.source},
               {"ipv4", optional_text(r.ipv4)},
               {"ipv6", optional_text(r.ipv6)},
               {"ttl", r.ttl},
               {"agent", r.agent}};
  if (!r.detail.empty()) body["detail"] = r.detail;
  if (r.stale) body["stale"] = true;
  if (!r.type.empty()) {
    body["type"] = r.type;
    json records = json::array();
    for (const auto& rec : r.records) {
      records.push_back({{"type", rec.type}, {"ttl", rec.ttl}, {"rdata", rec.rdata}});
    }
    body["records"] = std::move(records);
  }
  int status = 200;
  if (r.status == "nxdomain") status = 404;
  if (r.status == "servfail") {
    // Whose fault, for the client: nobody answered in time, the agent could
    // not be reached, or the DHT could not be asked.
    status = (r.failure == "agent" || r.failure == "untrusted" || r.failure == "contested") ? 502
             : r.failure == "dht"                                                           ? 503
                                                                                            : 504;
    if (!r.failure.empty()) body["failure"] = r.failure;
  }
  if (status != 200) body["error"] = r.detail.empty() ? r.status : r.detail;
  send_json(res, status, body);
}

void agent(DirectoryService& service, const httplib::Request& req, httplib::Response& res) {
  AgentInfo a;
  std::string why;
  switch (service.agent(req.matches[1], a, why)) {
    case DirectoryService::AgentStatus::found: {
      const auto where = [](const AgentInfo& n) {
        return nlohmann::json{
            {"ipv4", n.ipv4},           {"ipv6", n.ipv6},         {"gateway_port", n.gateway_port},
            {"http_port", n.http_port}, {"dns_port", n.dns_port}, {"updated", n.updated}};
      };
      auto body = where(a);
      body["label"] = a.label;
      body["nodes"] = nlohmann::json::array();
      for (const auto& n : a.nodes) body["nodes"].push_back(where(n));
      return send_json(res, 200, body);
    }
    case DirectoryService::AgentStatus::none:
      return send_error(res, 404, why);
    case DirectoryService::AgentStatus::unavailable:
      return send_error(res, 503, why);
    case DirectoryService::AgentStatus::bad_label:
      return send_error(res, 400, why);
  }
}

void neighbors(DirectoryService& service, httplib::Response& res) {
  const auto list = service.neighbors();
  if (!list) return send_error(res, 503, "this node is a gateway and not in the DHT");
  json out = json::array();
  for (const auto& n : *list) out.push_back({{"id", n.id}, {"address", n.address}});
  send_json(res, 200, {{"neighbors", out}, {"count", list->size()}});
}

}  // namespace

void register_directory_routes(RouteTable& routes, DirectoryService& service) {
  routes.get(R"(/api/v1/resolve/([^/]+))",
             [&service](const httplib::Request& req, httplib::Response& res) {
               resolve(service, req, res);
             });
  routes.get(R"(/api/v1/agents/([^/]+))",
             [&service](const httplib::Request& req, httplib::Response& res) {
               agent(service, req, res);
             });
  routes.get("/api/v1/neighbors", [&service](const httplib::Request&, httplib::Response& res) {
    neighbors(service, res);
  });
}

}  // namespace pweb::rest
