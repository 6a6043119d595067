#include "metrics_page.hpp"

#include <string_view>

#include "doh_service.hpp"
#include "pweb/dht/agent_directory.hpp"
#include "pweb/dns/server.hpp"
#include "pweb/dns/signed_messages.hpp"
#include "pweb/gateway/server.hpp"
#include "pweb/metrics.hpp"
#include "pweb/node/resolver.hpp"
#include "pweb/registrar/service.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::node {
namespace {

using metrics::TextWriter;

constexpr std::array<const char*, 17> kRcodeNames = {
    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS"};

void counter(TextWriter& w, std::string_view name, std::string_view help, std::uint64_t v) {
  w.family(name, "counter", help);
  w.sample(name, {}, v);
}

void gauge(TextWriter& w, std::string_view name, std::string_view help, double v) {
  w.family(name, "gauge", help);
  w.sample(name, {}, v);
}

void dns_metrics(TextWriter& w, const dns::ServerStats& s) {
  counter(w, "pweb_dns_udp_queries_total", "DNS queries received over UDP", s.udp_queries);
  counter(w, "pweb_dns_tcp_queries_total", "DNS queries received over TCP", s.tcp_queries);
  counter(w, "pweb_dns_dot_queries_total", "DNS queries received over TLS (DoT)", s.dot_queries);
  w.family("pweb_dns_queries_total", "counter", "DNS queries by query type");
  for (std::size_t i = 0; i < s.qtypes.size(); ++i) {
    w.sample("pweb_dns_queries_total", {{"type", dns::kQtypeNames[i]}}, s.qtypes[i]);
  }
  w.family("pweb_dns_responses_total", "counter", "DNS responses sent, by rcode");
  for (std::size_t i = 0; i < s.rcodes.size(); ++i) {
    // Unused rcodes stay off the page, the common ones are always there.
    if (s.rcodes[i] == 0 && i > 5) continue;
    w.sample("pweb_dns_responses_total", {{"rcode", kRcodeNames[i]}}, s.rcodes[i]);
  }
  counter(w, "pweb_dns_dropped_total",
          "DNS queries not answered (unparseable, or too many waiting)", s.dropped);
  counter(w, "pweb_dns_truncated_total", "UDP answers sent truncated (TC)", s.truncated);
  counter(w, "pweb_dns_tcp_connections_total", "DNS TCP connections accepted", s.tcp_connections);
  counter(w, "pweb_dns_dot_connections_total", "DNS-over-TLS connections accepted",
          s.dot_connections);
  counter(w, "pweb_dns_dot_handshake_failures_total",
          "DNS-over-TLS handshakes that failed or were cut at their deadline",
          s.dot_handshake_failures);
  counter(w, "pweb_dns_cache_hits_total",
          "Queries for other agents' devices answered from a DNS worker's cache", s.cache_hits);
  counter(w, "pweb_dns_cache_misses_total",
          "Queries for other agents' devices that waited for the resolver", s.cache_misses);
  counter(w, "pweb_dns_rrl_slipped_total",
          "UDP answers sent truncated (TC) by response rate limiting", s.rrl_slipped);
  counter(w, "pweb_dns_rrl_dropped_total", "UDP answers not sent by response rate limiting",
          s.rrl_dropped);
  w.family("pweb_dns_cookies_total", "counter",
           "DNS queries with a COOKIE option (RFC 7873), by what their cookie was; valid ones "
           "skip rate limiting");
  for (std::size_t i = 1; i < s.cookies.size(); ++i) {
    w.sample("pweb_dns_cookies_total",
             {{"result", dns::to_string(static_cast<dns::CookieResult>(i))}}, s.cookies[i]);
  }
  w.family("pweb_dns_answer_latency_seconds", "histogram",
           "Time from reading a DNS query to its answer being ready");
  w.histogram("pweb_dns_answer_latency_seconds", {}, s.latency);
}

void resolver_metrics(TextWriter& w, const ResolverStats& s) {
  w.family("pweb_resolver_requests_total", "counter",
           "Names given to the resolver, by where the answer came from");
  w.sample("pweb_resolver_requests_total", {{"source", "local"}}, s.local);
  w.sample("pweb_resolver_requests_total", {{"source", "cache"}}, s.cache_hits);
  w.sample("pweb_resolver_requests_total", {{"source", "remote"}}, s.remote);
  w.sample("pweb_resolver_requests_total", {{"source", "joined"}}, s.joined);
  counter(w, "pweb_resolver_cache_hits_total", "Resolver answers taken from its cache",
          s.cache_hits);
  counter(w, "pweb_resolver_cache_misses_total", "Resolver names that had to be asked remotely",
          s.remote + s.joined);
  w.family("pweb_resolver_answers_total", "counter", "Remote resolutions finished, by result");
  w.sample("pweb_resolver_answers_total", {{"result", "found"}}, s.found);
  w.sample("pweb_resolver_answers_total", {{"result", "nxdomain"}}, s.nxdomain);
  w.sample("pweb_resolver_answers_total", {{"result", "servfail"}}, s.servfail);
  counter(w, "pweb_resolver_timeouts_total", "Remote resolutions that ran out of --timeout",
          s.timeouts);
  counter(w, "pweb_resolver_stale_answers_total",
          "Expired answers served because no node of their agent answered (RFC 8767)", s.stale);
  counter(w, "pweb_resolver_agent_failovers_total",
          "Queries moved to another node of an agent's label after one gave no reply",
          s.agent_failovers);
  w.family("pweb_dht_lookups_total", "counter", "DHT lookups of agent records, by result");
  w.sample("pweb_dht_lookups_total", {{"result", "found"}}, s.agent_lookup_found);
  w.sample("pweb_dht_lookups_total", {{"result", "absent"}}, s.agent_lookup_absent);
  w.sample("pweb_dht_lookups_total", {{"result", "failed"}}, s.agent_lookup_failed);
  w.sample("pweb_dht_lookups_total", {{"result", "contested"}}, s.agent_lookup_contested);
  w.family("pweb_dht_lookup_duration_seconds", "histogram", "Time a DHT lookup of an agent took");
  w.histogram("pweb_dht_lookup_duration_seconds", {}, s.agent_lookup_latency);
  w.family("pweb_gateway_client_queries_total", "counter",
           "Gateway-protocol queries sent to other agents, by result");
  w.sample("pweb_gateway_client_queries_total", {{"result", "found"}}, s.agent_query_found);
  w.sample("pweb_gateway_client_queries_total", {{"result", "absent"}}, s.agent_query_absent);
  w.sample("pweb_gateway_client_queries_total", {{"result", "failed"}}, s.agent_query_failed);
  w.sample("pweb_gateway_client_queries_total", {{"result", "untrusted"}}, s.agent_query_untrusted);
  w.family("pweb_gateway_client_duration_seconds", "histogram",
           "Time another agent took to reply to a gateway-protocol query");
  w.histogram("pweb_gateway_client_duration_seconds", {}, s.agent_query_latency);
  w.family("pweb_gateway_client_answers_by_version_total", "counter",
           "Replies from other agents, by the gateway-protocol version they came over");
  for (std::size_t v = 0; v < s.agent_query_by_version.size(); ++v) {
    w.sample("pweb_gateway_client_answers_by_version_total", {{"version", std::to_string(v + 1)}},
             s.agent_query_by_version[v]);
  }
}

void registrar_metrics(TextWriter& w, const registrar::RegistrationService& r) {
  const auto counts = r.update_counts();
  w.family("pweb_registrar_updates_total", "counter", "DynDNS2 update answers, by result code");
  for (std::size_t i = 0; i < counts.size(); ++i) {
    w.sample("pweb_registrar_updates_total", {{"result", registrar::kUpdateResults[i]}}, counts[i]);
  }
  const auto tokens = r.token_auth_counts();
  w.family("pweb_registrar_token_auth_total", "counter",
           "DynDNS2 logins with a device token, by result (ok, bad, refused, scope, throttled)");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    w.sample("pweb_registrar_token_auth_total", {{"result", registrar::kTokenAuthResults[i]}},
             tokens[i]);
  }
  w.family("pweb_registrar_tokens_stored", "gauge", "Device tokens stored");
  w.sample("pweb_registrar_tokens_stored", {}, static_cast<double>(r.tokens().current()->size()));
  const auto s = r.stats();
  counter(w, "pweb_registrar_commits_total", "Store transactions committed", s.commits);
  counter(w, "pweb_registrar_changes_total", "Device changes committed", s.changes);
  counter(w, "pweb_registrar_failed_commits_total", "Store transactions that failed",
          s.failed_commits);
  w.family("pweb_registrar_catch_ups_total", "counter",
           "Reads of other nodes' changes to a shared store, by result (ok, failed)");
  w.sample("pweb_registrar_catch_ups_total", {{"result", "ok"}}, s.catch_ups);
  w.sample("pweb_registrar_catch_ups_total", {{"result", "failed"}}, s.failed_catch_ups);
  counter(w, "pweb_registrar_followed_changes_total",
          "Devices changed or removed by other nodes of the label, published here",
          s.followed_changes);
  gauge(w, "pweb_registrar_store_seq", "Change number of a shared store published up to",
        static_cast<double>(s.seen_seq));
}

}  // namespace

