// pweb-update: keeps a device's address registered with a pWeb Home Agent
// (DynDNS2 /nic/update), once or as a daemon. Start-up (options, password file,
// logging) is here; the loop is in updater.cpp.
#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "http_transport.hpp"
#include "pweb/registrar/update_policy.hpp"
#include "state_file.hpp"
#include "stop_signal.hpp"
#include "updater.hpp"

#ifndef PWEB_UPDATE_VERSION
#define PWEB_UPDATE_VERSION "unknown"
#endif

namespace {

namespace update = pweb::registrar::update;

constexpr int kUsage = static_cast<int>(update::ExitCode::usage);

struct Options {
  std::string server;
  std::string user;
  std::string password_file;
  std::string device;
  std::string ip = "auto";
  unsigned interval = 300;
  bool once = false;
  unsigned retries = 3;
  unsigned timeout = 10;
  double retry_delay = 5;
  double retry_max = 600;
  std::string state_file;
  std::string ca_file;
  std::string log_level = "info";
  bool password_on_command_line = false;  // only to refuse it
};

struct Password {
  std::string value;
  std::string error;
  bool loose_permissions = false;
};

// The first line of `path` ("-" = stdin), without its line ending.
Password read_password(const std::string& path) {
  Password p;
  const bool from_stdin = path == "-";
  const int fd = from_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const std::string what = from_stdin ? "the password from stdin" : "password file '" + path + "'";
  if (fd < 0) {
    p.error = "cannot read " + what + ": " + std::strerror(errno);
    return p;
  }
  struct stat st {};
  if (!from_stdin && ::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      p.error = what + " is a directory";
      return p;
    }
    p.loose_permissions = S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  }
  std::string line;
  char c = 0;
  for (int i = 0; i < 4096; ++i) {  // a password is one line
    const auto n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line.push_back(c);
  }
  if (!from_stdin) ::close(fd);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    p.error = what + " is empty (its first line is the password)";
    return p;
  }
  p.value = std::move(line);
  return p;
}

void add_options(CLI::App& app, Options& o) {
  app.add_option("--server", o.server,
                 "The Home Agent's HTTP API, http://HOST:PORT or https://HOST[:PORT][/PATH]")
      ->required();
  app.add_option("--user", o.user, "Account name on the Home Agent")->required();
  app.add_option("--password-file", o.password_file,
                 "File whose first line is the password ('-' = read it from stdin); the "
                 "password is never accepted on the command line")
      ->required();
  app.add_option("--device", o.device, "Full device name, device.user.agent (e.g. laptop.alice.uw)")
      ->required();
  app.add_option("--ip", o.ip,
                 "Address to register: 'auto' (ask the server's /checkip), an IPv4 or IPv6 "
                 "address, or 'if:NAME' (first global address of interface NAME)")
      ->capture_default_str();
  app.add_option("--interval", o.interval, "Seconds between checks (daemon mode)")
      ->capture_default_str()
      ->check(CLI::Range(1U, 86400U));
  app.add_flag("--once", o.once, "Check and update once, then exit (0 on success)");
  app.add_option("--retries", o.retries,
                 "With --once: retries of temporary failures before giving up (exit 3)")
      ->capture_default_str()
      ->check(CLI::Range(0U, 100U));
  app.add_option("--timeout", o.timeout, "Connect and read timeout of each request, seconds")
      ->capture_default_str()
      ->check(CLI::Range(1U, 300U));
  app.add_option("--retry-delay", o.retry_delay,
                 "First retry delay, seconds; doubled after each failure (with +-20% jitter)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--retry-max", o.retry_max, "Longest retry delay, seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--state-file", o.state_file,
                 "Where the last registered address is kept (default: "
                 "$STATE_DIRECTORY/DEVICE, else $XDG_STATE_HOME/pweb-update/DEVICE, else "
                 "~/.local/state/pweb-update/DEVICE)");
  app.add_option("--ca-file", o.ca_file,
                 "https: PEM file of CA certificates to trust instead of "
                 "the system's (for a private CA)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  // Hidden: present only to refuse a password on the command line without echoing it.
  app.add_option_function<std::string>(
         "--password", [&o](const std::string&) { o.password_on_command_line = true; })
      ->group("");
}

// Command-line words CLI11 did not expect: option names are shown, values are
// not (one could be a password).
std::string describe_extras(const std::vector<std::string>& extras) {
  std::string out;
  std::size_t hidden = 0;
  for (const auto& e : extras) {
    if (e.size() > 1 && e.front() == '-') {
      out += (out.empty() ? "" : " ") + e.substr(0, e.find('='));
    } else {
      ++hidden;
    }
  }
  if (hidden > 0) {
    out += (out.empty() ? "" : " and ") + std::to_string(hidden) + " value(s), not shown";
  }
  return out;
}

int usage_error(const std::string& msg) {
  std::cerr << "pweb-update: " << msg << "\n";
  return kUsage;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("pweb-update");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::trace);
}

