#include "pweb/registrar/pg_store.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <thread>
#include <unordered_map>

#include "pg_conn.hpp"
#include "store_codec.hpp"

namespace pweb::registrar {
namespace {

using pg::Param;

// The advisory lock that migrations run under ("pwebstor").
constexpr std::int64_t kMigrationLock = 0x7077656273746f72;
constexpr const char* kChannel = "pweb_changes";

// Schema migrations, in order: step i takes a store from version i to i + 1.
// Names sort as bytes (COLLATE "C"), as SQLite sorts them, for cursors.
constexpr std::array<const char*, PgStore::kSchemaVersion> kMigrations = {
    "CREATE TABLE devices("
    " name text COLLATE \"C\" PRIMARY KEY,"
    " ipv4 text, ipv6 text,"
    " services text NOT NULL DEFAULT '',"
    " updated bigint NOT NULL,"
    " ttl bigint NOT NULL DEFAULT 0,"
    " ipv6_iid text,"
    " nrrsets integer NOT NULL DEFAULT 0,"
    " seq bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX devices_updated ON devices(updated);"
    "CREATE INDEX devices_seq ON devices(seq);"
    "CREATE TABLE removed(name text COLLATE \"C\" PRIMARY KEY, removed bigint NOT NULL,"
    " seq bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX removed_time ON removed(removed);"
    "CREATE INDEX removed_seq ON removed(seq);"
    "CREATE TABLE rrsets(device text COLLATE \"C\" NOT NULL, subname text COLLATE \"C\" NOT NULL,"
    " type integer NOT NULL, ttl bigint NOT NULL, rdata bytea NOT NULL,"
    " PRIMARY KEY(device, subname, type));"
    "CREATE TABLE users(name text COLLATE \"C\" PRIMARY KEY, pwhash text NOT NULL,"
    " created bigint NOT NULL);"
    "CREATE TABLE tokens(id text COLLATE \"C\" PRIMARY KEY, device text COLLATE \"C\" NOT NULL,"
    " scope text NOT NULL, subnets text NOT NULL DEFAULT '', expires bigint NOT NULL DEFAULT 0,"
    " created bigint NOT NULL, hash bytea NOT NULL, sealed bytea NOT NULL);"
    "CREATE INDEX tokens_device ON tokens(device);"
    "CREATE TABLE change_counter(seq bigint NOT NULL);"
    "INSERT INTO change_counter VALUES(0);"};

constexpr const char* kDeviceColumns =
    "SELECT name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets FROM devices ";
constexpr const char* kTokenColumns =
    "SELECT id, device, scope, subnets, expires, created, hash, sealed FROM tokens ";

DeviceRecord read_device(const pg::Result& r, int row) {
  return store_codec::device_from_columns({r.text(row, 0), r.text(row, 1), r.text(row, 2),
                                           r.text(row, 3), r.integer(row, 4), r.integer(row, 5),
                                           r.text(row, 6)});
}

// Rows (device, subname, type, ttl, rdata), as RRsets of the devices listed.
void attach_rrsets(std::vector<DeviceRecord>& devices, const pg::Result& rows) {
  std::unordered_map<std::string, std::size_t> at;
  for (std::size_t i = 0; i < devices.size(); ++i) at[devices[i].name] = i;
  for (int i = 0; i < rows.rows(); ++i) {
    const auto it = at.find(rows.text(i, 0));
    if (it == at.end()) continue;
    auto& d = devices[it->second];
    const auto blob = rows.bytes(i, 4);
    d.rrsets.push_back(
        RRset{rows.text(i, 1), static_cast<std::uint16_t>(rows.integer(i, 2)),
              static_cast<std::uint32_t>(rows.integer(i, 3)),
              store_codec::decode_rdata(d.name, reinterpret_cast<const unsigned char*>(blob.data()),
                                        blob.size())});
  }
}

std::vector<StoredToken> read_tokens(const pg::Result& r) {
  std::vector<StoredToken> out;
  for (int i = 0; i < r.rows(); ++i) {
    auto t = store_codec::token_from_columns({r.text(i, 0), r.text(i, 1), r.text(i, 2),
                                              r.text(i, 3), r.integer(i, 4), r.integer(i, 5),
                                              r.bytes(i, 6), r.bytes(i, 7)});
    if (t) out.push_back(std::move(*t));
  }
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe_uri(const std::string& uri) {
  StoreLocation where;
  where.kind = StoreLocation::Kind::postgresql;
  where.uri = uri;
  return where.describe();
}

// LISTEN on a connection of its own. Lost connections are remade on a later
// wait (bounded by connect_timeout), and reported as "something may have changed".
class PgWatch final : public ChangeWatch {
 public:
  PgWatch(std::string uri, std::string what) : uri_(std::move(uri)), what_(std::move(what)) {
    connect();
  }

  bool wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    announced_ = 0;
    if (!conn_) {
      if (connect()) return true;  // changes while it was away were not notified
      std::this_thread::sleep_until(deadline);
      return false;
    }
    PGconn* c = conn_->get();
    for (;;) {
      bool notified = false, unknown = false;
      std::int64_t highest = 0;
      while (PGnotify* n = PQnotifies(c)) {
        notified = true;
        const std::string_view payload = n->extra ? n->extra : "";
        std::int64_t seq = 0;
        const auto [end, ec] =
            std::from_chars(payload.data(), payload.data() + payload.size(), seq);
        if (ec != std::errc() || end != payload.data() + payload.size() || seq <= 0) {
          unknown = true;  // not ours, or not a number: read to be sure
        } else {
          highest = std::max(highest, seq);
        }
        PQfreemem(n);
      }
      if (notified) {
        announced_ = unknown ? 0 : highest;
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{PQsocket(c), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) == 0) return false;
      if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK) {
        conn_.reset();
        return true;
      }
    }
  }

