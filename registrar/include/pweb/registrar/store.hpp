#pragma once
// The durable device store: SQLite in WAL mode under the data dir. The only
// place that touches SQLite. Not thread-safe: one owner, or wrap in LockGuarded.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/registrar/device.hpp"
#include "pweb/registrar/tokens.hpp"

struct sqlite3;

namespace pweb::registrar {

// Start-up failures (cannot open, corrupt, wrong schema) throw this.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One entry of the crawler listing: a device, or the name of one removed (its
// `updated` then the time of removal, nothing else set).
struct ListedDevice {
  DeviceRecord device;
  bool removed = false;
};

// A data dir is in use once the node has made its DHT identity there: from then
// on a missing or empty store means devices and users were lost, not a new node.
inline constexpr std::array<const char*, 2> kIdentityFiles = {"identity.pem", "identity.crt"};

// What is wrong with the store of `data_dir`, found by reading only (the file's
// bytes stay as they are): missing or empty in a data dir in use (see
// kIdentityFiles), truncated, failing SQLite's quick_check, or of another
// schema version. nullopt when it is sound, or absent from a data dir never used
// (then opening creates it). The message names the file. Call it before this
// process opens the store: closing its descriptors would drop SQLite's locks.
std::optional<std::string> store_damage(const std::filesystem::path& data_dir);

// Moves a damaged store aside, never deleting it: pweb.db (and its -wal, -shm)
// to pweb.db.damaged-<now> (-wal, -shm). Returns the new path of pweb.db, empty
// when there was none. Throws StoreError when it cannot.
std::filesystem::path set_aside_store(const std::filesystem::path& data_dir, std::int64_t now);

// How long the names of removed devices are kept for crawlers asking `since`.
inline constexpr std::int64_t kRemovedRetentionSeconds = 30 * 24 * 3600;

// A device token as the store keeps it: never the secret in clear (tokens.hpp).
struct StoredToken {
  TokenInfo info;
  TokenHash hash{};
  std::string sealed;  // seal_token() of the secret under the node key
};
enum class TokenInsert { added, no_device, limit, duplicate };

class DeviceStore {
 public:
  // Opens or creates `<data_dir>/pweb.db`, creating data_dir if needed. The
  // store and its -wal and -shm are made private (0600, whatever the umask):
  // they hold password hashes. Callers check store_damage() first.
  explicit DeviceStore(const std::filesystem::path& data_dir);
  ~DeviceStore();
  DeviceStore(const DeviceStore&) = delete;
  DeviceStore& operator=(const DeviceStore&) = delete;

  [[nodiscard]] std::vector<DeviceRecord> load_all() const;
  // Inserts or replaces all records in one transaction: all or nothing.
  void upsert(const std::vector<DeviceRecord>& records);
  // Returns false if there was no such device.
  bool remove(const std::string& name);

  [[nodiscard]] std::optional<DeviceRecord> get(const std::string& name) const;
  // Devices ordered by name, strictly after `after` (a cursor), updated at or after
  // `since`, at most `limit`; with `with_removed`, interleaved with the names of
  // devices removed at or after `since` (kept kRemovedRetentionSeconds).
  [[nodiscard]] std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                               std::size_t limit, bool with_removed = false) const;

  // Explicit transactions for the group-committing writer.
  void begin();
  void commit();
  void rollback() noexcept;
  // Inside a transaction: one device written, or deleted at `when` (unix seconds;
  // its name is then listed as removed, and older removals are forgotten).
  // `rrsets_changed`: rewrite its RRsets too (skipped on address-only updates).
  void put(const DeviceRecord& record, bool rrsets_changed = false);
  void erase(const std::string& name, std::int64_t when);

  // Names of the devices "*.<user_agent>" that have an interface id.
  [[nodiscard]] std::vector<std::string> devices_with_iid(const std::string& user_agent) const;

  // Accounts. add_user returns false if the user exists.
  bool add_user(const std::string& name, const std::string& password_hash, std::int64_t created);
  bool remove_user(const std::string& name);
  [[nodiscard]] std::optional<std::string> password_hash(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> list_users() const;

  // Device tokens (token_store.cpp). add_token checks and inserts in one
  // transaction: the device exists, has fewer than kMaxTokensPerDevice tokens,
  // the id is new. Removing a device (erase, remove) removes its tokens.
  TokenInsert add_token(const StoredToken& token);
  bool remove_token(const std::string& device, const std::string& id);
  [[nodiscard]] std::vector<StoredToken> load_tokens() const;
  [[nodiscard]] std::vector<StoredToken> device_tokens(const std::string& device) const;
  // The store's salt for hash_token(), made on first use.
  TokenSalt token_salt();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  struct StatementCache;

 private:
  void exec(const char* sql);
  void migrate_from_v1();
  void read_rrsets(DeviceRecord& r) const;
  void write_rrsets(const DeviceRecord& r);
  void erase_tokens(const std::string& device);

  std::filesystem::path path_;
  std::unique_ptr<StatementCache> cache_;
  sqlite3* db_ = nullptr;
};

}  // namespace pweb::registrar
