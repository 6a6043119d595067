// Where the store lives (StoreLocation) and opening it: the one place that
// picks a backend.
#include "pweb/registrar/store.hpp"

#include "pweb/registrar/pg_store.hpp"
#include "pweb/registrar/sqlite_store.hpp"

namespace pweb::registrar {
namespace {

// The URI with the password of its user part and any password= parameter
// replaced by "***".
std::string without_password(std::string uri) {
  const auto scheme = uri.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = uri.find_first_of("/?", start);
    const auto at = uri.rfind('@', end == std::string::npos ? uri.size() : end);
    if (at != std::string::npos && at > start) {
      const auto colon = uri.find(':', start);
      if (colon != std::string::npos && colon < at) uri.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (std::size_t at = uri.find("password="); at != std::string::npos;
       at = uri.find("password=", at + 1)) {
    if (at > 0 && uri[at - 1] != '?' && uri[at - 1] != '&') continue;
    const auto value = at + 9;
    const auto end = uri.find('&', value);
    uri.replace(value, (end == std::string::npos ? uri.size() : end) - value, "***");
  }
  return uri;
}

}  // namespace

std::string StoreLocation::describe() const {
  if (kind == Kind::sqlite) return "sqlite:" + (data_dir / "pweb.db").string();
  return without_password(uri);
}

std::optional<StoreLocation> parse_store_location(const std::string& spec,
                                                  const std::filesystem::path& data_dir,
                                                  std::string& error) {
  StoreLocation where;
  where.data_dir = data_dir;
  if (spec.empty() || spec == "sqlite") return where;
  if (spec.starts_with("postgresql://") || spec.starts_with("postgres://")) {
    where.kind = StoreLocation::Kind::postgresql;
    where.uri = spec;
    return where;
  }
  error = "store '" + without_password(spec) +
          "' is neither 'sqlite' nor a PostgreSQL URI (postgresql://USER@HOST:PORT/DB)";
  return std::nullopt;
}

std::unique_ptr<DeviceStore> open_store(const StoreLocation& where) {
  if (where.kind == StoreLocation::Kind::sqlite) {
    return std::make_unique<SqliteStore>(where.data_dir);
  }
  return std::make_unique<PgStore>(where.uri);
}

}  // namespace pweb::registrar
