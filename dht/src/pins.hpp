#pragma once
// Owner pins: which key a label belongs to, as this node first saw it. Kept
// in memory and appended to a text file, one "label keyid" line per pin, so a
// restart keeps following the same keys. Not thread-safe: the directory keeps
// it in a LockGuarded. No OpenDHT here.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace pweb::dht {

class Pins {
 public:
  // Loads `path` if it exists. Lines that are not "label keyid" (a torn last
  // line after a crash, say) are skipped; for a label pinned twice the first
  // line wins. Throws DirectoryError if the file exists but cannot be read.
  explicit Pins(std::filesystem::path path);

  [[nodiscard]] std::optional<std::string> find(const std::string& label) const;

  // Pins `label` to `key` unless it is pinned already; returns the key it is
  // pinned to now. `written` (if given) is set false when a new pin could not
  // be appended to the file (it still holds in memory).
  std::string pin(const std::string& label, const std::string& key, bool* written = nullptr);

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::size_t size() const noexcept { return pins_.size(); }

  // A key id as OpenDHT prints it: 40 lowercase hex digits.
  static bool valid_key(const std::string& key);

 private:
  bool append(const std::string& line);

  std::filesystem::path path_;
  std::map<std::string, std::string> pins_;
  bool needs_newline_ = false;  // the file ends in a torn line
};

}  // namespace pweb::dht
