#include "pweb/node/identity_transfer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>

#include "pweb/dht/identity_check.hpp"
#include "pweb/registrar/tokens.hpp"

namespace pweb::node {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHeader = "pweb-identity-bundle 1";
constexpr std::string_view kEnd = "end pweb-identity-bundle";
constexpr std::string_view kTokenKeyLabel = "PWEB TOKEN KEY";
constexpr std::string_view kFileLine = "file ";

// The text between "-----BEGIN " / "-----END " and "-----", or nullopt.
std::optional<std::string_view> armor_label(std::string_view line, std::string_view kind) {
  const std::string prefix = "-----" + std::string(kind) + " ";
  if (line.size() <= prefix.size() + 5 || !line.starts_with(prefix) || !line.ends_with("-----")) {
    return std::nullopt;
  }
  return line.substr(prefix.size(), line.size() - prefix.size() - 5);
}

// The bundle's lines, without the newline (nor a '\r' before it).
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const auto nl = text_.find('\n', pos_);
    const auto end = nl == std::string_view::npos ? text_.size() : nl;
    line = text_.substr(pos_, end - pos_);
    if (line.ends_with('\r')) line.remove_suffix(1);
    pos_ = end + 1;
    ++number_;
    return true;
  }
  [[nodiscard]] std::size_t number() const { return number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t number_ = 0;
};

struct Block {
  std::string label;  // "CERTIFICATE", "PRIVATE KEY", ...
  std::string text;   // BEGIN to END line, each line ending in '\n'
  std::string body;   // the lines between, joined without newlines
};

// One PEM block starting at the next line; `error` set when it is not one.
Block read_block(Lines& lines, std::string& error) {
  Block b;
  std::string_view line;
  if (!lines.next(line) || !armor_label(line, "BEGIN")) {
    error = "line " + std::to_string(lines.number()) + ": expected a -----BEGIN ...----- line";
    return b;
  }
  b.label = std::string(*armor_label(line, "BEGIN"));
  b.text.append(line).push_back('\n');
  while (lines.next(line)) {
    b.text.append(line).push_back('\n');
    if (const auto end = armor_label(line, "END")) {
      if (*end != b.label) {
        error = "line " + std::to_string(lines.number()) + ": -----END " + std::string(*end) +
                "----- closes a " + b.label + " block";
      }
      return b;
    }
    if (line.starts_with("-----")) {
      error = "line " + std::to_string(lines.number()) + ": unexpected armor line in a " + b.label +
              " block";
      return b;
    }
    b.body.append(line);
  }
  error = "the bundle is truncated: the " + b.label + " block has no END line";
  return b;
}

// Why `text` is not exactly one PEM block (the form the bundle carries it in).
std::optional<std::string> not_one_block(std::string_view text) {
  Lines lines(text);
  std::string error;
  const Block b = read_block(lines, error);
  if (!error.empty()) return error;
  if (b.text != text) return "it is not exactly one PEM block";
  return std::nullopt;
}

// The file's bytes; nullopt when it does not exist; `error` set when unreadable.
std::optional<std::string> read_file(const fs::path& p, std::string& error) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(p, ec))) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.is_open() || in.bad()) error = "cannot read " + p.string();
  return data;
}

// The files of `files` by name, in the order they are renamed into place: the
// key last, as the node writes a new identity (its presence means complete).
std::vector<std::pair<std::string, std::string>> named(const IdentityFiles& files) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(kIdentityCertFile, files.cert);
  if (files.label_cert) out.emplace_back(kLabelCertFile, *files.label_cert);
  if (files.token_key) out.emplace_back(kTokenKeyFile, *files.token_key);
  out.emplace_back(kIdentityKeyFile, files.key);
  return out;
}

