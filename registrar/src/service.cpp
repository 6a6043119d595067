#include "pweb/registrar/service.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar {

namespace {
constexpr std::size_t kMaxServices = 16;
}

RegistrationService::RegistrationService(std::string label, const StoreLocation& store,
                                         SnapshotHolder& snapshots,
                                         const std::vector<DeviceRecord>& initial,
                                         RecordLimits limits, std::int64_t loaded_seq)
    : label_(std::move(label)),
      reader_(open_store(store)),
      accounts_([this](const std::string& user) { return (*reader_.lock())->password_hash(user); }),
      registrar_(open_store(store), snapshots, initial, limits, loaded_seq),
      dyndns_(label_, registrar_,
              [this](const std::string& user_agent) {
                return (*reader_.lock())->devices_with_iid(user_agent);
              }),
      data_dir_(store.data_dir) {
  auto reader = reader_.lock();
  token_salt_ = (*reader)->token_salt();
  // A key file that is there but unreadable stops the start: the tokens sealed
  // under it would silently stop working as TSIG keys. Absent, it is made with
  // the first token; with a shared store now, so that it is in the identity
  // the label's other nodes import (pweb-node identity export).
  const bool shared = (*reader)->shared();
  if (shared) {
    std::error_code ec;  // SQLite made it for its file; PostgreSQL did not
    std::filesystem::create_directories(data_dir_, ec);
    if (ec) throw StoreError("cannot create data dir " + data_dir_.string() + ": " + ec.message());
  }
  auto key = load_node_key(data_dir_, shared);
  if (!key.error.empty()) throw StoreError("tokens: " + key.error);
  node_key_ = key.key;
  rebuild_tokens(**reader);
  if (shared) {
    // Other nodes' token changes reach the DNS threads' table too.
    registrar_.set_on_tokens([this] { rebuild_tokens(**reader_.lock()); });
    follower_ = std::make_unique<StoreFollower>((*reader)->watch(), registrar_);
  }
}

void RegistrationService::stop() {
  if (follower_) follower_->stop();
  registrar_.stop();
}

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
  return count_answer(dyndns_.update(user, req));
}