 private:
  bool connect() noexcept {
    try {
      conn_ = std::make_unique<pg::Conn>(uri_, what_);
      conn_->exec("LISTEN pweb_changes");
      return true;
    } catch (const std::exception&) {
      conn_.reset();
      return false;
    }
  }

  [[nodiscard]] std::int64_t announced() const noexcept override { return announced_; }

 private:
  std::string uri_, what_;
  std::unique_ptr<pg::Conn> conn_;
  std::int64_t announced_ = 0;
};

}  // namespace

PgStore::PgStore(std::string uri) : uri_(std::move(uri)), what_(describe_uri(uri_)) {
  conn_ = std::make_unique<pg::Conn>(uri_, what_);
  migrate();
}

PgStore::~PgStore() = default;

void PgStore::migrate() {
  auto& c = *conn_;
  c.exec("BEGIN");
  try {
    c.exec("SELECT pg_advisory_xact_lock($1)", {kMigrationLock});
    c.exec(
        "CREATE TABLE IF NOT EXISTS meta(key text COLLATE \"C\" PRIMARY KEY, value text NOT NULL)");
    const auto found = c.exec("SELECT value FROM meta WHERE key='schema_version'");
    int version = 0;
    if (found.rows() > 0) {
      const auto text = found.text(0, 0);
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size() || version < 0 ||
          version > kSchemaVersion) {
        throw StoreError("store " + what_ + " has schema version '" + text +
                         "'; this build reads schema version " + std::to_string(kSchemaVersion) +
                         " (a newer pweb-node made it?)");
      }
    }
    for (int v = version; v < kSchemaVersion; ++v) c.exec(kMigrations[static_cast<std::size_t>(v)]);
    if (version != kSchemaVersion) {
      c.exec(
          "INSERT INTO meta(key, value) VALUES('schema_version', $1) "
          "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
          {std::to_string(kSchemaVersion)});
    }
    c.exec("COMMIT");
  } catch (...) {
    rollback();
    throw;
  }
}

pg::Conn& PgStore::conn() const {
  // Between transactions a connection the server ended is remade before use,
  // so the first call after a PostgreSQL restart does not fail.
  if (conn_ && !(in_transaction_ ? conn_->ok() : conn_->alive())) conn_.reset();
  if (!conn_) {
    if (in_transaction_) {
      throw StoreError("store " + what_ + ": the connection was lost inside a transaction");
    }
    conn_ = std::make_unique<pg::Conn>(uri_, what_);
  }
  return *conn_;
}

void PgStore::require_transaction(const char* what) const {
  if (!in_transaction_) {
    throw StoreError(std::string("store: ") + what + " outside a transaction (begin() first)");
  }
}

template <typename F>
auto PgStore::write(F&& f) {
  begin();
  try {
    bool changed = false;
    auto out = f(changed);
    if (changed) {
      commit();
    } else {
      rollback();
    }
    return out;
  } catch (...) {
    rollback();
    throw;
  }
}

template <typename F>
auto PgStore::read(F&& f) const {
  if (in_transaction_) return f(conn());
  auto& c = conn();
  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    auto out = f(c);
    c.exec("COMMIT");
    return out;
  } catch (...) {
    if (c.ok()) {
      try {
        c.exec("ROLLBACK");
      } catch (const StoreError&) {
        conn_.reset();
      }
    }
    throw;
  }
}

