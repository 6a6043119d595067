#pragma once
// `pweb-node identity export|import`: the files every node serving one agent
// label must share, carried as one text bundle. The DHT identity (the key the
// label's record is signed with, its certificate, and with a federation CA the
// label certificate) and the node key sealing device-token secrets. Per-node
// files (identity.pins, the store) stay where they are.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pweb::node {

// In the data dir.
inline constexpr const char* kIdentityKeyFile = "identity.pem";
inline constexpr const char* kIdentityCertFile = "identity.crt";
inline constexpr const char* kLabelCertFile = "identity.label.crt";
inline constexpr const char* kTokenKeyFile = "token.key";

// The files' bytes as they are on disk (the token key: its 32 raw bytes).
struct IdentityFiles {
  std::string key;
  std::string cert;
  std::optional<std::string> label_cert;
  std::optional<std::string> token_key;

  friend bool operator==(const IdentityFiles&, const IdentityFiles&) = default;
};

struct IdentityResult {
  std::optional<IdentityFiles> files;
  std::string error;  // why there are none
};

// The bundle text: a header line, each file as a `file NAME` line and its one
// PEM block (the token key as base64 in a PWEB TOKEN KEY block), an end line
// (so a truncated bundle is told from a complete one). Pure.
std::string format_bundle(const IdentityFiles& files);
// Its inverse: the layout only, no crypto. Pure.
IdentityResult parse_bundle(std::string_view text);

// What makes `files` unusable: the key does not parse or is not the
// certificate's (checked by OpenDHT, as the node loads them), the label
// certificate is for another key, the token key is not 32 bytes.
std::optional<std::string> identity_problem(const IdentityFiles& files);

// The shared files of `data_dir`; an error when the identity is missing or a
// file cannot be carried as it is.
IdentityResult read_identity(const std::filesystem::path& data_dir);

struct ImportResult {
  std::string error;               // empty: done
  bool unchanged = false;          // the data dir held exactly these files already
  std::vector<std::string> notes;  // for standard error: files kept or removed
};

// Writes `files` into `data_dir` (created if needed), each mode 0600 under a
// temporary name first, then renamed (the key last: its presence means the
// identity is complete). Refuses, writing nothing, when a file there differs,
// unless `force`. With `force` and another key, an identity.label.crt the
// bundle does not carry is removed (it certifies the old key).
ImportResult write_identity(const std::filesystem::path& data_dir, const IdentityFiles& files,
                            bool force);

}  // namespace pweb::node
