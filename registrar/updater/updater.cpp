#include "updater.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>

#include "interface_address.hpp"
#include "state_file.hpp"
#include "stop_signal.hpp"

namespace pweb::updater {

using registrar::update::ExitCode;
using registrar::update::Outcome;
using registrar::update::UpdateState;
using registrar::update::Verdict;

namespace {

// A log value in double quotes, with '"', '\' and control characters escaped.
std::string log_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string source_text(const registrar::update::AddressSource& s) {
  switch (s.kind) {
    case registrar::update::AddressSource::Kind::checkip:
      return "auto";
    case registrar::update::AddressSource::Kind::interface:
      return "if:" + s.value;
    case registrar::update::AddressSource::Kind::literal:
      return s.value;
  }
  return "?";
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

}  // namespace

Updater::Updater(UpdaterConfig cfg, const HttpTransport& http)
    : cfg_(std::move(cfg)), http_(http), rng_(std::random_device{}()) {}

Updater::Found Updater::find_address() const {
  using Kind = registrar::update::AddressSource::Kind;
  switch (cfg_.source.kind) {
    case Kind::literal:
      return {cfg_.source.value, {}};
    case Kind::interface: {
      auto found = first_global_address(cfg_.source.value);
      if (!found.address)
        return {std::nullopt, registrar::update::address_unavailable(found.error)};
      return {found.address, {}};
    }
    case Kind::checkip:
      break;
  }
  const auto res = http_.get("/checkip", {}, false);
  if (!res.response) {
    return {std::nullopt, registrar::update::transport_failure("/checkip: " + res.error)};
  }
  auto r = registrar::update::classify_checkip(res.response->status, res.response->body);
  return {r.address, std::move(r.verdict)};
}

void Updater::remember(const UpdateState& state) {
  last_ = state;
  if (!cfg_.state_file) return;
  if (auto err = save_state(*cfg_.state_file, state); !err.empty()) {
    spdlog::warn("event=state_not_saved msg={}", log_quote(err));
  }
}

Verdict Updater::check() {
  const auto found = find_address();
  if (!found.address) return found.verdict;
  const auto& address = *found.address;
  const UpdateState now{cfg_.server, cfg_.device.full(), address};
  if (!registrar::update::update_needed(last_, now)) {
    const auto level = cfg_.once ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "event=unchanged device={} address={} update_sent=false", now.device,
                address);
    return registrar::update::unchanged();
  }
  const auto res = http_.get("/nic/update", {{"hostname", now.device}, {"myip", address}}, true);
  auto v = res.response
               ? registrar::update::classify_answer(res.response->status, res.response->body)
               : registrar::update::transport_failure("/nic/update: " + res.error);
  if (v.outcome != Outcome::success) return v;
  if (!v.addresses.empty() &&
      std::find(v.addresses.begin(), v.addresses.end(), address) == v.addresses.end()) {
    std::string reported;
    for (const auto& a : v.addresses) reported += (reported.empty() ? "" : ",") + a;
    spdlog::warn("event=answer_mismatch device={} sent={} server_reports={}", now.device, address,
                 reported);
  }
  remember(now);
  spdlog::info("event=updated device={} address={} answer={} update_sent=true", now.device, address,
               v.code);
  return v;
}

int Updater::stopped(int sig) const {
  spdlog::info("event=stopped signal={}", signal_name(sig));
  return cfg_.once ? 128 + sig : 0;
}

int Updater::run() {
  spdlog::info("event=start server={} device={} ip={} mode={} interval_s={} state_file={}",
               cfg_.server, cfg_.device.full(), source_text(cfg_.source),
               cfg_.once ? "once" : "daemon", cfg_.interval.count(),
               cfg_.state_file ? cfg_.state_file->string() : "none");
  if (cfg_.state_file) {
    auto loaded = load_state(*cfg_.state_file);
    if (!loaded.warning.empty())
      spdlog::warn("event=state_ignored msg={}", log_quote(loaded.warning));
    // State written for another server or device does not count.
    if (loaded.state && loaded.state->server == cfg_.server &&
        loaded.state->device == cfg_.device.full()) {
      last_ = loaded.state;
      spdlog::debug("event=state_loaded address={}", last_->address);
    }
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  unsigned failures = 0;
  // Ends on success with --once, on a fatal answer, when the retries of --once
  // are used up, or on SIGINT/SIGTERM; every wait in it is bounded.
  for (;;) {
    if (const int sig = stop_requested()) return stopped(sig);
    const auto v = check();
    std::chrono::milliseconds wait{0};
    if (v.outcome == Outcome::success) {
      failures = 0;
      if (cfg_.once) return static_cast<int>(ExitCode::ok);
      wait = cfg_.interval;
    } else if (v.outcome == Outcome::fatal) {
      spdlog::error("event=fatal answer={} exit={} msg={}", v.code, static_cast<int>(v.exit_code),
                    log_quote(v.reason));
      return static_cast<int>(v.exit_code);
    } else if (cfg_.once && failures >= cfg_.retries) {
      spdlog::error("event=gave_up answer={} attempts={} exit={} msg={}", v.code, failures + 1,
                    static_cast<int>(ExitCode::temporary), log_quote(v.reason));
      return static_cast<int>(ExitCode::temporary);
    } else {
      wait = registrar::update::backoff_delay(cfg_.backoff, failures, unit(rng_));
      ++failures;
      spdlog::warn("event=retry answer={} attempt={} retry_in_s={:.1f} msg={}", v.code, failures,
                   static_cast<double>(wait.count()) / 1000.0, log_quote(v.reason));
    }
    if (const int sig = wait_for_stop(wait)) return stopped(sig);
  }
}

}  // namespace pweb::updater
