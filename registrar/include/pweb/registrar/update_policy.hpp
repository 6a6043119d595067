#pragma once
// The decisions of the pweb-update client, without any I/O: what a DynDNS2
// answer means (success, retry, or stop and why), how long to wait before a
// retry, where the address is in a /checkip page, which addresses count as
// global, whether the options name a usable device, server and address source,
// and whether an update is due. The binary (registrar/updater) does the I/O.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar::update {

// Exit codes of pweb-update; `exit_code_help()` describes them for --help.
enum class ExitCode : int {
  ok = 0,
  internal = 1,   // an unexpected failure inside pweb-update
  usage = 2,      // bad options: device name, server URL, --ip, password file
  temporary = 3,  // still failing after the last retry: server unreachable, timeout,
                  // HTTP 5xx, 911, dnserr, no address found
  badauth = 4,    // wrong user name or password
  nohost = 5,     // the name is not this user's on this server
  notfqdn = 6,    // the server does not accept the name as device.user.agent
  numhost = 7,    // too many hostnames in one request
  abuse = 8,      // blocked after too many failed logins from this address
  rejected = 9,   // any other refusal: HTTP 4xx, a malformed address (400), badagent
};

std::string exit_code_help();

enum class Outcome { success, retry, fatal };

struct Verdict {
  Outcome outcome = Outcome::retry;
  std::string code;    // good, nochg, 911, badauth, ..., http-503, transport, unexpected
  std::string reason;  // one sentence for the log; empty for good/nochg
  ExitCode exit_code = ExitCode::ok;   // what to exit with if this stops the client
  bool changed = false;                // success: `good` (true) or `nochg` (false)
  std::vector<std::string> addresses;  // success: the addresses the server reports as set
};

// Classifies the answer to one `GET /nic/update` with one hostname.
Verdict classify_answer(int http_status, std::string_view body);

// No HTTP answer at all (cannot connect, timeout, TLS failure): retry.
Verdict transport_failure(std::string_view what);

// No address to register yet (e.g. the interface has none): retry.
Verdict address_unavailable(std::string_view what);

// The address has not changed since the last successful update: success, nothing sent.
Verdict unchanged();

// The address found by `GET /checkip`, or a verdict saying why not.
struct CheckipResult {
  std::optional<std::string> address;  // normalized
  Verdict verdict;                     // meaningful when address is empty
};
CheckipResult classify_checkip(int http_status, std::string_view body);

// The address in a checkip page: `...Current IP Address: 1.2.3.4</body>...`,
// or a body that is only an address. Normalized (see normalize_address).
std::optional<std::string> parse_checkip(std::string_view body);

// An IPv4 or IPv6 address in canonical text form (inet_ntop); IPv4-mapped IPv6
// counts as IPv4. nullopt if `text` is not an address.
std::optional<std::string> normalize_address(std::string_view text);

// Whether a normalized address may be registered for a device found on an
// interface: not unspecified, loopback, link-local or multicast (Linux's
// "scope global"; private RFC 1918 and ULA addresses count as global).
bool is_global_address(std::string_view normalized);

// Exponential back-off with jitter.
struct Backoff {
  std::chrono::milliseconds initial{5000};
  std::chrono::milliseconds max{600000};
  double jitter = 0.2;  // the delay is scaled by a factor in [1 - jitter, 1 + jitter]
};
// Delay before retry `retry` (0 = the first): initial * 2^retry, at most max,
// scaled by the jitter factor drawn from `unit` in [0, 1), and never above max.
std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned retry, double unit);

// --device: valid by the name rules and owned by --user (a user owns every
// `*.USER.AGENT` name). The error names the bad label.
NameResult validate_device(std::string_view device, std::string_view user);

// --server: `http://host[:port][/base]` or `https://...`; host may be `[v6]`.
struct ServerUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  int port = 0;        // 80/443 when not given
  std::string base;    // path prefix without trailing '/', e.g. "" or "/pweb"
};
struct UrlResult {
  std::optional<ServerUrl> url;
  std::string error;
};
UrlResult parse_server_url(std::string_view text);

// --ip: `auto` (ask the server's /checkip), `if:NAME` (an interface), or an address.
struct AddressSource {
  enum class Kind { checkip, literal, interface };
  Kind kind = Kind::checkip;
  std::string value;  // the normalized address, or the interface name
};
struct SourceResult {
  std::optional<AddressSource> source;
  std::string error;
};
SourceResult parse_address_source(std::string_view text);

// What was last registered successfully; kept in memory and in the state file.
struct UpdateState {
  std::string server;  // the --server URL as given
  std::string device;  // device.user.agent, lowercase
  std::string address;
  friend bool operator==(const UpdateState&, const UpdateState&) = default;
};
std::string format_state(const UpdateState& s);
std::optional<UpdateState> parse_state(std::string_view text);

// An update is sent on the first run and whenever the address, the device or
// the server differs from the last successful update.
bool update_needed(const std::optional<UpdateState>& last, const UpdateState& now);

// At most `max` characters of `text`'s first line, control characters replaced
// by '?': safe to put in a log line or a message.
std::string excerpt(std::string_view text, std::size_t max = 120);

}  // namespace pweb::registrar::update