bool write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// `data` into `tmp`, mode 0600 whatever the umask or an older file's mode.
std::string write_temp(const fs::path& tmp, std::string_view data) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot write " + tmp.string() + ": " + std::strerror(errno);
  const bool ok = ::fchmod(fd, 0600) == 0 && write_fully(fd, data) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return "cannot write " + tmp.string() + ": " + std::strerror(err);
  return {};
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string format_bundle(const IdentityFiles& files) {
  std::string out(kHeader);
  out +=
      "\n# The DHT identity of one agent label (and the key sealing its device tokens): SECRET."
      "\n# Import it with: pweb-node identity import --data-dir DIR < this-file\n";
  for (const auto& [name, data] : named(files)) {
    out += std::string(kFileLine) + name + "\n";
    if (name == kTokenKeyFile) {
      registrar::NodeKey key{};
      std::copy_n(data.begin(), std::min(data.size(), key.size()), key.begin());
      out += "-----BEGIN " + std::string(kTokenKeyLabel) + "-----\n" +
             registrar::encode_node_key(key) + "\n-----END " + std::string(kTokenKeyLabel) +
             "-----\n";
    } else {
      out += data;
    }
  }
  out += std::string(kEnd) + "\n";
  return out;
}

IdentityResult parse_bundle(std::string_view text) {
  IdentityResult r;
  Lines lines(text);
  std::string_view line;
  auto skip = [](std::string_view l) { return l.empty() || l.starts_with('#'); };
  while (lines.next(line) && skip(line)) {
  }
  if (line != kHeader) {
    r.error = text.empty() ? "the bundle is empty"
                           : "not a pweb identity bundle (the first line is not '" +
                                 std::string(kHeader) + "')";
    return r;
  }
  IdentityFiles files;
  std::set<std::string> seen;
  bool ended = false;
  while (lines.next(line)) {
    if (skip(line)) continue;
    if (ended) {
      r.error = "line " + std::to_string(lines.number()) + ": text after the end line";
      return r;
    }
    if (line == kEnd) {
      ended = true;
      continue;
    }
    if (!line.starts_with(kFileLine)) {
      r.error = "line " + std::to_string(lines.number()) + ": expected 'file NAME' or '" +
                std::string(kEnd) + "'";
      return r;
    }
    const std::string name(line.substr(kFileLine.size()));
    const bool known = name == kIdentityKeyFile || name == kIdentityCertFile ||
                       name == kLabelCertFile || name == kTokenKeyFile;
    if (!known || !seen.insert(name).second) {
      r.error = "line " + std::to_string(lines.number()) + ": file '" + name +
                "' is unknown or given twice";
      return r;
    }
    Block b = read_block(lines, r.error);
    if (!r.error.empty()) return r;
    if (name == kIdentityKeyFile) {
      if (b.label.find("PRIVATE KEY") == std::string::npos) {
        r.error = name + " holds a " + b.label + ", not a private key";
        return r;
      }
      files.key = std::move(b.text);
    } else if (name == kTokenKeyFile) {
      const auto key = b.label == kTokenKeyLabel ? registrar::decode_node_key(b.body)
                                                 : std::optional<registrar::NodeKey>{};
      if (!key) {
        r.error =
            name + " is not a " + std::string(kTokenKeyLabel) + " block of 32 bytes in base64";
        return r;
      }
      files.token_key = std::string(key->begin(), key->end());
    } else if (b.label != "CERTIFICATE") {
      r.error = name + " holds a " + b.label + ", not a CERTIFICATE";
      return r;
    } else {
      (name == kIdentityCertFile ? files.cert : files.label_cert.emplace()) = std::move(b.text);
    }
  }
  const bool have_key = seen.contains(kIdentityKeyFile);
  const bool have_cert = seen.contains(kIdentityCertFile);
  if (!ended) {
    r.error = "the bundle is truncated (no '" + std::string(kEnd) + "' line)";
  } else if (!have_key || !have_cert) {
    r.error = std::string("the bundle has no ") + (have_key ? kIdentityCertFile : kIdentityKeyFile);
  } else {
    r.files = std::move(files);
  }
  return r;
}

