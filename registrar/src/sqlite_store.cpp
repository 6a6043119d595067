#include "pweb/registrar/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "store_codec.hpp"

namespace pweb::registrar {
namespace {

namespace fs = std::filesystem;

// 2 added device ttl, ipv6_iid and RRsets; a version-1 store is migrated on open.
constexpr int kSchemaVersion = 2;
constexpr int kOldestMigratable = 1;
constexpr const char* kStoreFile = "pweb.db";

// The schema version as stored (text), checked: a message if this build cannot read it.
std::optional<std::string> schema_problem(const fs::path& db, const std::string& text) {
  int found = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), found);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return db.string() + " has schema version '" + text + "', which is not a number; this build " +
           "reads schema version " + std::to_string(kSchemaVersion);
  }
  if (found < kOldestMigratable || found > kSchemaVersion) {
    return db.string() + " has schema version " + std::to_string(found) +
           "; this build reads schema version " + std::to_string(kSchemaVersion);
  }
  return std::nullopt;
}

// Owns a prepared statement for the length of one call.
sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw StoreError(std::string("store: cannot prepare statement: ") + sqlite3_errmsg(db));
  }
  return stmt;
}

}  // namespace

// Prepared statements of the hot paths, kept for the connection's lifetime and
// keyed by their SQL text's address (always a string literal).
struct SqliteStore::StatementCache {
  std::unordered_map<const char*, sqlite3_stmt*> statements;
  ~StatementCache() {
    for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
  }
};

