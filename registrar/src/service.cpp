#include "pweb/registrar/service.hpp"

#include <charconv>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar {

namespace {
constexpr std::size_t kMaxServices = 16;
}

RegistrationService::RegistrationService(std::string label, const std::filesystem::path& data_dir,
                                         SnapshotHolder& snapshots,
                                         const std::vector<DeviceRecord>& initial,
                                         RecordLimits limits)
    : label_(std::move(label)),
      reader_(data_dir),
      accounts_([this](const std::string& user) { return reader_.lock()->password_hash(user); }),
      registrar_(data_dir, snapshots, initial, limits),
      dyndns_(label_, registrar_, [this](const std::string& user_agent) {
        return reader_.lock()->devices_with_iid(user_agent);
      }) {}

namespace {

std::size_t update_result_index(std::string_view code) {
  for (std::size_t i = 0; i < kUpdateResults.size(); ++i) {
    if (code == kUpdateResults[i]) return i;
  }
  return kUpdateResults.size() - 1;  // not a DynDNS2 code: the line explains a bad request
}

}  // namespace

NicUpdateAnswer RegistrationService::nic_update(const std::string& user,
                                                const NicUpdateRequest& req) {
  auto answer = dyndns_.update(user, req);
  if (answer.bad_request) {
    update_counts_[kUpdateResults.size() - 1].inc();
    return answer;
  }
  std::string_view rest = answer.body;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const auto line = rest.substr(0, eol);
    update_counts_[update_result_index(line.substr(0, line.find(' ')))].inc();
    if (eol == std::string_view::npos) break;
    rest.remove_prefix(eol + 1);
  }
  return answer;
}

void RegistrationService::count_refused_update(AuthResult why) noexcept {
  if (why == AuthResult::bad) update_counts_[update_result_index("badauth")].inc();
  if (why == AuthResult::throttled) update_counts_[update_result_index("abuse")].inc();
}

UpdateCounts RegistrationService::update_counts() const noexcept {
  UpdateCounts c{};
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = update_counts_[i].get();
  return c;
}

std::optional<DeviceRecord> RegistrationService::get(const std::string& name) {
  return reader_.lock()->get(name);
}

std::vector<ListedDevice> RegistrationService::list(const std::string& after, std::int64_t since,
                                                    std::size_t limit, bool with_removed) {
  return reader_.lock()->list(after, since, limit, with_removed);
}

ServicesResult validate_services(const std::vector<std::string>& services) {
  ServicesResult r;
  if (services.size() > kMaxServices) {
    r.error = "at most " + std::to_string(kMaxServices) + " services";
    return r;
  }
  std::string joined;
  for (const auto& s : services) {
    const auto colon = s.find(':');
    const std::string proto = colon == std::string::npos ? s : s.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (proto.size() > 15 || label_error(proto) || port.empty() || ec != std::errc() ||
        end != port.data() + port.size() || value == 0 || value > 65535) {
      r.error = "service '" + s + "' is not NAME:PORT (NAME a label of up to 15 characters)";
      return r;
    }
    joined += (joined.empty() ? "" : ",") + to_lower(proto) + ":" + std::to_string(value);
  }
  r.joined = joined;
  return r;
}

std::vector<std::string> split_services(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < joined.size()) {
    auto comma = joined.find(',', start);
    if (comma == std::string::npos) comma = joined.size();
    out.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace pweb::registrar
