#pragma once
// The node's place in the DHT: an OpenDHT runner on --dht-port, the agent's
// persisted identity, its signed agent record kept alive under
// "pweb:agent:<label>", and lookups of other agents' records with owner pinning.
// A thread-safe front on OpenDHT's own threads: nothing here blocks a caller
// except start-up (construction, claim_and_publish). OpenDHT headers stay in
// the .cpp files: each one that includes them costs ~10 s and ~700 MB to build.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/dht/agent_record.hpp"

namespace pweb::dht {

struct BootstrapNode {
  std::string host;
  std::uint16_t port = 0;
};

struct DirectoryConfig {
  std::string bind4 = "0.0.0.0";  // numeric IPv4; OpenDHT's run("127.0.0.1") throws
  std::uint16_t port = 4222;      // 0: an ephemeral port, see port()
  std::vector<BootstrapNode> bootstrap;
  std::uint32_t network_id = 0;
  // Identity files <identity_path>.pem / .crt: loaded if present, else generated
  // once and saved (mode 0600 for the key). Pins go to <identity_path>.pins.
  // <identity_path>.node-id (8 random bytes, made once, mode 0600) tells this
  // node from others sharing the identity (its record's value id and its DHT
  // node id come from it and the key id): it is not part of an identity
  // export, so a node given a copied identity gets its own.
  std::filesystem::path identity_path;
  unsigned key_bits = 4096;
  // How long a stored record lives without refresh; the owner re-announces it
  // before then, so a dead agent's record (or a dead node's, of a label served
  // by several) is gone within this time. At least 15 s: OpenDHT re-announces
  // 10 s before a value expires.
  std::chrono::seconds record_lifetime{120};
  // Every loopback node shares one source address, so the per-IP request limit
  // (1024/s by default) must be lifted for local clusters. -1: no limit.
  long max_peer_requests_per_second = -1;
  // Federation CA certificates (PEM). When given, a record counts only if it
  // carries a certificate for its label from one of them on the key that
  // signed it (label_cert.hpp); automatic pins are then neither used nor made
  // (the CA decides, operator pins still override), and this node's own claim
  // needs <identity_path>.label.crt.
  std::vector<std::filesystem::path> trust_anchors;
};

// Start-up failures only: bad identity files, a port that cannot be bound,
// an invalid configuration.
class DirectoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Counters since start (no logging in this library: the node may export them).
struct DirectoryStats {
  std::uint64_t lookups = 0;        // lookup() calls
  std::uint64_t lookups_found = 0;  // ... that returned a record
  std::uint64_t records_invalid =
      0;  // values dropped: unsigned, other type, undecodable, other label
  std::uint64_t records_foreign =
      0;  // valid records dropped: signed by a key not pinned for the label
  std::uint64_t records_uncertified =
      0;  // valid records dropped: no valid label certificate from a trust anchor
  std::uint64_t lookups_contested = 0;  // lookups that saw several keys and no pin
  std::uint64_t pins = 0;               // labels pinned (from the file and since)
  std::uint64_t pin_write_errors = 0;   // pins that could not be appended to the pins file
};

// What a lookup found. The trust decisions rest on `owner`/`owner_spki`: the key
// that signed the record followed (never a field of the record itself).
// Several nodes may serve one label with one key, each its own record (value
// id): `records` lists them, the newest per node, one per gateway endpoint,
// ordered by value id (the same order on every asker, stable across the
// nodes' restarts), at most kMaxNodeRecords; `record` is the newest of them.
// A lookup with a pin answers soon after the first record of the pinned key
// (see lookup): a node's record that no reply brought by then is left out
// (its users look again when every node they know fails).
struct LookupResult {
  std::optional<AgentRecord> record;
  std::vector<AgentRecord> records;
  std::string owner;                     // key id (hex) of the signer, when record
  std::vector<std::uint8_t> owner_spki;  // its DER SubjectPublicKeyInfo, for TLS
  bool contested = false;                // several keys, none pinned: not followed
  std::vector<std::string> contenders;   // key ids seen when contested
};

struct Neighbor {
  std::string id;       // node id, hex
  std::string address;  // "ip:port"
};

// `pweb-node identity new`: makes <identity_path>.pem/.crt as a node's first
// start would, without joining the DHT; false when an identity is there already
// (left as it is). Throws DirectoryError.
bool make_identity(const std::filesystem::path& identity_path, unsigned key_bits);

class AgentDirectory {
 public:
  explicit AgentDirectory(DirectoryConfig config);  // throws DirectoryError
  ~AgentDirectory();
  AgentDirectory(const AgentDirectory&) = delete;
  AgentDirectory& operator=(const AgentDirectory&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;  // bound DHT port
  [[nodiscard]] std::string key_id() const;           // this node's public key id, hex
  [[nodiscard]] std::string node_id() const;          // DHT node id, hex
  // The id of this node's record: from the key id and <identity_path>.node-id.
  [[nodiscard]] std::uint64_t value_id() const noexcept;

  // Start-up: looks the label up (waiting up to `timeout`), refuses it if a
  // record for it signed by another key exists (our key's records, from other
  // nodes sharing the identity, are no obstacle: each node has its own value
  // id, from the key id and its node id) (the error says which key
  // holds it and how to resolve it) unless the operator pinned the label to
  // our key, else pins the label to our key and publishes `record` signed and
  // permanent, so OpenDHT refreshes it for as long as this object lives. With
  // trust anchors only certified records count, and our own label
  // certificate (<identity_path>.label.crt, put into the record) must verify.
  // Returns an error message, or nullopt on success.
  std::optional<std::string> claim_and_publish(const AgentRecord& record,
                                               std::chrono::milliseconds timeout);

  // Replaces the published record (claim_and_publish first) with `record`,
  // e.g. when this agent's addresses changed. Returns an error message, or
  // nullopt once the new record is queued for publication.
  std::optional<std::string> republish(const AgentRecord& record);

  // The valid records for `label` from the key followed for it (one per node
  // serving the label, see LookupResult; a dead node's is gone once its
  // record_lifetime passes without refresh): the operator's pin, else
  // (without trust anchors) the automatic pin, the first key this node saw
  // for that label; pins persist. With no pin, a search that finds records
  // of exactly one key follows (and, without anchors, pins) it; records of
  // several keys make the label contested (`contested`, `contenders`): none
  // is followed, whatever the records say of themselves. Once a pinned key's
  // record arrives the answer is given soon, not when the search ends
  // (seconds later if it waits on a dead node): at once when a reply brings
  // it after the first values, else 150 ms later (the first values may be
  // this node's own storage, holding some of the label's nodes only); an
  // unpinned label waits for the whole search. Records signed by any other
  // key, unsigned, undecodable, for another label, or (with anchors)
  // uncertified are dropped. Pin file changes by `pweb-node pin` count within
  // a second. `done` is called exactly once, on an OpenDHT thread or the
  // directory's timer thread (after stop(): on the thread calling lookup or
  // stop), with nullopt when there is none or the search ended without one;
  // it must not block nor call into this object's OpenDHT runner
  // synchronously (good_nodes, neighbors, port, stop).
  using LookupDone = std::function<void(LookupResult)>;
  void lookup(const std::string& label, LookupDone done);

  [[nodiscard]] std::vector<Neighbor> neighbors() const;
  [[nodiscard]] std::size_t good_nodes() const;  // known good IPv4+IPv6 nodes
  [[nodiscard]] DirectoryStats stats() const;

  // Cancels the permanent put and leaves the DHT; idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::dht