namespace {

// One use of a statement: prepared now, or borrowed from the cache and reset after.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db), stmt_(prepare(db, sql)) {}
  Statement(sqlite3* db, const char* sql, SqliteStore::StatementCache& cache)
      : db_(db), cached_(true) {
    auto& slot = cache.statements[sql];
    if (!slot) slot = prepare(db, sql);
    stmt_ = slot;
  }
  ~Statement() {
    if (cached_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    } else {
      sqlite3_finalize(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const noexcept { return stmt_; }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("store: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;
};

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p ? reinterpret_cast<const char*>(p) : std::string();
}

constexpr const char* kUpsertSql =
    "INSERT INTO devices(name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets) "
    "VALUES(?,?,?,?,?,?,?,?) "
    "ON CONFLICT(name) DO UPDATE SET ipv4=excluded.ipv4, ipv6=excluded.ipv6, "
    "services=excluded.services, updated=excluded.updated, ttl=excluded.ttl, "
    "ipv6_iid=excluded.ipv6_iid, nrrsets=excluded.nrrsets";
constexpr const char* kDeviceColumns =
    "name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets";
constexpr const char* kRrsetsOfSql =
    "SELECT subname, type, ttl, rdata FROM rrsets WHERE device=? ORDER BY subname, type";
constexpr const char* kDropRrsetsSql = "DELETE FROM rrsets WHERE device=?";
constexpr const char* kPutRrsetSql =
    "INSERT INTO rrsets(device, subname, type, ttl, rdata) VALUES(?,?,?,?,?)";

constexpr const char* kUnremoveSql = "DELETE FROM removed WHERE name=?";

DeviceRecord read_device(sqlite3_stmt* s) {
  return store_codec::device_from_columns({column_text(s, 0), column_text(s, 1), column_text(s, 2),
                                           column_text(s, 3), sqlite3_column_int64(s, 4),
                                           sqlite3_column_int64(s, 5), column_text(s, 6)});
}

RRset read_rrset(sqlite3_stmt* s, const std::string& device) {
  RRset set;
  set.subname = column_text(s, 0);
  set.type = static_cast<std::uint16_t>(sqlite3_column_int(s, 1));
  set.ttl = static_cast<std::uint32_t>(sqlite3_column_int64(s, 2));
  set.rdata = store_codec::decode_rdata(
      device, static_cast<const unsigned char*>(sqlite3_column_blob(s, 3)),
      static_cast<std::size_t>(sqlite3_column_bytes(s, 3)));
  return set;
}

void bind_optional(sqlite3_stmt* s, int col, const std::optional<std::string>& text) {
  if (text) {
    sqlite3_bind_text(s, col, text->c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s, col);
  }
}

void bind_device(sqlite3_stmt* s, const DeviceRecord& r) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  sqlite3_bind_text(s, 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  bind_optional(s, 2, store_codec::address_text(r.ipv4));
  bind_optional(s, 3, store_codec::address_text(r.ipv6));
  sqlite3_bind_text(s, 4, r.services.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 5, r.updated);
  sqlite3_bind_int64(s, 6, r.ttl);
  bind_optional(s, 7, store_codec::address_text(r.ipv6_iid));
  sqlite3_bind_int64(s, 8, static_cast<sqlite3_int64>(r.rrsets.size()));
}

// Creates `p` (if `create`) or tightens it to 0600, whatever the umask: the
// store holds password hashes. A file that does not exist is left alone. An
// existing file is changed by path only: closing any descriptor of it would drop
// the POSIX locks that this process's other SQLite connections hold on it.
void make_private(const fs::path& p, bool create) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      throw StoreError("store: cannot look at " + p.string() + ": " + std::strerror(errno));
    }
    if (!create) return;
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST) return make_private(p, false);
      throw StoreError("store: cannot create " + p.string() + ": " + std::strerror(errno));
    }
    const bool ok = ::fchmod(fd, 0600) == 0;  // a umask such as 0277 narrows even 0600
    const int err = errno;
    ::close(fd);
    if (!ok) {
      throw StoreError("store: cannot make " + p.string() +
                       " private (mode 0600): " + std::strerror(err));
    }
    return;
  }
  if ((st.st_mode & 07777) != 0600 && ::chmod(p.c_str(), 0600) != 0) {
    throw StoreError("store: cannot make " + p.string() +
                     " private (mode 0600): " + std::strerror(errno));
  }
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// What the file's first 100 bytes and its size say; with a WAL that holds frames
// the file may lag behind its header (a checkpoint under way), so only the header.
std::optional<std::string> header_damage(const fs::path& db, std::uintmax_t size,
                                         bool wal_has_frames) {
  const std::string name = db.string();
  if (size < 100) {
    return name + " is truncated: " + std::to_string(size) +
           " bytes, shorter than an SQLite header";
  }
  std::array<unsigned char, 100> h{};
  std::ifstream in(db, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(h.data()), h.size())) return "cannot read " + name;
  if (std::memcmp(h.data(), "SQLite format 3", 16) != 0) {
    return name + " is not an SQLite database: its header is overwritten";
  }
  std::uint32_t page = (std::uint32_t{h[16]} << 8) | h[17];
  if (page == 1) page = 65536;
  if (page < 512 || (page & (page - 1)) != 0) {
    return name + " has a corrupt header (page size " + std::to_string(page) + ")";
  }
  if (wal_has_frames) return std::nullopt;
  if (size % page != 0) {
    return name + " is truncated: " + std::to_string(size) + " bytes, not a whole number of " +
           std::to_string(page) + "-byte pages";
  }
  const std::uint64_t pages = be32(&h[28]);
  if (be32(&h[24]) == be32(&h[92]) && pages * page > size) {
    return name + " is truncated: " + std::to_string(size) + " bytes, its header says " +
           std::to_string(pages * page);
  }
  return std::nullopt;
}

std::string file_uri(const fs::path& p, bool immutable) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "file:";
  for (const unsigned char c : p.string()) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + (immutable ? "?mode=ro&immutable=1" : "?mode=ro");
}

