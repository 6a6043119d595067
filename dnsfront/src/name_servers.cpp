#include "pweb/dns/name_servers.hpp"

#include <algorithm>

#include "pweb/registrar/names.hpp"

namespace pweb::dns {
namespace {

constexpr std::size_t kMaxNameServers = 64;  // more does not fit a referral anyway
constexpr std::size_t kMaxHostName = 253;    // presentation form, without the final dot

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Splits "a.b.c" into labels; false on an empty label.
bool split_labels(std::string_view text, std::vector<std::string_view>& out) {
  out.clear();
  while (true) {
    const auto dot = text.find('.');
    const auto label = text.substr(0, dot);
    if (label.empty()) return false;
    out.push_back(label);
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

// A host name as RFC 952/1123 allow it; the error says why not.
std::optional<std::string> host_name_error(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::string("an empty name");
  if (name.size() > kMaxHostName) return "longer than " + std::to_string(kMaxHostName);
  std::vector<std::string_view> labels;
  if (!split_labels(name, labels)) return std::string("an empty label");
  if (labels.size() < 2) return std::string("not a fully qualified name");
  for (auto l : labels) {
    if (auto err = registrar::label_error(l)) return err;
  }
  return std::nullopt;
}

std::string absolute_lower(std::string_view name) {
  std::string s = registrar::to_lower(name);
  if (s.empty() || s.back() != '.') s.push_back('.');
  return s;
}

bool is_unspecified(const NameServerAddress& a) {
  const auto zero = [](const auto& bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
  };
  return (a.v4 && zero(*a.v4)) || (a.v6 && zero(*a.v6));
}

}  // namespace

bool in_zone(std::string_view name, std::string_view zone) noexcept {
  if (name.size() < zone.size() || !name.ends_with(zone)) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

std::optional<std::string> check_name_servers(const std::vector<NamedServer>& servers,
                                              const std::vector<std::string>& zones) {
  if (servers.size() > kMaxNameServers) {
    return "--ns: at most " + std::to_string(kMaxNameServers) + " name servers";
  }
  for (const auto& s : servers) {
    const bool has_address = s.addr.v4 || s.addr.v6;
    bool inside = false;
    for (const auto& z : zones) {
      const std::string zone = absolute_lower(z);
      if (s.name == zone) {
        return "--ns " + quoted(s.name) + ": the zone apex itself cannot be a name server name";
      }
      inside = inside || in_zone(s.name, zone);
    }
    if (inside && !has_address) {
      return "--ns " + quoted(s.name) +
             ": a name server inside the zone needs an address (NAME=ADDR), or resolvers "
             "cannot reach it";
    }
    if (!inside && has_address) {
      return "--ns " + quoted(s.name) +
             ": an address (glue) is only for names inside a served --suffix; name it without "
             "=ADDR and give its address in its own zone";
    }
  }
  return std::nullopt;
}

std::optional<std::string> parse_name_servers(const std::vector<std::string>& values,
                                              const std::vector<std::string>& zones,
                                              std::vector<NamedServer>& out) {
  out.clear();
  for (const auto& v : values) {
    const auto eq = v.find('=');
    const std::string_view name = std::string_view(v).substr(0, eq);
    if (auto err = host_name_error(name)) {
      return "--ns " + quoted(v) + ": " + quoted(name) + " is not a valid host name (" + *err + ")";
    }
    NamedServer ns;
    ns.name = absolute_lower(name);
    if (eq != std::string::npos) {
      const std::string text = v.substr(eq + 1);
      if (auto a4 = registrar::parse_ipv4(text)) {
        ns.addr.v4 = a4;
      } else if (auto a6 = registrar::parse_ipv6(text)) {
        ns.addr.v6 = a6;
      } else {
        return "--ns " + quoted(v) + ": " + quoted(text) + " is not a numeric IPv4 or IPv6 address";
      }
      if (is_unspecified(ns.addr)) {
        return "--ns " + quoted(v) + ": the unspecified address is no address to reach";
      }
    }
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const NamedServer& s) { return s.name == ns.name; });
    if (same == out.end()) {
      out.push_back(std::move(ns));
      continue;
    }
    // One name, given once per family.
    if ((ns.addr.v4 && same->addr.v4) || (ns.addr.v6 && same->addr.v6)) {
      return "--ns " + quoted(v) + ": " + quoted(ns.name) +
             " already has an address of that family (one IPv4 and one IPv6 per name)";
    }
    if (ns.addr.v4) same->addr.v4 = ns.addr.v4;
    if (ns.addr.v6) same->addr.v6 = ns.addr.v6;
  }
  return check_name_servers(out, zones);
}

std::optional<std::string> parse_soa_contact(std::string_view text, Name& rname) {
  const auto bad = [&](const std::string& why) {
    return "--soa-contact " + quoted(text) + ": " + why;
  };
  std::string_view local, domain;
  if (const auto at = text.find('@'); at != std::string_view::npos) {
    local = text.substr(0, at);
    domain = text.substr(at + 1);
  } else {
    const auto dot = text.find('.');
    if (dot == std::string_view::npos) return bad("not a mailbox (hostmaster@example.org)");
    local = text.substr(0, dot);
    domain = text.substr(dot + 1);
  }
  if (local.empty() || local.size() > kMaxLabelSize) {
    return bad("the local part must have 1 to 63 characters");
  }
  for (char c : local) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_' || c == '+';
    if (!ok) return bad("the local part may hold only a-z, 0-9, '.', '-', '_' and '+'");
  }
  if (local.front() == '.' || local.back() == '.')
    return bad("the local part starts or ends with '.'");
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::vector<std::string_view> labels;
  if (domain.empty() || !split_labels(domain, labels)) return bad("no domain");
  for (auto l : labels) {
    if (auto err = registrar::label_error(l)) return bad(*err);
  }
  // The local part is one label even with dots in it.
  rname.size = 0;
  rname.labels = 0;
  const auto add = [&](std::string_view label) {
    rname.offsets[rname.labels++] = static_cast<std::uint8_t>(rname.size);
    rname.wire[rname.size++] = static_cast<std::uint8_t>(label.size());
    for (char c : label) rname.wire[rname.size++] = static_cast<std::uint8_t>(c);
  };
  if (local.size() + 1 + domain.size() + 2 > kMaxNameSize) return bad("too long");
  add(local);
  for (auto l : labels) add(registrar::to_lower(l));
  rname.wire[rname.size++] = 0;
  return std::nullopt;
}

}  // namespace pweb::dns
