#pragma once
// The durable device store: SQLite in WAL mode under the data dir. The only
// place that touches SQLite. Not thread-safe: one owner, or wrap in LockGuarded.
#include <filesystem>
#include <memory>
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

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void exec(const char* sql);

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

}  // namespace pweb::registrar