void PgStore::begin() {
  if (in_transaction_) throw StoreError("store " + what_ + ": begin() inside a transaction");
  auto& c = conn();
  in_transaction_ = true;
  try {
    // The row lock is held to commit: writers of all nodes queue here, and
    // numbers are handed out in commit order. One round trip.
    seq_ = c.exec("BEGIN; UPDATE change_counter SET seq=seq+1 RETURNING seq").integer(0, 0);
  } catch (...) {
    rollback();
    throw;
  }
}

void PgStore::commit() {
  require_transaction("commit");
  auto& c = conn();
  // COMMIT of a failed transaction rolls back without an error: refuse it here.
  if (PQtransactionStatus(c.get()) != PQTRANS_INTRANS) {
    throw StoreError("store " + what_ + ": a statement of this transaction failed");
  }
  // One round trip; the notification is delivered at commit. (The channel and
  // the number are ours, not input.)
  const auto sql =
      std::string("SELECT pg_notify('") + kChannel + "', '" + std::to_string(seq_) + "'); COMMIT";
  c.exec(sql.c_str());
  in_transaction_ = false;
}

void PgStore::rollback() noexcept {
  in_transaction_ = false;
  if (!conn_ || !conn_->ok()) return;
  try {
    conn_->exec("ROLLBACK");
  } catch (const std::exception&) {
    conn_.reset();  // remade by the next call
  }
}

void PgStore::put(const DeviceRecord& r, bool rrsets_changed) {
  require_transaction("put");
  auto& c = conn();
  // One round trip: registered again, the name is no longer removed.
  c.exec(
      "WITH again AS (DELETE FROM removed WHERE name=$1) "
      "INSERT INTO devices(name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets, seq) "
      "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) "
      "ON CONFLICT(name) DO UPDATE SET ipv4=excluded.ipv4, ipv6=excluded.ipv6, "
      "services=excluded.services, updated=excluded.updated, ttl=excluded.ttl, "
      "ipv6_iid=excluded.ipv6_iid, nrrsets=excluded.nrrsets, seq=excluded.seq",
      {r.name, store_codec::address_text(r.ipv4), store_codec::address_text(r.ipv6), r.services,
       r.updated, std::int64_t{r.ttl}, store_codec::address_text(r.ipv6_iid),
       static_cast<std::int64_t>(r.rrsets.size()), seq_});
  if (rrsets_changed) write_rrsets(r);
}

void PgStore::write_rrsets(const DeviceRecord& r) {
  auto& c = conn();
  c.exec("DELETE FROM rrsets WHERE device=$1", {r.name});
  for (const auto& set : r.rrsets) {
    c.exec("INSERT INTO rrsets(device, subname, type, ttl, rdata) VALUES($1,$2,$3,$4,$5)",
           {r.name, set.subname, std::int64_t{set.type}, std::int64_t{set.ttl},
            Param::bytes(store_codec::encode_rdata(set.rdata))});
  }
}

void PgStore::erase(const std::string& name, std::int64_t when) {
  require_transaction("erase");
  auto& c = conn();
  c.exec("DELETE FROM devices WHERE name=$1", {name});
  c.exec("DELETE FROM rrsets WHERE device=$1", {name});
  c.exec(
      "INSERT INTO removed(name, removed, seq) VALUES($1,$2,$3) "
      "ON CONFLICT(name) DO UPDATE SET removed=excluded.removed, seq=excluded.seq",
      {name, when, seq_});
  c.exec("DELETE FROM removed WHERE removed < $1", {when - kRemovedRetentionSeconds});
  erase_tokens(name);
}

void PgStore::erase_tokens(const std::string& device) {
  if (conn().exec("DELETE FROM tokens WHERE device=$1", {device}).affected() > 0) {
    mark_tokens_changed();
  }
}

void PgStore::mark_tokens_changed() {
  conn().exec(
      "INSERT INTO meta(key, value) VALUES('tokens_seq', $1) "
      "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
      {seq_});
}

void PgStore::upsert(const std::vector<DeviceRecord>& records) {
  write([&](bool& changed) {
    for (const auto& r : records) put(r, true);
    changed = true;
    return 0;
  });
}

