#pragma once
// RFC 2136 UPDATE with RFC 8945 TSIG, and TSIG-signed queries: the handler the
// DNS servers hand such messages to. A key is a device token (name = its id):
// it may change only its device's names, only as its scope allows, and an
// update is answered only once the registrar says it is durable. No sockets:
// tested with packets alone.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/message_handler.hpp"
#include "pweb/registrar/registrar.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::dns {

// What a TSIG key name stands for.
struct UpdateKey {
  std::string secret;  // the HMAC key, raw bytes
  std::string device;  // the one device it may change: "laptop.alice.uw"
  // Whether its scope allows (subname, type) of that device; type 255 (ANY):
  // every RRset at the name.
  std::function<bool(std::string_view subname, std::uint16_t type)> allows;
  std::string refusal;  // non-empty: expired, or the client is outside its subnets
};
// Looks a key name up (lowercase, no final dot), for a client address; nullopt if unknown.
using KeyLookup =
    std::function<std::optional<UpdateKey>(std::string_view key_name, const std::string& client)>;
// Applies a change asynchronously (the registrar's writer): `done` once durable or failed.
using ApplyChange = std::function<void(registrar::DeviceChange,
                                       std::function<void(const registrar::ChangeResult&)>)>;

// Results counted, by name: the metric labels.
inline constexpr std::array<const char*, 12> kUpdateRcodes = {
    "noerror",  "formerr", "servfail", "nxdomain", "notimp",  "refused",
    "yxdomain", "yxrrset", "nxrrset",  "notauth",  "notzone", "other"};

class SignedMessages final : public SignedMessageHandler {
 public:
  SignedMessages(const Authority& authority, const registrar::SnapshotHolder& snapshots,
                 KeyLookup keys, ApplyChange apply, std::uint32_t min_ttl,
                 std::uint32_t max_ttl = 7 * 24 * 3600);

  void handle(std::vector<std::uint8_t> message, Transport transport, const std::string& client,
              std::size_t max_size, Done done) override;

  // By kUpdateRcodes index: UPDATEs answered; signed queries answered.
  [[nodiscard]] std::array<std::uint64_t, kUpdateRcodes.size()> update_counts() const noexcept;
  [[nodiscard]] std::uint64_t signed_queries() const noexcept { return signed_queries_.load(); }
  [[nodiscard]] std::uint64_t tsig_failures() const noexcept { return tsig_failures_.load(); }

 private:
  void update(std::vector<std::uint8_t> message, const std::string& client, Done done);
  void query(const std::vector<std::uint8_t>& message, const std::string& client,
             std::size_t max_size, const Done& done);
  void count(Rcode rcode) noexcept;

  const Authority& authority_;
  const registrar::SnapshotHolder& snapshots_;
  KeyLookup keys_;
  ApplyChange apply_;
  std::uint32_t min_ttl_;
  std::uint32_t max_ttl_;
  std::array<std::atomic<std::uint64_t>, kUpdateRcodes.size()> counts_{};
  std::atomic<std::uint64_t> signed_queries_{0};
  std::atomic<std::uint64_t> tsig_failures_{0};
};

}  // namespace pweb::dns