std::optional<std::string> identity_problem(const IdentityFiles& files) {
  if (files.token_key && files.token_key->size() != registrar::NodeKey{}.size()) {
    return std::string(kTokenKeyFile) + " is not 32 bytes";
  }
  std::optional<std::string_view> label;
  if (files.label_cert) label = *files.label_cert;
  return dht::identity_problem(files.key, files.cert, label);
}

IdentityResult read_identity(const fs::path& data_dir) {
  IdentityResult r;
  IdentityFiles files;
  auto key = read_file(data_dir / kIdentityKeyFile, r.error);
  auto cert = read_file(data_dir / kIdentityCertFile, r.error);
  files.label_cert = read_file(data_dir / kLabelCertFile, r.error);
  if (!r.error.empty()) return r;
  if (!key || !cert) {
    r.error = "no DHT identity in " + data_dir.string() + " (" +
              (key ? kIdentityCertFile : kIdentityKeyFile) +
              " is missing; a node makes its identity when it first starts there)";
    return r;
  }
  files.key = std::move(*key);
  files.cert = std::move(*cert);
  for (const auto& [name, text] : named(files)) {
    if (name == kTokenKeyFile) continue;
    if (auto why = not_one_block(text)) {
      r.error = (data_dir / name).string() + " cannot be carried as it is: " + *why;
      return r;
    }
  }
  const auto token = registrar::load_node_key(data_dir, false);
  if (!token.error.empty()) {
    r.error = token.error;
    return r;
  }
  if (token.key) files.token_key = std::string(token.key->begin(), token.key->end());
  if (auto why = identity_problem(files)) {
    r.error = "the DHT identity in " + data_dir.string() + " is unusable: " + *why;
    return r;
  }
  r.files = std::move(files);
  return r;
}

ImportResult write_identity(const fs::path& data_dir, const IdentityFiles& files, bool force) {
  ImportResult r;
  const auto wanted = named(files);
  std::vector<std::string> differing;
  std::size_t same = 0;
  for (const auto& [name, data] : wanted) {
    const auto old = read_file(data_dir / name, r.error);
    if (!r.error.empty()) return r;
    if (!old) continue;
    if (*old == data) {
      ++same;
    } else {
      differing.push_back(name);
    }
  }
  if (differing.empty() && same == wanted.size()) {
    r.unchanged = true;
    return r;
  }
  if (!differing.empty() && !force) {
    std::string list;
    for (const auto& n : differing) list += (list.empty() ? "" : ", ") + n;
    r.error = data_dir.string() + " holds another identity (" + list +
              " differ); nothing was written. Give --force to replace it: the old key, and "
              "with it the label it holds, is then lost unless saved elsewhere";
    return r;
  }
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    r.error = "cannot create " + data_dir.string() + ": " + ec.message();
    return r;
  }
  // Every file whole under a temporary name before any is renamed into place.
  std::vector<fs::path> temps;
  auto drop_temps = [&] {
    for (const auto& t : temps) fs::remove(t, ec);
  };
  for (const auto& [name, data] : wanted) {
    temps.push_back(data_dir / (name + ".import-tmp"));
    r.error = write_temp(temps.back(), data);
    if (!r.error.empty()) {
      drop_temps();
      return r;
    }
  }
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    fs::rename(temps[i], data_dir / wanted[i].first, ec);
    if (ec) {
      r.error = "cannot write " + (data_dir / wanted[i].first).string() + ": " + ec.message();
      drop_temps();
      return r;
    }
  }
  const bool new_key =
      std::find(differing.begin(), differing.end(), kIdentityKeyFile) != differing.end();
  const fs::path stale = data_dir / kLabelCertFile;
  if (new_key && !files.label_cert && fs::exists(stale, ec)) {
    fs::remove(stale, ec);
    r.notes.push_back("removed " + stale.string() + ": it certified the replaced key");
  }
  if (!files.token_key && fs::exists(data_dir / kTokenKeyFile, ec)) {
    r.notes.push_back("kept " + (data_dir / kTokenKeyFile).string() +
                      " (the bundle carries no token key)");
  }
  sync_dir(data_dir);
  return r;
}

}  // namespace pweb::node
