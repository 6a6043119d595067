#pragma once
// Owner pins: which key a label belongs to for this node. Kept in memory and
// in a text file (<data-dir>/identity.pins), one pin a line:
//   "label keyid"           automatic: trust on first use, the first key this
//                           node saw for the label (appended by the node);
//   "label keyid operator"  set by `pweb-node pin add`: overrides whatever the
//                           DHT holds, never replaced automatically.
// Not thread-safe: the directory keeps it in a LockGuarded. No OpenDHT here.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pweb::dht {

enum class PinKind : std::uint8_t { automatic, operator_set };
const char* to_string(PinKind k) noexcept;  // "automatic", "operator"

struct Pin {
  std::string key;  // key id, 40 lowercase hex digits
  PinKind kind = PinKind::automatic;
  friend bool operator==(const Pin&, const Pin&) = default;
};

class Pins {
 public:
  // Loads `path` if it exists. Lines that are not a pin (a torn last line
  // after a crash, say) are skipped; for a label pinned twice an operator pin
  // wins over an automatic one, else the first line wins. Throws
  // DirectoryError if the file exists but cannot be read.
  explicit Pins(std::filesystem::path path);

  [[nodiscard]] std::optional<Pin> find(const std::string& label) const;

  // Pins `label` to `key` automatically unless it is pinned already; returns
  // the key it is pinned to now. `written` (if given) is set false when a new
  // pin could not be appended to the file (it still holds in memory).
  std::string pin(const std::string& label, const std::string& key, bool* written = nullptr);

  // Operator changes (`pweb-node pin add|del`): the file is rewritten whole
  // (temporary file, then rename). Throw DirectoryError when it cannot be.
  void set_operator(const std::string& label, const std::string& key);
  bool remove(const std::string& label);  // false if `label` had no pin

  [[nodiscard]] const std::map<std::string, Pin>& all() const noexcept { return pins_; }

  // Re-reads the file when another process (the pin commands) replaced or
  // changed it since this object last read or wrote it; true if it did.
  bool reload_if_changed();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::size_t size() const noexcept { return pins_.size(); }

  // A key id as OpenDHT prints it: 40 lowercase hex digits.
  static bool valid_key(const std::string& key);

 private:
  struct FileState {
    ino_t inode = 0;
    off_t size = -1;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const FileState&, const FileState&) = default;
  };
  void load();
  bool append(const std::string& line);
  void rewrite();
  [[nodiscard]] FileState file_state() const;

  std::filesystem::path path_;
  std::map<std::string, Pin> pins_;
  bool needs_newline_ = false;  // the file ends in a torn line
  FileState seen_;              // of the file as last read or written
};

}  // namespace pweb::dht
