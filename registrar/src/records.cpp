#include "pweb/registrar/records.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar {
namespace {

constexpr std::size_t kMaxSubnameSize = 160;  // leaves room for device.user.agent.suffix

EditError err(EditError::Kind k, std::string m) { return {k, std::move(m)}; }

bool is_address(std::string_view subname, std::uint16_t type) {
  return subname.empty() && (type == rrtype::A || type == rrtype::AAAA);
}

// Types that a device may not hold whatever the edge: the zone's own (SOA, NS),
// and meta types that are not data.
bool forbidden_type(std::uint16_t type) {
  switch (type) {
    case 0:
    case 2:    // NS
    case 6:    // SOA
    case 41:   // OPT
    case 250:  // TSIG
    case 251:  // IXFR
    case 252:  // AXFR
    case 255:  // ANY
      return true;
    default:
      return false;
  }
}

auto find_set(std::vector<RRset>& sets, std::string_view subname, std::uint16_t type) {
  return std::find_if(sets.begin(), sets.end(),
                      [&](const RRset& s) { return s.subname == subname && s.type == type; });
}

void insert_sorted(std::vector<RRset>& sets, RRset set) {
  const auto at =
      std::lower_bound(sets.begin(), sets.end(), set, [](const RRset& a, const RRset& b) {
        return a.subname != b.subname ? a.subname < b.subname : a.type < b.type;
      });
  sets.insert(at, std::move(set));
}

std::optional<EditError> set_address(DeviceRecord& d, std::uint16_t type,
                                     const std::string* rdata) {
  const std::size_t size = type == rrtype::A ? 4 : 16;
  if (rdata && rdata->size() != size) {
    return err(EditError::Kind::invalid, std::string(type == rrtype::A ? "A" : "AAAA") +
                                             " record data must be " + std::to_string(size) +
                                             " bytes");
  }
  if (type == rrtype::A) {
    if (!rdata) {
      d.ipv4.reset();
    } else {
      d.ipv4.emplace();
      std::copy(rdata->begin(), rdata->end(), d.ipv4->begin());
    }
  } else if (!rdata) {
    d.ipv6.reset();
  } else {
    d.ipv6.emplace();
    std::copy(rdata->begin(), rdata->end(), d.ipv6->begin());
  }
  return std::nullopt;
}

}  // namespace

SubnameResult parse_subname(std::string_view text) {
  SubnameResult out;
  if (text == "@") {
    out.subname = "";
    return out;
  }
  if (text.empty()) {
    out.error = "subname is empty (use @ for the device name itself)";
    return out;
  }
  if (text.size() > kMaxSubnameSize) {
    out.error = "subname longer than " + std::to_string(kMaxSubnameSize) + " characters";
    return out;
  }
  const std::string lower = to_lower(text);
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= lower.size(); ++i) {
    if (i < lower.size() && lower[i] != '.') continue;
    const std::string_view label = std::string_view(lower).substr(label_start, i - label_start);
    label_start = i + 1;
    if (label.empty()) {
      out.error = "subname '" + printable(text) + "' has an empty label";
      return out;
    }
    if (label.size() > 63) {
      out.error = "subname label longer than 63 characters";
      return out;
    }
    if (label == "*") {
      if (i != 1) {
        out.error = "subname '" + printable(text) + "': '*' only as the first label (RFC 4592)";
        return out;
      }
      continue;
    }
    for (const char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
        out.error = "subname '" + printable(text) + "': labels hold only a-z 0-9 - _ (or are '*')";
        return out;
      }
    }
  }
  out.subname = lower;
  return out;
}

std::optional<RRset> find_rrset(const DeviceRecord& d, std::string_view subname, std::uint16_t type,
                                std::uint32_t default_ttl) {
  if (is_address(subname, type)) {
    const std::uint32_t ttl = d.ttl ? d.ttl : default_ttl;
    if (type == rrtype::A && d.ipv4) return address_rrset(type, ttl, *d.ipv4);
    if (type == rrtype::AAAA && d.ipv6) return address_rrset(type, ttl, *d.ipv6);
    return std::nullopt;
  }
  for (const auto& s : d.rrsets) {
    if (s.subname == subname && s.type == type) return s;
  }
  return std::nullopt;
}

