#include "pweb/registrar/update_policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "pweb/registrar/device.hpp"

namespace pweb::registrar::update {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string_view first_line(std::string_view body) {
  // The first non-empty line: one hostname was sent, so one answer line is expected.
  for (int i = 0; i < 1000 && !body.empty(); ++i) {
    const auto nl = body.find('\n');
    const auto line = trim(body.substr(0, nl));
    if (!line.empty() || nl == std::string_view::npos) return line;
    body.remove_prefix(nl + 1);
  }
  return {};
}

std::vector<std::string> split_addresses(std::string_view s) {
  std::vector<std::string> out;
  for (int i = 0; i < 64 && !s.empty(); ++i) {
    const auto comma = s.find(',');
    const auto part = trim(s.substr(0, comma));
    if (!part.empty()) {
      const auto norm = normalize_address(part);
      out.push_back(norm ? *norm : std::string(part));
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Verdict success(std::string code, bool changed, std::vector<std::string> addresses) {
  Verdict v;
  v.outcome = Outcome::success;
  v.code = std::move(code);
  v.changed = changed;
  v.addresses = std::move(addresses);
  return v;
}

Verdict retry(std::string code, std::string reason) {
  Verdict v;
  v.outcome = Outcome::retry;
  v.code = std::move(code);
  v.reason = std::move(reason);
  v.exit_code = ExitCode::temporary;
  return v;
}

Verdict fatal(std::string code, ExitCode exit, std::string reason) {
  Verdict v;
  v.outcome = Outcome::fatal;
  v.code = std::move(code);
  v.reason = std::move(reason);
  v.exit_code = exit;
  return v;
}

Verdict badauth() {
  return fatal("badauth", ExitCode::badauth,
               "the server refused the user name or password (badauth); check --user and "
               "--password-file");
}

Verdict abuse() {
  return fatal("abuse", ExitCode::abuse,
               "the server blocks this address after too many failed logins (abuse); check "
               "the password and wait before trying again");
}

std::string http_code(int status) { return "http-" + std::to_string(status); }

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string exit_code_help() {
  return "Exit codes:\n"
         "  0  success (with --once), or stopped by SIGINT/SIGTERM\n"
         "  1  internal error\n"
         "  2  bad options: device name, server URL, --ip, password file\n"
         "  3  still failing after the last retry (server unreachable, timeout, HTTP 5xx,\n"
         "     911, dnserr, no address found)\n"
         "  4  badauth: wrong user name or password\n"
         "  5  nohost: the name is not this user's on this server\n"
         "  6  notfqdn: the server does not accept the name\n"
         "  7  numhost: too many hostnames\n"
         "  8  abuse: blocked after too many failed logins\n"
         "  9  refused otherwise (HTTP 4xx, malformed address, badagent)\n"
         "  128+N  --once interrupted by signal N before it succeeded\n";
}

std::string excerpt(std::string_view text, std::size_t max) {
  auto line = trim(text.substr(0, text.find_first_of("\r\n")));
  std::string out;
  for (char c : line.substr(0, std::min(line.size(), max))) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (line.size() > max) out += "...";
  return out;
}

Verdict classify_answer(int http_status, std::string_view body) {
  const auto line = first_line(body);
  const auto space = line.find_first_of(" \t");
  const auto token = to_lower(line.substr(0, space));
  const auto rest = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);

  if (http_status >= 200 && http_status < 300) {
    if (token == "good") return success("good", true, split_addresses(rest));
    if (token == "nochg") return success("nochg", false, split_addresses(rest));
    if (token == "911") return retry("911", "the server had an internal error (911)");
    if (token == "dnserr") return retry("dnserr", "the server could not store the update (dnserr)");
    if (token == "badauth") return badauth();
    if (token == "abuse") return abuse();
    if (token == "nohost" || token == "!yours") {
      return fatal(token, ExitCode::nohost,
                   "the name is not this user's on this server (" + token +
                       "); a user owns only DEVICE.USER.AGENT names with its own user label and "
                       "the server's agent label");
    }
    if (token == "notfqdn") {
      return fatal("notfqdn", ExitCode::notfqdn,
                   "the server does not accept the name as device.user.agent (notfqdn)");
    }
    if (token == "numhost") {
      return fatal("numhost", ExitCode::numhost, "too many hostnames in one request (numhost)");
    }
    if (token == "badagent" || token == "!donator") {
      return fatal(token, ExitCode::rejected, "the server refused this client (" + token + ")");
    }
    // An HTML page from a captive portal or a proxy looks like this: try again later.
    return retry("unexpected", "unexpected answer '" + excerpt(line) + "' (HTTP " +
                                   std::to_string(http_status) + ")");
  }
  if (token == "abuse" || http_status == 429) {
    if (token == "abuse") return abuse();
    return retry(http_code(http_status), "the server asks to slow down (HTTP 429)");
  }
  if (http_status == 401 || token == "badauth") return badauth();
  if (http_status >= 500 && http_status < 600) {
    return retry(http_code(http_status), "server error (HTTP " + std::to_string(http_status) +
                                             (line.empty() ? "" : ": " + excerpt(line)) + ")");
  }
  std::string why = "the server refused the request (HTTP " + std::to_string(http_status) +
                    (line.empty() ? "" : ": " + excerpt(line)) + ")";
  if (http_status == 404) why += "; is --server the pweb-node HTTP API?";
  if (http_status >= 300 && http_status < 400) why += "; redirects are not followed";
  return fatal(http_code(http_status), ExitCode::rejected, why);
}

Verdict transport_failure(std::string_view what) { return retry("transport", std::string(what)); }

Verdict address_unavailable(std::string_view what) { return retry("noaddress", std::string(what)); }

Verdict unchanged() { return success("unchanged", false, {}); }

std::optional<std::string> parse_checkip(std::string_view body) {
  static constexpr std::string_view kMarker = "current ip address:";
  const auto lower = to_lower(body);
  const auto at = lower.find(kMarker);
  std::string_view rest = trim(body);
  if (at != std::string::npos) {
    rest = body.substr(at + kMarker.size());
    const auto b = rest.find_first_not_of(" \t");
    if (b == std::string_view::npos) return std::nullopt;
    rest = rest.substr(b);
    const auto e = rest.find_first_not_of("0123456789abcdefABCDEF:.");
    rest = rest.substr(0, e);
  }
  if (rest.empty() || rest.size() > 64) return std::nullopt;
  return normalize_address(rest);
}

CheckipResult classify_checkip(int http_status, std::string_view body) {
  CheckipResult r;
  if (http_status == 200) {
    r.address = parse_checkip(body);
    if (!r.address) {
      r.verdict =
          retry("unexpected", "no address in the /checkip answer '" + excerpt(body, 80) + "'");
    }
    return r;
  }
  if (http_status == 429 || (http_status >= 500 && http_status < 600)) {
    r.verdict =
        retry(http_code(http_status), "/checkip failed (HTTP " + std::to_string(http_status) + ")");
    return r;
  }
  r.verdict =
      fatal(http_code(http_status), ExitCode::rejected,
            "/checkip refused (HTTP " + std::to_string(http_status) +
                "); is --server the pweb-node HTTP API? (or use --ip ADDR or --ip if:NAME)");
  return r;
}

std::optional<std::string> normalize_address(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  if (s.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) return std::nullopt;
  if (auto v4 = parse_ipv4(s)) return format_ipv4(*v4);
  if (auto v6 = parse_ipv6(s)) {
    static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                             0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped.begin(), kMapped.end(), v6->begin())) {
      return format_ipv4(Ipv4{(*v6)[12], (*v6)[13], (*v6)[14], (*v6)[15]});
    }
    return format_ipv6(*v6);
  }
  return std::nullopt;
}

bool is_global_address(std::string_view normalized) {
  const std::string s(normalized);
  if (auto v4 = parse_ipv4(s)) {
    const auto a = (*v4)[0];
    const auto b = (*v4)[1];
    if (a == 0 || a == 127 || a >= 224) return false;  // this network, loopback, multicast
    if (a == 169 && b == 254) return false;            // link-local
    return true;
  }
  if (auto v6 = parse_ipv6(s)) {
    const auto& x = *v6;
    if (std::all_of(x.begin(), x.end() - 1, [](std::uint8_t o) { return o == 0; })) {
      return false;  // :: and ::1
    }
    if (x[0] == 0xff) return false;                           // multicast
    if (x[0] == 0xfe && (x[1] & 0xc0) == 0x80) return false;  // fe80::/10 link-local
    if (x[0] == 0xfe && (x[1] & 0xc0) == 0xc0) return false;  // fec0::/10 site-local
    return true;
  }
  return false;
}

std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned retry, double unit) {
  const auto max_ms = static_cast<double>(std::max<std::int64_t>(b.max.count(), 0));
  double delay = static_cast<double>(std::max<std::int64_t>(b.initial.count(), 0));
  for (unsigned i = 0; i < retry && delay < max_ms; ++i) delay *= 2;
  delay = std::min(delay, max_ms);
  const double u = std::clamp(unit, 0.0, 1.0);
  const double j = std::clamp(b.jitter, 0.0, 1.0);
  delay *= 1.0 + j * (2.0 * u - 1.0);
  delay = std::clamp(delay, 0.0, max_ms);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(delay)));
}