std::string render_metrics(const MetricsSources& src) {
  TextWriter w;
  w.family("pweb_node_build_info", "gauge", "This node's version, label and mode");
  w.sample("pweb_node_build_info",
           {{"version", src.version}, {"label", src.label}, {"mode", src.mode}}, std::uint64_t{1});
  gauge(w, "pweb_node_start_time_seconds", "When this node started, unix seconds",
        static_cast<double>(src.started));
  if (src.snapshots) {
    const auto snap = src.snapshots->current();
    gauge(w, "pweb_registrar_registered_devices", "Devices registered with this agent",
          static_cast<double>(snap->device_count()));
    gauge(w, "pweb_registrar_snapshot_serial", "Serial of the device snapshot DNS answers from",
          static_cast<double>(snap->serial()));
    gauge(w, "pweb_registrar_snapshot_bytes", "Memory of the device snapshot",
          static_cast<double>(snap->memory_bytes()));
  }
  if (src.registration) registrar_metrics(w, *src.registration);
  if (src.doh) {
    counter(w, "pweb_dns_doh_queries_total",
            "DNS queries received over HTTPS (DoH, /dns-query; not in the UDP, TCP or DoT counts)",
            src.doh->queries());
  }
  if (src.signed_messages) {
    const auto& m = *src.signed_messages;
    const auto counts = m.update_counts();
    w.family("pweb_registrar_rfc2136_updates_total", "counter",
             "RFC 2136 UPDATEs answered on the DNS listeners, by rcode");
    for (std::size_t i = 0; i < counts.size(); ++i) {
      w.sample("pweb_registrar_rfc2136_updates_total", {{"result", dns::kUpdateRcodes[i]}},
               counts[i]);
    }
    counter(w, "pweb_dns_tsig_queries_total", "TSIG-signed queries answered", m.signed_queries());
    counter(w, "pweb_dns_tsig_failures_total",
            "Signed messages whose TSIG did not verify (unknown key, bad MAC, outside the time "
            "window)",
            m.tsig_failures());
  }
  if (src.dns) dns_metrics(w, src.dns->stats());
  if (src.resolver) resolver_metrics(w, src.resolver->stats());
  if (src.gateway) {
    const auto g = src.gateway->stats();
    counter(w, "pweb_gateway_server_queries_total", "Gateway-protocol queries received", g.queries);
    w.family("pweb_gateway_server_replies_total", "counter",
             "Gateway-protocol replies sent, by result");
    w.sample("pweb_gateway_server_replies_total", {{"result", "found"}}, g.found);
    w.sample("pweb_gateway_server_replies_total", {{"result", "failed"}}, g.failed);
    w.family("pweb_gateway_server_queries_by_version_total", "counter",
             "Gateway-protocol queries received, by version (3: QUERY3, a typed question)");
    for (std::size_t v = 0; v < g.queries_by_version.size(); ++v) {
      w.sample("pweb_gateway_server_queries_by_version_total", {{"version", std::to_string(v + 1)}},
               g.queries_by_version[v]);
    }
    counter(w, "pweb_gateway_server_connections_total", "Gateway-protocol connections accepted",
            g.connections);
    counter(w, "pweb_gateway_server_tls_connections_total",
            "Gateway-protocol connections that completed a TLS handshake", g.tls_connections);
    w.family("pweb_gateway_server_refused_total", "counter",
             "Gateway-protocol connections refused or cut by a limit, by reason");
    w.sample("pweb_gateway_server_refused_total", {{"reason", "client_connections"}},
             g.refused_client_limit);
    w.sample("pweb_gateway_server_refused_total", {{"reason", "connections"}},
             g.refused_total_limit);
    w.sample("pweb_gateway_server_refused_total", {{"reason", "handshake_timeout"}},
             g.handshake_timeouts);
    w.sample("pweb_gateway_server_refused_total", {{"reason", "idle"}}, g.idle_closed);
    w.sample("pweb_gateway_server_refused_total", {{"reason", "tls_failed"}}, g.tls_failed);
  }
  if (src.directory) {
    const auto d = src.directory->stats();
    gauge(w, "pweb_dht_known_peers", "Good DHT nodes known (IPv4 and IPv6)",
          static_cast<double>(src.directory->good_nodes()));
    gauge(w, "pweb_dht_pinned_labels", "Agent labels pinned to their owner's key",
          static_cast<double>(d.pins));
    w.family("pweb_dht_records_rejected_total", "counter",
             "DHT values dropped: invalid (unsigned, undecodable, other label), foreign (not "
             "the pinned key) or uncertified (no valid label certificate from a trust anchor)");
    w.sample("pweb_dht_records_rejected_total", {{"reason", "invalid"}}, d.records_invalid);
    w.sample("pweb_dht_records_rejected_total", {{"reason", "foreign"}}, d.records_foreign);
    w.sample("pweb_dht_records_rejected_total", {{"reason", "uncertified"}}, d.records_uncertified);
    counter(w, "pweb_dht_contested_lookups_total",
            "DHT lookups that found an agent label signed by several keys, none pinned",
            d.lookups_contested);
  }
  return w.text();
}

}  // namespace pweb::node