// Opens the store read-only and asks SQLite: quick_check, then the schema version.
std::optional<std::string> content_damage(const fs::path& db, bool has_wal) {
  const std::string name = db.string();
  sqlite3* raw = nullptr;
  // Without a -wal no connection is open: immutable reads the file alone and
  // leaves no -wal or -shm behind. With one, the normal locking applies.
  const int rc = sqlite3_open_v2(file_uri(db, !has_wal).c_str(), &raw,
                                 SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> con(raw, sqlite3_close);
  if (rc != SQLITE_OK) {
    return "cannot open " + name + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory");
  }
  sqlite3_busy_timeout(raw, 5000);
  std::vector<std::string> rows;
  auto query = [&](const char* sql, std::size_t max_rows) -> std::optional<std::string> {
    rows.clear();
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return std::string(sqlite3_errmsg(raw));
    }
    int step = SQLITE_ROW;
    for (std::size_t i = 0; i < max_rows && (step = sqlite3_step(stmt)) == SQLITE_ROW; ++i) {
      rows.push_back(column_text(stmt, 0));
    }
    std::optional<std::string> err;
    if (step != SQLITE_ROW && step != SQLITE_DONE) err = sqlite3_errmsg(raw);
    sqlite3_finalize(stmt);
    return err;
  };
  if (auto err = query("PRAGMA quick_check(5)", 5)) {
    return name + " is corrupt (" + *err + ")";
  }
  if (rows.empty() || rows.front() != "ok") {
    // One log line: SQLite's rows may hold newlines after a "*** in database main ***" title.
    std::string what;
    for (auto r : rows) {
      if (r.starts_with("*** in database main ***")) r.erase(0, 24);
      std::replace(r.begin(), r.end(), '\n', ' ');
      while (!r.empty() && r.front() == ' ') r.erase(0, 1);
      what += (what.empty() ? "" : "; ") + r;
    }
    return name + " is corrupt: SQLite's quick_check found: " + what;
  }
  if (auto err = query("SELECT value FROM meta WHERE key='schema_version'", 1)) {
    // A file with no tables yet is a store whose first start stopped early.
    if (!query("SELECT name FROM sqlite_master LIMIT 1", 1) && rows.empty()) return std::nullopt;
    return name + " is not a pweb-node store (" + *err + ")";
  }
  if (rows.empty()) return std::nullopt;  // written by the first open, right after the tables
  return schema_problem(db, rows.front());
}

}  // namespace

std::optional<std::string> store_damage(const fs::path& data_dir) {
  const fs::path db = data_dir / kStoreFile;
  const fs::path wal = db.string() + "-wal";
  std::error_code ec;
  const auto st = fs::symlink_status(db, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return "cannot look at " + db.string() + ": " + ec.message();
  }
  if (!fs::exists(st)) {
    for (const char* f : kIdentityFiles) {
      if (fs::exists(data_dir / f, ec)) {
        return db.string() + " is missing, but the data dir holds this node's identity (" + f +
               "): the devices and users it held are gone";
      }
    }
    if (fs::exists(wal, ec)) {
      return db.string() + " is missing, but its write-ahead log " + wal.string() + " is there";
    }
    return std::nullopt;  // a new data dir
  }
  if (!fs::is_regular_file(st)) return db.string() + " is not a regular file";
  const auto size = fs::file_size(db, ec);
  if (ec) return "cannot read " + db.string() + ": " + ec.message();
  const bool has_wal = fs::exists(wal, ec);
  const auto wal_size = has_wal ? fs::file_size(wal, ec) : 0;
  if (size == 0 && wal_size == 0) return db.string() + " is empty (0 bytes)";
  if (size != 0) {
    if (auto damage = header_damage(db, size, wal_size != 0)) return damage;
  }
  return content_damage(db, has_wal);
}