bool name_in_use(const DeviceRecord& d, std::string_view subname) {
  if (subname.empty()) return true;
  return std::any_of(d.rrsets.begin(), d.rrsets.end(),
                     [&](const RRset& s) { return s.subname == subname; });
}

std::optional<EditError> put_rrset(DeviceRecord& d, RRset set) {
  // Records in a set are unique (RFC 2181 §5) and kept in one order.
  std::sort(set.rdata.begin(), set.rdata.end());
  set.rdata.erase(std::unique(set.rdata.begin(), set.rdata.end()), set.rdata.end());
  if (is_address(set.subname, set.type)) {
    if (set.rdata.size() > 1) {
      return err(EditError::Kind::refused,
                 "the device's own address (@ " +
                     std::string(set.type == rrtype::A ? "A" : "AAAA") +
                     ") is one address, the one /nic/update sets; put more under a subname");
    }
    if (auto e = set_address(d, set.type, set.rdata.empty() ? nullptr : &set.rdata.front()))
      return e;
    if (!set.rdata.empty()) d.ttl = set.ttl;
    return std::nullopt;
  }
  remove_rrset(d, set.subname, set.type);
  if (!set.rdata.empty()) insert_sorted(d.rrsets, std::move(set));
  return std::nullopt;
}

void remove_rrset(DeviceRecord& d, std::string_view subname, std::uint16_t type) {
  if (is_address(subname, type)) {
    set_address(d, type, nullptr);
    return;
  }
  const auto it = find_set(d.rrsets, subname, type);
  if (it != d.rrsets.end()) d.rrsets.erase(it);
}

std::optional<EditError> check_records(const DeviceRecord& d, const RecordLimits& limits,
                                       std::size_t user_bytes_elsewhere) {
  using K = EditError::Kind;
  auto ttl_error = [&](std::uint32_t ttl, const std::string& what) -> std::optional<EditError> {
    if (ttl < limits.min_ttl) {
      return err(K::refused, what + ": ttl " + std::to_string(ttl) + " is below the minimum " +
                                 std::to_string(limits.min_ttl));
    }
    if (ttl > limits.max_ttl) {
      return err(K::refused, what + ": ttl " + std::to_string(ttl) + " is above the maximum " +
                                 std::to_string(limits.max_ttl));
    }
    return std::nullopt;
  };
  if (d.ttl != 0) {
    if (auto e = ttl_error(d.ttl, d.name)) return e;
  }
  std::size_t records = 0, bytes = 0;
  for (std::size_t i = 0; i < d.rrsets.size(); ++i) {
    const RRset& s = d.rrsets[i];
    const std::string where =
        std::string(subname_to_api(s.subname)) + " type " + std::to_string(s.type);
    const auto parsed = parse_subname(s.subname.empty() ? "@" : s.subname);
    if (!parsed.subname || *parsed.subname != s.subname) {
      return err(K::invalid,
                 parsed.error.empty() ? where + ": subname not in stored form" : parsed.error);
    }
    if (forbidden_type(s.type)) {
      return err(K::refused, where + ": this type cannot be held by a device");
    }
    if (is_address(s.subname, s.type)) return err(K::invalid, where + ": held as the address");
    if (s.rdata.empty()) return err(K::invalid, where + ": an RRset needs at least one record");
    if (auto e = ttl_error(s.ttl, where)) return e;
    if (i > 0) {
      const RRset& p = d.rrsets[i - 1];
      if (p.subname == s.subname && p.type == s.type) return err(K::invalid, where + ": twice");
    }
    if (s.type == rrtype::CNAME) {
      if (s.rdata.size() != 1) {
        return err(K::refused, where + ": a CNAME RRset holds exactly one record");
      }
      const bool others = std::any_of(d.rrsets.begin(), d.rrsets.end(),
                                      [&](const RRset& o) {
                                        return o.subname == s.subname && o.type != rrtype::CNAME;
                                      }) ||
                          (s.subname.empty() && (d.ipv4 || d.ipv6));
      if (others) {
        return err(K::refused, "CNAME at " + std::string(subname_to_api(s.subname)) +
                                   " conflicts with other records at that name (RFC 1034 §3.6.2)");
      }
    }
    records += s.rdata.size();
    bytes += s.wire_bytes();
  }
  if (d.rrsets.size() > limits.max_rrsets_per_device) {
    return err(K::refused, "more than " + std::to_string(limits.max_rrsets_per_device) +
                               " RRsets in one device");
  }
  if (records > limits.max_records_per_device) {
    return err(K::refused, "more than " + std::to_string(limits.max_records_per_device) +
                               " records in one device");
  }
  if (bytes > limits.max_bytes_per_device) {
    return err(K::refused, "records of one device larger than " +
                               std::to_string(limits.max_bytes_per_device) + " bytes");
  }
  if (bytes + user_bytes_elsewhere > limits.max_bytes_per_user) {
    return err(K::refused, "records of one user larger than " +
                               std::to_string(limits.max_bytes_per_user) + " bytes");
  }
  return std::nullopt;
}

