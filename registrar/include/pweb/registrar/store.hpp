#pragma once
// The durable device store: SQLite in WAL mode under the data dir. The only
// place that touches SQLite. Not thread-safe: one owner, or wrap in LockGuarded.
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/registrar/device.hpp"

struct sqlite3;

namespace pweb::registrar {

// Start-up failures (cannot open, corrupt, wrong schema) throw this.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DeviceStore {
 public:
  // Opens or creates `<data_dir>/pweb.db`, creating data_dir if needed.
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
  // `since`, at most `limit`.
  [[nodiscard]] std::vector<DeviceRecord> list(const std::string& after, std::int64_t since,
                                               std::size_t limit) const;

  // Explicit transactions for the group-committing writer.
  void begin();
  void commit();
  void rollback() noexcept;
  // Inside a transaction: one device written or deleted.
  void put(const DeviceRecord& record);
  void erase(const std::string& name);

  // Accounts. add_user returns false if the user exists.
  bool add_user(const std::string& name, const std::string& password_hash, std::int64_t created);
  bool remove_user(const std::string& name);
  [[nodiscard]] std::optional<std::string> password_hash(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> list_users() const;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  struct StatementCache;

 private:
  void exec(const char* sql);

  std::filesystem::path path_;
  std::unique_ptr<StatementCache> cache_;
  sqlite3* db_ = nullptr;
};

}  // namespace pweb::registrar
