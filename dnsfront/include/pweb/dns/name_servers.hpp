#pragma once
// The zone's name servers as the operator names them (`--ns NAME[=ADDR]`) and
// the SOA contact (`--soa-contact MAILBOX`): parsed and checked at start-up,
// with messages that name the option.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/dns/message.hpp"
#include "pweb/registrar/device.hpp"

namespace pweb::dns {

// A name server's addresses; a wildcard listener has no address to give.
struct NameServerAddress {
  std::optional<registrar::Ipv4> v4;
  std::optional<registrar::Ipv6> v6;
};

struct NamedServer {
  std::string name;  // lowercase, absolute: "ns1.dyn.example.org."
  NameServerAddress addr;
};

// Parses the repeatable --ns values. The same name given twice merges its
// addresses (one per family). Then checks them against the served zones: a
// name inside a zone needs an address (else resolvers cannot reach it: a lame
// delegation), a name outside every zone may not have one (glue is only for
// names inside the zone). Returns the first error, naming the option.
std::optional<std::string> parse_name_servers(const std::vector<std::string>& values,
                                              const std::vector<std::string>& zones,
                                              std::vector<NamedServer>& out);

// The same zone checks on already parsed servers (zones as given to --suffix).
std::optional<std::string> check_name_servers(const std::vector<NamedServer>& servers,
                                              const std::vector<std::string>& zones);

// "hostmaster@example.org" or "hostmaster.example.org" to the SOA RNAME in
// wire form; a mailbox's local part is one label, dots and all (what
// "first\.last.example.org." means in a zone file). Returns an error naming
// --soa-contact.
std::optional<std::string> parse_soa_contact(std::string_view text, Name& rname);

// Whether `name` (lowercase, absolute) is `zone` or below it.
bool in_zone(std::string_view name, std::string_view zone) noexcept;

}  // namespace pweb::dns