std::optional<EditError> apply_record_ops(DeviceRecord& d, std::span<const RecordOp> ops,
                                          std::uint32_t default_ttl) {
  using K = RecordOp::Kind;
  using E = EditError::Kind;
  // §3.2: every prerequisite, before any update.
  std::map<std::pair<std::string, std::uint16_t>, std::set<std::string>> wanted;
  for (const auto& op : ops) {
    const std::string at = std::string(subname_to_api(op.subname));
    switch (op.kind) {
      case K::rrset_exists:
        if (op.type == rrtype::ANY ? !name_in_use(d, op.subname)
                                   : !find_rrset(d, op.subname, op.type, default_ttl)) {
          return err(E::rrset_absent, "prerequisite: no RRset of that type at " + at);
        }
        break;
      case K::rrset_exists_value:
        wanted[{op.subname, op.type}].insert(op.rdata);
        break;
      case K::rrset_absent:
        if (find_rrset(d, op.subname, op.type, default_ttl)) {
          return err(E::rrset_present, "prerequisite: an RRset of that type exists at " + at);
        }
        break;
      case K::name_in_use:
        if (!name_in_use(d, op.subname))
          return err(E::name_absent, "prerequisite: " + at + " not in use");
        break;
      case K::name_not_in_use:
        if (name_in_use(d, op.subname))
          return err(E::name_present, "prerequisite: " + at + " in use");
        break;
      default:
        break;
    }
  }
  for (const auto& [key, records] : wanted) {
    const auto found = find_rrset(d, key.first, key.second, default_ttl);
    const std::set<std::string> have =
        found ? std::set<std::string>(found->rdata.begin(), found->rdata.end())
              : std::set<std::string>{};
    if (have != records) {
      return err(E::rrset_absent, "prerequisite: the RRset at " +
                                      std::string(subname_to_api(key.first)) + " differs");
    }
  }
  // §3.4.2: the updates, in order.
  for (const auto& op : ops) {
    switch (op.kind) {
      case K::add: {
        const bool has_cname = static_cast<bool>(find_rrset(d, op.subname, rrtype::CNAME, 0));
        if (op.type == rrtype::CNAME) {
          const bool other = (op.subname.empty() && (d.ipv4 || d.ipv6)) ||
                             std::any_of(d.rrsets.begin(), d.rrsets.end(), [&](const RRset& s) {
                               return s.subname == op.subname && s.type != rrtype::CNAME;
                             });
          if (other) break;  // §3.4.2.2: ignored
          RRset set{op.subname, rrtype::CNAME, op.ttl, {op.rdata}};
          if (auto e = put_rrset(d, std::move(set))) return e;
          break;
        }
        if (has_cname) break;  // §3.4.2.2: ignored
        auto set = find_rrset(d, op.subname, op.type, default_ttl)
                       .value_or(RRset{op.subname, op.type, op.ttl, {}});
        set.ttl = op.ttl;
        if (is_address(op.subname, op.type)) {
          set.rdata = {op.rdata};  // one address per family: the new one replaces
        } else {
          set.rdata.push_back(op.rdata);
        }
        if (auto e = put_rrset(d, std::move(set))) return e;
        break;
      }
      case K::delete_rrset:
        remove_rrset(d, op.subname, op.type);
        break;
      case K::delete_name:
        if (op.subname.empty()) {
          d.ipv4.reset();
          d.ipv6.reset();
        }
        std::erase_if(d.rrsets, [&](const RRset& s) { return s.subname == op.subname; });
        break;
      case K::delete_record: {
        auto set = find_rrset(d, op.subname, op.type, default_ttl);
        if (!set) break;
        std::erase(set->rdata, op.rdata);
        if (auto e = put_rrset(d, std::move(*set))) return e;
        break;
      }
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace pweb::registrar