int run(const Options& o) {
  if (o.password_on_command_line) {
    return usage_error(
        "the password is never accepted on the command line (it would show in ps and in "
        "shell history); put it in a file readable only by you and use --password-file FILE, "
        "or --password-file - to read it from stdin");
  }
  auto device = update::validate_device(o.device, o.user);
  if (!device.name) return usage_error(device.error);
  auto url = update::parse_server_url(o.server);
  if (!url.url) return usage_error(url.error);
  if (auto why = pweb::updater::HttpTransport::unsupported(*url.url); !why.empty()) {
    return usage_error("--server: " + why);
  }
  if (!o.ca_file.empty() && url.url->scheme != "https") {
    return usage_error("--ca-file is only for https:// servers");
  }
  auto source = update::parse_address_source(o.ip);
  if (!source.source) return usage_error(source.error);
  if (o.retry_max < o.retry_delay) return usage_error("--retry-max is less than --retry-delay");

  auto password = read_password(o.password_file);
  if (!password.error.empty()) return usage_error(password.error);

  setup_logging(o.log_level);
  if (password.loose_permissions) {
    spdlog::warn(
        "event=password_file_readable path={} msg=\"readable by group or others; "
        "chmod 600 it\"",
        o.password_file);
  }
  if (auto err = pweb::updater::install_stop_signals(); !err.empty()) {
    spdlog::error("event=startup_failed msg=\"{}\"", err);
    return static_cast<int>(update::ExitCode::internal);
  }

  pweb::updater::UpdaterConfig cfg;
  cfg.server = o.server;
  cfg.device = *device.name;
  cfg.source = *source.source;
  cfg.interval = std::chrono::seconds(o.interval);
  cfg.once = o.once;
  cfg.retries = o.retries;
  cfg.backoff.initial = std::chrono::milliseconds(static_cast<long long>(o.retry_delay * 1000));
  cfg.backoff.max = std::chrono::milliseconds(static_cast<long long>(o.retry_max * 1000));
  cfg.state_file = o.state_file.empty() ? pweb::updater::default_state_path(device.name->full())
                                        : std::optional<std::filesystem::path>(o.state_file);
  if (!cfg.state_file) {
    spdlog::warn(
        "event=no_state_file msg=\"neither STATE_DIRECTORY, XDG_STATE_HOME nor HOME is "
        "set: the address is remembered only while running\"");
  }

  pweb::updater::HttpOptions http;
  http.timeout = std::chrono::seconds(o.timeout);
  http.user_agent = std::string("pweb-update/") + PWEB_UPDATE_VERSION;
  http.ca_file = o.ca_file;
  pweb::updater::HttpTransport transport(*url.url, http);
  transport.set_credentials(device.name->user, password.value);
  pweb::updater::Updater updater(std::move(cfg), transport);
  return updater.run();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "pweb-update: keeps a device's name (device.user.agent) pointing at its current "
      "address on a pWeb Home Agent, by DynDNS2 updates. Sends an update only when the "
      "address changed; retries temporary failures with exponential back-off; stops on "
      "SIGINT/SIGTERM."};
  app.set_version_flag("--version", std::string("pweb-update ") + PWEB_UPDATE_VERSION);
  app.footer(
      "Examples:\n"
      "  pweb-update --server http://agent.example:8053 --user alice \\\n"
      "      --password-file ~/.config/pweb/password --device laptop.alice.uw --once\n"
      "  printf '%s\\n' \"$PW\" | pweb-update --server https://agent.example --user alice \\\n"
      "      --password-file - --device nas.alice.uw --ip if:eth0 --interval 600\n\n" +
      update::exit_code_help());
  app.allow_extras();
  Options o;
  add_options(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }
  if (!app.remaining().empty()) {
    return usage_error("unexpected arguments: " + describe_extras(app.remaining()) +
                       " (see --help)");
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "pweb-update: " << e.what() << "\n";
    return static_cast<int>(update::ExitCode::internal);
  }
}
