#pragma once
// The embedded store: SQLite in WAL mode under the data dir, for a label served
// by one node. The only place that touches SQLite (with store_damage and
// set_aside_store, which look at its file).
#include <filesystem>
#include <memory>

#include "pweb/registrar/store.hpp"

struct sqlite3;

namespace pweb::registrar {

class SqliteStore final : public DeviceStore {
 public:
  // Opens or creates `<data_dir>/pweb.db`, creating data_dir if needed. The
  // store and its -wal and -shm are made private (0600, whatever the umask):
  // they hold password hashes. Callers check store_damage() first.
  explicit SqliteStore(const std::filesystem::path& data_dir);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  [[nodiscard]] std::vector<DeviceRecord> load_all() const override;
  void upsert(const std::vector<DeviceRecord>& records) override;
  bool remove(const std::string& name) override;
  [[nodiscard]] std::optional<DeviceRecord> get(const std::string& name) const override;
  [[nodiscard]] std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                               std::size_t limit,
                                               bool with_removed = false) const override;
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  void put(const DeviceRecord& record, bool rrsets_changed = false) override;
  void erase(const std::string& name, std::int64_t when) override;
  [[nodiscard]] std::vector<std::string> devices_with_iid(
      const std::string& user_agent) const override;

  bool add_user(const std::string& name, const std::string& password_hash,
                std::int64_t created) override;
  bool remove_user(const std::string& name) override;
  [[nodiscard]] std::optional<std::string> password_hash(const std::string& name) const override;
  [[nodiscard]] std::vector<std::string> list_users() const override;

  // Device tokens: sqlite_token_store.cpp.
  TokenInsert add_token(const StoredToken& token) override;
  bool remove_token(const std::string& device, const std::string& id) override;
  [[nodiscard]] std::vector<StoredToken> load_tokens() const override;
  [[nodiscard]] std::vector<StoredToken> device_tokens(const std::string& device) const override;
  TokenSalt token_salt() override;

  // One node: nothing else changes this store.
  [[nodiscard]] bool shared() const noexcept override { return false; }
  // The change number, one more per write transaction: not for catching up
  // (nothing else writes here) but for the zone's SOA serial.
  [[nodiscard]] std::int64_t last_seq() const override;
  [[nodiscard]] std::int64_t write_seq() const noexcept override { return seq_; }
  [[nodiscard]] StoreChanges changes_since(std::int64_t /*after*/) const override { return {}; }
  [[nodiscard]] std::unique_ptr<ChangeWatch> watch() const override { return nullptr; }
  [[nodiscard]] std::string describe() const override { return "sqlite:" + path_.string(); }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  struct StatementCache;

 private:
  void exec(const char* sql);
  std::int64_t next_seq();
  void migrate_from_v1();
  void read_rrsets(DeviceRecord& r) const;
  void write_rrsets(const DeviceRecord& r);
  void erase_tokens(const std::string& device);

  std::filesystem::path path_;
  std::unique_ptr<StatementCache> cache_;
  sqlite3* db_ = nullptr;
  std::int64_t seq_ = 0;  // the change number of the open (or last) write transaction
};

}  // namespace pweb::registrar