NameResult validate_device(std::string_view device, std::string_view user) {
  auto r = parse_device_name(device);
  if (!r.name) {
    r.error = "--device: " + r.error;
    return r;
  }
  const auto u = to_lower(user);
  if (auto err = label_error(u)) return {std::nullopt, "--user: " + *err};
  if (r.name->user != u) {
    return {std::nullopt, "--device '" + r.name->full() + "' belongs to user '" + r.name->user +
                              "', not '" + u + "' (user '" + u + "' owns only DEVICE." + u +
                              ".AGENT names)"};
  }
  return r;
}

UrlResult parse_server_url(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return UrlResult{std::nullopt, "--server '" + std::string(text) + "': " + why};
  };
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return fail("must start with http:// or https:// (e.g. http://agent.example:8053)");
  }
  ServerUrl url;
  url.scheme = to_lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return fail("scheme '" + url.scheme + "' is not http or https");
  }
  auto rest = text.substr(sep + 3);
  const auto path_at = rest.find('/');
  const auto authority = rest.substr(0, path_at);
  if (authority.find('@') != std::string_view::npos) {
    // Not echoed: the URL may hold a password.
    return {std::nullopt, "--server must not contain credentials; use --user and --password-file"};
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail("must not have a query or a fragment");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in the host");
    url.host = std::string(authority.substr(1, close - 1));
    if (!parse_ipv6(url.host)) return fail("'" + url.host + "' is not an IPv6 address");
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("empty port");
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail("empty port");
    }
    if (url.host.empty()) return fail("no host");
    if (!std::all_of(url.host.begin(), url.host.end(), is_host_char)) {
      return fail("host '" + url.host + "' has characters other than letters, digits, '-', '.'");
    }
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
      return fail("port '" + std::string(port_text) + "' is not a number");
    }
    url.port = std::stoi(std::string(port_text));
    if (url.port < 1 || url.port > 65535) return fail("port must be 1-65535");
  } else {
    url.port = url.scheme == "https" ? 443 : 80;
  }
  if (path_at != std::string_view::npos) {
    auto path = rest.substr(path_at);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    for (char c : path) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f) return fail("the path has a space or a non-ASCII character");
    }
    url.base = std::string(path);
  }
  return {url, {}};
}

