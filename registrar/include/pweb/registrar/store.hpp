#pragma once
// The durable store of a label (devices, users, tokens): the interface, and
// what both backends share. SqliteStore (sqlite_store.hpp) is the embedded
// default; PgStore (pg_store.hpp) lets several nodes serve one label.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/registrar/device.hpp"
#include "pweb/registrar/tokens.hpp"

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

// Where the store lives: `--store sqlite` (default, <data-dir>/pweb.db) or
// `--store postgresql://USER@HOST:PORT/DB` (a libpq URI; several nodes of one
// label may share it). Parsed once, at the edge.
struct StoreLocation {
  enum class Kind { sqlite, postgresql };
  Kind kind = Kind::sqlite;
  // The node's data dir, for both kinds (the node key lives there); sqlite:
  // the store is <data_dir>/pweb.db.
  std::filesystem::path data_dir;
  std::string uri;  // postgresql: the libpq URI as given
  static StoreLocation sqlite(const std::filesystem::path& data_dir) {
    return {Kind::sqlite, data_dir, {}};
  }
  static StoreLocation postgresql(std::string uri, const std::filesystem::path& data_dir) {
    return {Kind::postgresql, data_dir, std::move(uri)};
  }
  // For logs and errors: "sqlite:<path>" or the URI without its password.
  [[nodiscard]] std::string describe() const;
};
// nullopt and a reason in `error` when `spec` is neither "sqlite" nor a
// postgresql:// (or postgres://) URI.
std::optional<StoreLocation> parse_store_location(const std::string& spec,
                                                  const std::filesystem::path& data_dir,
                                                  std::string& error);

// What changed in a shared store after a given change number: the devices as
// they are now, the names removed, and whether tokens changed. Sequence
// numbers are handed out in commit order (see DeviceStore::begin), so reading
// "everything above N" never misses a commit that was still running.
struct StoreChanges {
  std::int64_t seq = 0;  // the highest change number included
  std::vector<DeviceRecord> devices;
  std::vector<std::string> removed;
  bool tokens_changed = false;
};

// Wakes a node when another node changed a shared store (PostgreSQL
// LISTEN/NOTIFY on a connection of its own).
class ChangeWatch {
 public:
  virtual ~ChangeWatch() = default;
  // Blocks at most `timeout`. True when something may have changed: a
  // notification came, or the connection was lost (and is being remade), so
  // the caller must catch up with changes_since(); false after a quiet
  // timeout. Never throws.
  virtual bool wait(std::chrono::milliseconds timeout) = 0;
  // After wait() returned true: the highest change number the notifications
  // announced, or 0 when unknown (a connection remade): then catch up anyway.
  // A number that is not above what the node has published needs no read.
  // (Only the database's users can notify; a wrong number delays a change
  // until the next periodic catch-up, never loses it.)
  [[nodiscard]] virtual std::int64_t announced() const noexcept { return 0; }
};

// The durable store of one label: devices, users, tokens. Two backends,
// SqliteStore (one node) and PgStore (several nodes of a label). An object is
// one connection and not thread-safe: one owner, or wrap in LockGuarded.
// Failures while running (the database is gone, a statement failed) throw
// StoreError; every call after one tries to reconnect, within bounded time.
class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  [[nodiscard]] virtual std::vector<DeviceRecord> load_all() const = 0;
  // Inserts or replaces all records in one transaction: all or nothing.
  virtual void upsert(const std::vector<DeviceRecord>& records) = 0;
  // Returns false if there was no such device.
  virtual bool remove(const std::string& name) = 0;

  [[nodiscard]] virtual std::optional<DeviceRecord> get(const std::string& name) const = 0;
  // Devices ordered by name, strictly after `after` (a cursor), updated at or after
  // `since`, at most `limit`; with `with_removed`, interleaved with the names of
  // devices removed at or after `since` (kept kRemovedRetentionSeconds).
  [[nodiscard]] virtual std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                                       std::size_t limit,
                                                       bool with_removed = false) const = 0;

  // Explicit transactions for the group-committing writer. begin() also takes
  // the store's write lock and the next change number (PostgreSQL: a row lock
  // held to commit, so writers of all nodes are serialized and every get()
  // inside sees the latest committed state; concurrent changes of one device
  // at two nodes apply one after the other, none is lost). commit() makes the
  // group durable and (PostgreSQL) notifies the other nodes.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // Inside a transaction: one device written, or deleted at `when` (unix seconds;
  // its name is then listed as removed, and older removals are forgotten).
  // `rrsets_changed`: rewrite its RRsets too (skipped on address-only updates).
  virtual void put(const DeviceRecord& record, bool rrsets_changed = false) = 0;
  virtual void erase(const std::string& name, std::int64_t when) = 0;

  // Names of the devices "*.<user_agent>" that have an interface id.
  [[nodiscard]] virtual std::vector<std::string> devices_with_iid(
      const std::string& user_agent) const = 0;

  // Accounts. add_user returns false if the user exists.
  virtual bool add_user(const std::string& name, const std::string& password_hash,
                        std::int64_t created) = 0;
  virtual bool remove_user(const std::string& name) = 0;
  [[nodiscard]] virtual std::optional<std::string> password_hash(const std::string& name) const = 0;
  [[nodiscard]] virtual std::vector<std::string> list_users() const = 0;

  // Device tokens. add_token checks and inserts in one transaction: the
  // device exists, has fewer than kMaxTokensPerDevice tokens, the id is new.
  // Removing a device (erase, remove) removes its tokens. Token changes count
  // as changes (StoreChanges::tokens_changed).
  virtual TokenInsert add_token(const StoredToken& token) = 0;
  virtual bool remove_token(const std::string& device, const std::string& id) = 0;
  [[nodiscard]] virtual std::vector<StoredToken> load_tokens() const = 0;
  [[nodiscard]] virtual std::vector<StoredToken> device_tokens(const std::string& device) const = 0;
  // The store's salt for hash_token(), made on first use.
  virtual TokenSalt token_salt() = 0;

  // Several nodes: whether other processes may change this store (PostgreSQL).
  [[nodiscard]] virtual bool shared() const noexcept = 0;
  // The highest change number committed. Numbers rise with every write and
  // across restarts (the zone's SOA serial is made from them); a store that
  // is not shared counts too, though nothing catches up with it.
  [[nodiscard]] virtual std::int64_t last_seq() const = 0;
  // Changes committed with a number above `after` (empty for a store that is
  // not shared).
  [[nodiscard]] virtual StoreChanges changes_since(std::int64_t after) const = 0;
  // The change number begin() took for the open (or last committed) write
  // transaction; 0 for a store that does not number its changes.
  [[nodiscard]] virtual std::int64_t write_seq() const noexcept { return 0; }
  // A watch on other nodes' changes: its own connection. Null when not shared.
  [[nodiscard]] virtual std::unique_ptr<ChangeWatch> watch() const = 0;

  // For logs and errors (never a password).
  [[nodiscard]] virtual std::string describe() const = 0;
};

// Opens (creating or migrating the schema of) the store at `where`. Throws
// StoreError when it cannot: the message says what and where.
std::unique_ptr<DeviceStore> open_store(const StoreLocation& where);

}  // namespace pweb::registrar