NicUpdateAnswer RegistrationService::count_answer(NicUpdateAnswer answer) {
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

std::vector<ChangeResult> RegistrationService::apply(std::vector<DeviceChange> changes) {
  auto results = registrar_.apply(std::move(changes));
  // The store removed the tokens of removed devices with them; so must the table.
  if (std::any_of(results.begin(), results.end(),
                  [](const ChangeResult& r) { return r.status == ChangeStatus::removed; })) {
    rebuild_tokens(**reader_.lock());
  }
  return results;
}

// Under reader_'s lock, so tables are published in the order the store changed.
void RegistrationService::rebuild_tokens(DeviceStore& store) {
  std::vector<TokenKey> keys;
  for (auto& t : store.load_tokens()) {
    TokenKey k{std::move(t.info), {}, t.hash};
    // Unsealed only with the node key: a token whose secret cannot be unsealed
    // still works as a DynDNS2 password (by its hash), not as a TSIG key.
    if (node_key_) {
      if (auto secret = unseal_token(*node_key_, t.sealed)) k.secret = std::move(*secret);
    }
    keys.push_back(std::move(k));
  }
  tokens_.publish(TokenTable::build(std::move(keys)));
}

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

CreatedToken RegistrationService::create_token(const std::string& device,
                                               const TokenRequest& request) {
  CreatedToken out;
  auto store = reader_.lock();
  if (!node_key_) {
    auto key = load_node_key(data_dir_, true);
    if (!key.key) {
      out.error = "cannot make the token key: " + key.error;
      return out;
    }
    node_key_ = key.key;
  }
  const std::string secret = new_token_secret();
  StoredToken t;
  t.info.device = device;
  t.info.scope = request.scope;
  t.info.allowed_subnets = request.allowed_subnets;
  t.info.expires = request.expires;
  t.info.created = unix_now();
  t.hash = hash_token(token_salt_, secret);
  t.sealed = seal_token(*node_key_, secret);
  try {
    // 64 random bits: a clash is all but impossible, but ids must be unique.
    for (int attempt = 0; attempt < 3; ++attempt) {
      t.info.id = new_token_id();
      switch ((*store)->add_token(t)) {
        case TokenInsert::added:
          rebuild_tokens(**store);
          out.status = TokenStatus::created;
          out.info = t.info;
          out.token = encode_token(secret);
          return out;
        case TokenInsert::no_device:
          out.status = TokenStatus::no_device;
          return out;
        case TokenInsert::limit:
          out.status = TokenStatus::limit;
          return out;
        case TokenInsert::duplicate:
          continue;
      }
    }
    out.error = "no unique token id";
  } catch (const StoreError& e) {
    out.error = e.what();
  }
  return out;
}

std::vector<TokenInfo> RegistrationService::list_tokens(const std::string& device) {
  std::vector<TokenInfo> out;
  for (auto& t : (*reader_.lock())->device_tokens(device)) out.push_back(std::move(t.info));
  return out;
}

RevokeStatus RegistrationService::revoke_token(const std::string& device, const std::string& id) {
  auto store = reader_.lock();
  try {
    if (!(*store)->remove_token(device, id)) return RevokeStatus::not_found;
  } catch (const StoreError&) {
    return RevokeStatus::unavailable;
  }
  rebuild_tokens(**store);
  return RevokeStatus::revoked;
}

TokenAuth RegistrationService::authenticate_token(const std::string& device, std::string_view token,
                                                  const std::string& client,
                                                  std::optional<std::int64_t> now) {
  TokenAuth out;
  // The store, not the table: as current as a password check, whatever else
  // changed the store.
  out.result = accounts_.authenticate_with(device, client, [&] {
    const auto secret = decode_token(token);
    // Hashed even when malformed: the time taken says nothing of the stored tokens.
    const auto h = hash_token(token_salt_, secret ? std::string_view(*secret) : token);
    const StoredToken* match = nullptr;
    const auto stored = (*reader_.lock())->device_tokens(device);
    for (const auto& t : stored) {
      if (tokens_equal(t.hash, h)) match = &t;
    }
    if (!secret || !match) return false;
    if (auto why = token_refusal(match->info, client, now ? *now : unix_now())) {
      out.refusal = *why;
      return false;
    }
    out.info = match->info;
    return true;
  });
  if (out.result == AuthResult::throttled) token_auth_counts_[4].inc();
  if (out.result == AuthResult::bad) token_auth_counts_[out.refusal.empty() ? 1 : 2].inc();
  return out;
}

NicUpdateAnswer RegistrationService::nic_update_token(const TokenInfo& token,
                                                      const NicUpdateRequest& req) {
  // DynDNS2 sets A and AAAA at the device name: update and records may, acme may not.
  if (!scope_allows(token.scope, "@", 1) || !scope_allows(token.scope, "@", 28)) {
    token_auth_counts_[3].inc();
    count_refused_update(AuthResult::bad);
    return {false, "badauth\n"};
  }
  token_auth_counts_[0].inc();
  const auto name = parse_device_name(token.device);
  if (!name.name) {
    count_refused_update(AuthResult::bad);
    return {false, "badauth\n"};
  }
  return count_answer(dyndns_.update(name.name->user, req, &token.device));
}

TokenAuthCounts RegistrationService::token_auth_counts() const noexcept {
  TokenAuthCounts c{};
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = token_auth_counts_[i].get();
  return c;
}

std::optional<DeviceRecord> RegistrationService::get(const std::string& name) {
  return (*reader_.lock())->get(name);
}

std::vector<ListedDevice> RegistrationService::list(const std::string& after, std::int64_t since,
                                                    std::size_t limit, bool with_removed) {
  return (*reader_.lock())->list(after, since, limit, with_removed);
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
