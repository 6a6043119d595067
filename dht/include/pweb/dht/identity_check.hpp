#pragma once
// Whether bytes make a DHT identity the node would load, for `pweb-node
// identity import`: it checks a whole bundle before writing any file.
#include <optional>
#include <string>
#include <string_view>

namespace pweb::dht {

// nullopt when OpenDHT reads `key` (identity.pem) and `cert` (identity.crt) as
// the node does at start and the key is the certificate's, and `label_cert`
// (identity.label.crt), when given, certifies that same key; else what is wrong.
std::optional<std::string> identity_problem(std::string_view key, std::string_view cert,
                                            std::optional<std::string_view> label_cert);

}  // namespace pweb::dht