SourceResult parse_address_source(std::string_view text) {
  if (to_lower(text) == "auto") return {AddressSource{AddressSource::Kind::checkip, {}}, {}};
  if (text.substr(0, 3) == "if:") {
    const auto name = text.substr(3);
    if (name.empty() || name.size() > 15 ||
        name.find_first_of("/: \t\r\n") != std::string_view::npos) {
      return {std::nullopt, "--ip '" + excerpt(text) + "': '" + excerpt(name) +
                                "' is not an interface name (1-15 characters, no '/', ':' "
                                "or spaces)"};
    }
    return {AddressSource{AddressSource::Kind::interface, std::string(name)}, {}};
  }
  if (auto addr = normalize_address(text)) {
    return {AddressSource{AddressSource::Kind::literal, *addr}, {}};
  }
  return {std::nullopt,
          "--ip '" + excerpt(text) + "' is not 'auto', 'if:NAME' or an IPv4 or IPv6 address"};
}

std::string format_state(const UpdateState& s) {
  return "# pweb-update: the last successful update (delete this file to force one)\n"
         "server=" +
         s.server + "\ndevice=" + s.device + "\naddress=" + s.address + "\n";
}

std::optional<UpdateState> parse_state(std::string_view text) {
  UpdateState s;
  bool server = false;
  bool device = false;
  for (int i = 0; i < 100 && !text.empty(); ++i) {
    const auto nl = text.find('\n');
    const auto line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const auto key = line.substr(0, eq);
    const auto value = std::string(line.substr(eq + 1));
    if (key == "server") {
      s.server = value;
      server = true;
    } else if (key == "device") {
      s.device = value;
      device = true;
    } else if (key == "address") {
      const auto addr = normalize_address(value);
      if (!addr) return std::nullopt;
      s.address = *addr;
    }  // other keys: written by a newer version, ignored
  }
  if (!server || !device || s.address.empty()) return std::nullopt;
  return s;
}

bool update_needed(const std::optional<UpdateState>& last, const UpdateState& now) {
  return !last || *last != now;
}

}  // namespace pweb::registrar::update
