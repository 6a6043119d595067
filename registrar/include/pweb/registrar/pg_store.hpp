#pragma once
// The shared store: PostgreSQL 15, for a label served by several nodes. Every
// transaction that changes the store takes the next number of a one-row change
// counter and holds its row lock to commit, so writers of all nodes are
// serialized and numbered in commit order; rows carry the number that last
// changed them, and a commit notifies the other nodes (NOTIFY pweb_changes).
#include <memory>
#include <string>

#include "pweb/registrar/store.hpp"

namespace pweb::registrar {

namespace pg {
class Conn;
class Result;
}  // namespace pg

class PgStore final : public DeviceStore {
 public:
  // The schema version this build creates and reads; a store of a newer one is refused.
  static constexpr int kSchemaVersion = 1;

  // Connects to the libpq URI `uri` and creates or migrates the schema (under
  // an advisory lock: nodes starting together do not race). Throws StoreError.
  explicit PgStore(std::string uri);
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  [[nodiscard]] std::vector<DeviceRecord> load_all() const override;
  void upsert(const std::vector<DeviceRecord>& records) override;
  // Also records the name as removed (SqliteStore does not), so other nodes learn of it.
  bool remove(const std::string& name) override;
  [[nodiscard]] std::optional<DeviceRecord> get(const std::string& name) const override;
  [[nodiscard]] std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                               std::size_t limit,
                                               bool with_removed = false) const override;
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  // Only inside begin() ... commit(): rows are stamped with its change number.
  void put(const DeviceRecord& record, bool rrsets_changed = false) override;
  void erase(const std::string& name, std::int64_t when) override;
  [[nodiscard]] std::vector<std::string> devices_with_iid(
      const std::string& user_agent) const override;

  bool add_user(const std::string& name, const std::string& password_hash,
                std::int64_t created) override;
  bool remove_user(const std::string& name) override;
  [[nodiscard]] std::optional<std::string> password_hash(const std::string& name) const override;
  [[nodiscard]] std::vector<std::string> list_users() const override;

  TokenInsert add_token(const StoredToken& token) override;
  bool remove_token(const std::string& device, const std::string& id) override;
  [[nodiscard]] std::vector<StoredToken> load_tokens() const override;
  [[nodiscard]] std::vector<StoredToken> device_tokens(const std::string& device) const override;
  TokenSalt token_salt() override;

  [[nodiscard]] bool shared() const noexcept override { return true; }
  [[nodiscard]] std::int64_t last_seq() const override;
  [[nodiscard]] std::int64_t write_seq() const noexcept override { return seq_; }
  [[nodiscard]] StoreChanges changes_since(std::int64_t after) const override;
  [[nodiscard]] std::unique_ptr<ChangeWatch> watch() const override;
  [[nodiscard]] std::string describe() const override { return what_; }

 private:
  void migrate();
  // The connection, made again when the last call lost it (not inside a
  // transaction: that is lost with it).
  pg::Conn& conn() const;
  void require_transaction(const char* what) const;
  // `f` in a transaction of its own holding the change counter; committed when
  // it sets `changed`, else rolled back.
  template <typename F>
  auto write(F&& f);
  // `f` in one consistent read-only snapshot (or in the open transaction).
  template <typename F>
  auto read(F&& f) const;
  void write_rrsets(const DeviceRecord& r);
  void erase_tokens(const std::string& device);
  void mark_tokens_changed();
  void read_rrsets(DeviceRecord& r) const;

  std::string uri_;
  std::string what_;  // the URI without its password
  mutable std::unique_ptr<pg::Conn> conn_;
  bool in_transaction_ = false;
  std::int64_t seq_ = 0;  // of the open transaction
};

}  // namespace pweb::registrar