fs::path set_aside_store(const fs::path& data_dir, std::int64_t now) {
  const fs::path db = data_dir / kStoreFile;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(db, ec))) return {};
  // A second --fresh-store within the same second must not overwrite the first.
  fs::path target;
  for (int i = 0; i < 100; ++i) {
    target = data_dir / (std::string(kStoreFile) + ".damaged-" + std::to_string(now) +
                         (i == 0 ? "" : "." + std::to_string(i)));
    if (!fs::exists(fs::symlink_status(target, ec))) break;
  }
  for (const char* suffix : {"-wal", "-shm", ""}) {  // the database last: its move ends it
    const fs::path from = db.string() + suffix;
    if (!fs::exists(fs::symlink_status(from, ec))) continue;
    fs::rename(from, target.string() + suffix, ec);
    if (ec) {
      throw StoreError("store: cannot move " + from.string() + " aside to " + target.string() +
                       suffix + ": " + ec.message());
    }
  }
  return target;
}

SqliteStore::SqliteStore(const std::filesystem::path& data_dir)
    : path_(data_dir / kStoreFile), cache_(std::make_unique<StatementCache>()) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    throw StoreError("store: cannot create data dir " + data_dir.string() + ": " + ec.message());
  }
  // Made private before SQLite writes a byte; SQLite gives the -wal and -shm it
  // creates the mode of this file.
  make_private(path_, true);
  make_private(path_.string() + "-wal", false);
  make_private(path_.string() + "-shm", false);
  if (sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("store: cannot open " + path_.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS devices("
        " name TEXT PRIMARY KEY,"
        " ipv4 TEXT,"
        " ipv6 TEXT,"
        " services TEXT NOT NULL DEFAULT '',"
        " updated INTEGER NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS users("
        " name TEXT PRIMARY KEY,"
        " pwhash TEXT NOT NULL,"
        " created INTEGER NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS devices_updated ON devices(updated)");
    // Names of removed devices, so that crawlers asking for changes learn of them.
    exec(
        "CREATE TABLE IF NOT EXISTS removed("
        " name TEXT PRIMARY KEY,"
        " removed INTEGER NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS removed_time ON removed(removed)");
    exec(
        "CREATE TABLE IF NOT EXISTS rrsets("
        " device TEXT NOT NULL,"
        " subname TEXT NOT NULL,"
        " type INTEGER NOT NULL,"
        " ttl INTEGER NOT NULL,"
        " rdata BLOB NOT NULL,"
        " PRIMARY KEY(device, subname, type))");
    // Device tokens (token_store.cpp): a keyed hash and the sealed secret, never in clear.
    exec(
        "CREATE TABLE IF NOT EXISTS tokens("
        " id TEXT PRIMARY KEY,"
        " device TEXT NOT NULL,"
        " scope TEXT NOT NULL,"
        " subnets TEXT NOT NULL DEFAULT '',"
        " expires INTEGER NOT NULL DEFAULT 0,"
        " created INTEGER NOT NULL,"
        " hash BLOB NOT NULL,"
        " sealed BLOB NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device)");
    int version = kSchemaVersion;
    {
      Statement check(db_, "SELECT value FROM meta WHERE key='schema_version'");
      if (check.step()) {
        const std::string text = column_text(check.get(), 0);
        if (auto problem = schema_problem(path_, text)) throw StoreError("store: " + *problem);
        version = std::stoi(text);
      } else {
        exec("INSERT INTO meta(key, value) VALUES('schema_version', '1')");
        version = 1;
      }
    }
    if (version == 1) migrate_from_v1();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

// Version 1 had no device ttl, interface id or RRsets: added in one transaction.
void SqliteStore::migrate_from_v1() {
  exec("BEGIN IMMEDIATE");
  try {
    bool has_ttl = false;
    {
      Statement cols(db_, "SELECT name FROM pragma_table_info('devices')");
      while (cols.step()) has_ttl = has_ttl || column_text(cols.get(), 0) == "ttl";
    }
    if (!has_ttl) {
      exec("ALTER TABLE devices ADD COLUMN ttl INTEGER NOT NULL DEFAULT 0");
      exec("ALTER TABLE devices ADD COLUMN ipv6_iid TEXT");
      exec("ALTER TABLE devices ADD COLUMN nrrsets INTEGER NOT NULL DEFAULT 0");
    }
    exec("UPDATE meta SET value='2' WHERE key='schema_version'");
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void SqliteStore::read_rrsets(DeviceRecord& r) const {
  Statement s(db_, kRrsetsOfSql, *cache_);
  sqlite3_bind_text(s.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  while (s.step()) r.rrsets.push_back(read_rrset(s.get(), r.name));
}

void SqliteStore::write_rrsets(const DeviceRecord& r) {
  Statement drop(db_, kDropRrsetsSql, *cache_);
  sqlite3_bind_text(drop.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  drop.step();
  for (const auto& set : r.rrsets) {
    Statement put(db_, kPutRrsetSql, *cache_);
    const std::string blob = store_codec::encode_rdata(set.rdata);
    sqlite3_bind_text(put.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put.get(), 2, set.subname.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(put.get(), 3, set.type);
    sqlite3_bind_int64(put.get(), 4, set.ttl);
    sqlite3_bind_blob(put.get(), 5, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    put.step();
  }
}

SqliteStore::~SqliteStore() {
  cache_.reset();  // statements go before their connection
  sqlite3_close(db_);
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError("store " + path_.string() + ": " + msg + " (in: " + sql + ")");
  }
}

std::vector<DeviceRecord> SqliteStore::load_all() const {
  std::vector<DeviceRecord> out;
  Statement s(db_,
              (std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY name").c_str());
  while (s.step()) {
    out.push_back(read_device(s.get()));
    if (sqlite3_column_int64(s.get(), 7) > 0) read_rrsets(out.back());
  }
  return out;
}

std::optional<DeviceRecord> SqliteStore::get(const std::string& name) const {
  Statement s(db_,
              "SELECT name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets FROM devices "
              "WHERE name=?",
              *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (!s.step()) return std::nullopt;
  auto r = read_device(s.get());
  if (sqlite3_column_int64(s.get(), 7) > 0) read_rrsets(r);
  return r;
}

std::vector<ListedDevice> SqliteStore::list(const std::string& after, std::int64_t since,
                                            std::size_t limit, bool with_removed) const {
  std::vector<ListedDevice> out;
  Statement s(db_,
              "SELECT name, ipv4, ipv6, services, updated, ttl, ipv6_iid, nrrsets, 0 FROM devices "
              "WHERE name > ?1 AND updated >= ?2 "
              "UNION ALL SELECT name, NULL, NULL, '', removed, 0, NULL, 0, 1 FROM removed "
              "WHERE ?4 AND name > ?1 AND removed >= ?2 "
              "ORDER BY 1 LIMIT ?3");
  sqlite3_bind_text(s.get(), 1, after.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 2, since);
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(limit));
  sqlite3_bind_int(s.get(), 4, with_removed ? 1 : 0);
  while (s.step()) {
    out.push_back({read_device(s.get()), sqlite3_column_int(s.get(), 8) != 0});
    if (sqlite3_column_int64(s.get(), 7) > 0) read_rrsets(out.back().device);
  }
  return out;
}

// The change number: one more in every write transaction, kept in the store
// so that it rises across restarts (the zone's SOA serial is made from it).
std::int64_t SqliteStore::next_seq() {
  exec(
      "INSERT INTO meta(key, value) VALUES('change_seq', '1') ON CONFLICT(key) DO UPDATE SET "
      "value = CAST(value AS INTEGER) + 1");
  return last_seq();
}

std::int64_t SqliteStore::last_seq() const {
  Statement s(db_, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='change_seq'");
  return s.step() ? sqlite3_column_int64(s.get(), 0) : 0;
}

void SqliteStore::begin() {
  exec("BEGIN IMMEDIATE");
  try {
    seq_ = next_seq();
  } catch (...) {
    rollback();
    throw;
  }
}
void SqliteStore::commit() { exec("COMMIT"); }
void SqliteStore::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

void SqliteStore::put(const DeviceRecord& r, bool rrsets_changed) {
  Statement s(db_, kUpsertSql, *cache_);
  bind_device(s.get(), r);
  s.step();
  if (rrsets_changed) write_rrsets(r);
  Statement back(db_, kUnremoveSql, *cache_);  // a name registered again is no longer removed
  sqlite3_bind_text(back.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  back.step();
}

void SqliteStore::erase(const std::string& name, std::int64_t when) {
  Statement s(db_, "DELETE FROM devices WHERE name=?", *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  Statement drop(db_, kDropRrsetsSql, *cache_);
  sqlite3_bind_text(drop.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  drop.step();
  Statement mark(db_, "INSERT OR REPLACE INTO removed(name, removed) VALUES(?,?)", *cache_);
  sqlite3_bind_text(mark.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(mark.get(), 2, when);
  mark.step();
  Statement forget(db_, "DELETE FROM removed WHERE removed < ?", *cache_);
  sqlite3_bind_int64(forget.get(), 1, when - kRemovedRetentionSeconds);
  forget.step();
  erase_tokens(name);
}

std::vector<std::string> SqliteStore::devices_with_iid(const std::string& user_agent) const {
  std::vector<std::string> out;
  // Device names hold only a-z 0-9 - and dots: no LIKE wildcards to escape.
  Statement s(db_, "SELECT name FROM devices WHERE name LIKE ? AND ipv6_iid IS NOT NULL", *cache_);
  const std::string pattern = "%." + user_agent;
  sqlite3_bind_text(s.get(), 1, pattern.c_str(), -1, SQLITE_TRANSIENT);
  while (s.step()) {
    auto name = column_text(s.get(), 0);
    // LIKE is case-insensitive and "%.alice.uw" also matches "x.y.alice.uw": check.
    if (store_codec::is_device_of(name, user_agent)) {
      out.push_back(std::move(name));
    }
  }
  return out;
}

bool SqliteStore::add_user(const std::string& name, const std::string& password_hash,
                           std::int64_t created) {
  Statement s(db_, "INSERT OR IGNORE INTO users(name, pwhash, created) VALUES(?,?,?)");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, password_hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 3, created);
  s.step();
  return sqlite3_changes(db_) > 0;
}

bool SqliteStore::remove_user(const std::string& name) {
  Statement s(db_, "DELETE FROM users WHERE name=?");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  return sqlite3_changes(db_) > 0;
}

std::optional<std::string> SqliteStore::password_hash(const std::string& name) const {
  Statement s(db_, "SELECT pwhash FROM users WHERE name=?", *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (!s.step()) return std::nullopt;
  return column_text(s.get(), 0);
}

std::vector<std::string> SqliteStore::list_users() const {
  std::vector<std::string> out;
  Statement s(db_, "SELECT name FROM users ORDER BY name");
  while (s.step()) out.push_back(column_text(s.get(), 0));
  return out;
}

void SqliteStore::upsert(const std::vector<DeviceRecord>& records) {
  exec("BEGIN IMMEDIATE");
  try {
    seq_ = next_seq();
    Statement s(db_, kUpsertSql);
    Statement back(db_, kUnremoveSql);
    for (const auto& r : records) {
      bind_device(s.get(), r);
      s.step();
      s.reset();
      write_rrsets(r);
      sqlite3_bind_text(back.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
      back.step();
      back.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool SqliteStore::remove(const std::string& name) {
  Statement s(db_, "DELETE FROM devices WHERE name=?");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  const bool removed = sqlite3_changes(db_) > 0;
  if (removed) seq_ = next_seq();
  Statement drop(db_, kDropRrsetsSql, *cache_);
  sqlite3_bind_text(drop.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  drop.step();
  erase_tokens(name);
  return removed;
}

}  // namespace pweb::registrar