bool PgStore::remove(const std::string& name) {
  return write([&](bool& changed) {
    const bool removed = conn().exec("DELETE FROM devices WHERE name=$1", {name}).affected() > 0;
    if (removed) {
      conn().exec("DELETE FROM rrsets WHERE device=$1", {name});
      conn().exec(
          "INSERT INTO removed(name, removed, seq) VALUES($1,$2,$3) "
          "ON CONFLICT(name) DO UPDATE SET removed=excluded.removed, seq=excluded.seq",
          {name, unix_now(), seq_});
    }
    erase_tokens(name);
    changed = true;
    return removed;
  });
}

void PgStore::read_rrsets(DeviceRecord& r) const {
  const auto rows = conn().exec(
      "SELECT device, subname, type, ttl, rdata FROM rrsets WHERE device=$1 ORDER BY subname, type",
      {r.name});
  std::vector<DeviceRecord> one(1);
  one[0] = std::move(r);
  attach_rrsets(one, rows);
  r = std::move(one[0]);
}

std::vector<DeviceRecord> PgStore::load_all() const {
  return read([&](pg::Conn& c) {
    const auto rows = c.exec((std::string(kDeviceColumns) + "ORDER BY name").c_str());
    std::vector<DeviceRecord> out;
    out.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) out.push_back(read_device(rows, i));
    attach_rrsets(out, c.exec("SELECT device, subname, type, ttl, rdata FROM rrsets "
                              "ORDER BY device, subname, type"));
    return out;
  });
}

std::optional<DeviceRecord> PgStore::get(const std::string& name) const {
  return read([&](pg::Conn& c) -> std::optional<DeviceRecord> {
    const auto rows = c.exec((std::string(kDeviceColumns) + "WHERE name=$1").c_str(), {name});
    if (rows.rows() == 0) return std::nullopt;
    auto r = read_device(rows, 0);
    if (rows.integer(0, 7) > 0) read_rrsets(r);
    return r;
  });
}

std::vector<ListedDevice> PgStore::list(const std::string& after, std::int64_t since,
                                        std::size_t limit, bool with_removed) const {
  return read([&](pg::Conn& c) {
    const auto rows = c.exec(
        "SELECT name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets, 0 FROM devices "
        "WHERE name > $1 AND updated >= $2 "
        "UNION ALL SELECT name, NULL, NULL, '', removed, 0, NULL, 0, 1 FROM removed "
        "WHERE $4::boolean AND name > $1 AND removed >= $2 "
        "ORDER BY 1 LIMIT $3",
        {after, since, static_cast<std::int64_t>(limit), with_removed ? "true" : "false"});
    std::vector<ListedDevice> out;
    for (int i = 0; i < rows.rows(); ++i) {
      out.push_back({read_device(rows, i), rows.integer(i, 8) != 0});
      if (rows.integer(i, 7) > 0) read_rrsets(out.back().device);
    }
    return out;
  });
}

std::vector<std::string> PgStore::devices_with_iid(const std::string& user_agent) const {
  // Device names hold only a-z 0-9 - and dots: no LIKE wildcards to escape.
  const auto rows = conn().exec(
      "SELECT name FROM devices WHERE name LIKE $1 AND ipv6_iid IS NOT NULL ORDER BY name",
      {"%." + user_agent});
  std::vector<std::string> out;
  for (int i = 0; i < rows.rows(); ++i) {
    auto name = rows.text(i, 0);
    if (store_codec::is_device_of(name, user_agent)) out.push_back(std::move(name));
  }
  return out;
}

bool PgStore::add_user(const std::string& name, const std::string& password_hash,
                       std::int64_t created) {
  return write([&](bool& changed) {
    changed = conn()
                  .exec(
                      "INSERT INTO users(name, pwhash, created) VALUES($1,$2,$3) "
                      "ON CONFLICT(name) DO NOTHING",
                      {name, password_hash, created})
                  .affected() > 0;
    return changed;
  });
}

bool PgStore::remove_user(const std::string& name) {
  return write([&](bool& changed) {
    changed = conn().exec("DELETE FROM users WHERE name=$1", {name}).affected() > 0;
    return changed;
  });
}

std::optional<std::string> PgStore::password_hash(const std::string& name) const {
  const auto rows = conn().exec("SELECT pwhash FROM users WHERE name=$1", {name});
  if (rows.rows() == 0) return std::nullopt;
  return rows.text(0, 0);
}

std::vector<std::string> PgStore::list_users() const {
  const auto rows = conn().exec("SELECT name FROM users ORDER BY name");
  std::vector<std::string> out;
  for (int i = 0; i < rows.rows(); ++i) out.push_back(rows.text(i, 0));
  return out;
}

