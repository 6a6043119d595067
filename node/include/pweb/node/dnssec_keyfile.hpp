#pragma once
// The DNSSEC key file: <data-dir>/dnssec.key (made on first start) or the file
// given with --dnssec-key (shared by every node serving the suffixes).
#include <filesystem>
#include <memory>
#include <string>

#include "pweb/dns/dnssec_key.hpp"

namespace pweb::node {

inline constexpr const char* kDnssecKeyFile = "dnssec.key";

// Writes a new P-256 key (PEM, mode 0600) to `path`, never over an existing
// file; returns an error message, empty on success.
std::string write_new_dnssec_key(const std::filesystem::path& path);

// The key from `key_file` when given (it must exist), else from
// <data_dir>/dnssec.key, made there first when `create` and absent. Throws
// std::runtime_error naming the option on failure.
std::shared_ptr<const dns::DnssecKey> load_dnssec_key(const std::filesystem::path& data_dir,
                                                      const std::string& key_file, bool create);

}  // namespace pweb::node