TokenInsert PgStore::add_token(const StoredToken& t) {
  return write([&](bool& changed) {
    auto& c = conn();
    if (c.exec("SELECT 1 FROM devices WHERE name=$1", {t.info.device}).rows() == 0) {
      return TokenInsert::no_device;
    }
    const auto count = c.exec("SELECT count(*) FROM tokens WHERE device=$1", {t.info.device});
    if (static_cast<std::size_t>(count.integer(0, 0)) >= kMaxTokensPerDevice) {
      return TokenInsert::limit;
    }
    const auto ins = c.exec(
        "INSERT INTO tokens(id, device, scope, subnets, expires, created, hash, sealed) "
        "VALUES($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(id) DO NOTHING",
        {t.info.id, t.info.device, scope_name(t.info.scope),
         store_codec::subnets_text(t.info.allowed_subnets), t.info.expires, t.info.created,
         Param::bytes(std::string(t.hash.begin(), t.hash.end())), Param::bytes(t.sealed)});
    if (ins.affected() == 0) return TokenInsert::duplicate;
    mark_tokens_changed();
    changed = true;
    return TokenInsert::added;
  });
}

bool PgStore::remove_token(const std::string& device, const std::string& id) {
  return write([&](bool& changed) {
    changed =
        conn().exec("DELETE FROM tokens WHERE device=$1 AND id=$2", {device, id}).affected() > 0;
    if (changed) mark_tokens_changed();
    return changed;
  });
}

std::vector<StoredToken> PgStore::load_tokens() const {
  return read_tokens(conn().exec((std::string(kTokenColumns) + "ORDER BY id").c_str()));
}

std::vector<StoredToken> PgStore::device_tokens(const std::string& device) const {
  return read_tokens(conn().exec(
      (std::string(kTokenColumns) + "WHERE device=$1 ORDER BY created, id").c_str(), {device}));
}

TokenSalt PgStore::token_salt() {
  auto read_salt = [&]() -> std::optional<TokenSalt> {
    const auto rows = conn().exec("SELECT value FROM meta WHERE key='token_salt'");
    if (rows.rows() == 0) return std::nullopt;
    auto salt = store_codec::salt_from_hex(rows.text(0, 0));
    if (!salt) throw StoreError("store " + what_ + ": the token salt is damaged");
    return salt;
  };
  if (auto salt = read_salt()) return *salt;
  conn().exec("INSERT INTO meta(key, value) VALUES('token_salt', $1) ON CONFLICT(key) DO NOTHING",
              {store_codec::salt_hex(store_codec::new_salt())});
  if (auto first = read_salt()) return *first;  // another node's, if it was first
  throw StoreError("store " + what_ + ": cannot keep the token salt");
}

std::int64_t PgStore::last_seq() const {
  return conn().exec("SELECT seq FROM change_counter").integer(0, 0);
}

StoreChanges PgStore::changes_since(std::int64_t after) const {
  return read([&](pg::Conn& c) {
    StoreChanges out;
    // Numbers up to the counter's committed value are all committed (see begin()).
    out.seq = c.exec("SELECT seq FROM change_counter").integer(0, 0);
    const auto rows =
        c.exec((std::string(kDeviceColumns) + "WHERE seq > $1 ORDER BY name").c_str(), {after});
    for (int i = 0; i < rows.rows(); ++i) out.devices.push_back(read_device(rows, i));
    attach_rrsets(out.devices,
                  c.exec("SELECT r.device, r.subname, r.type, r.ttl, r.rdata FROM rrsets r "
                         "JOIN devices d ON d.name = r.device WHERE d.seq > $1 "
                         "ORDER BY r.device, r.subname, r.type",
                         {after}));
    const auto removed = c.exec(
        "SELECT name FROM removed r WHERE r.seq > $1 AND NOT EXISTS "
        "(SELECT 1 FROM devices d WHERE d.name = r.name AND d.seq >= r.seq) ORDER BY name",
        {after});
    for (int i = 0; i < removed.rows(); ++i) out.removed.push_back(removed.text(i, 0));
    const auto tokens = c.exec("SELECT value FROM meta WHERE key='tokens_seq'");
    if (tokens.rows() > 0) {
      std::int64_t at = 0;
      const auto text = tokens.text(0, 0);
      std::from_chars(text.data(), text.data() + text.size(), at);
      out.tokens_changed = at > after;
    }
    return out;
  });
}

std::unique_ptr<ChangeWatch> PgStore::watch() const {
  return std::make_unique<PgWatch>(uri_, what_);
}

}  // namespace pweb::registrar
