// A foreign OpenDHT node for the label-ownership integration tests: it puts
// validly signed agent records under its own key, as an attacker would, for
// labels given as LABEL:GATEWAY_PORT:UPDATED (UPDATED may be backdated). With
// a CA directory it also attaches a label certificate from that CA, made on
// the spot (a forger's own CA, not the federation's). Python's opendht binding
// cannot set a value's type nor sign, hence this program.
//
// usage: pweb-dht-forger NETWORK_ID BOOTSTRAP_PORT CA_DIR|- LABEL:PORT:UPDATED...
// Prints "key KEYID", "stored LABEL" per record, then "ready"; keeps the
// records alive until its standard input closes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <opendht/dhtrunner.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include "pweb/dht/agent_record.hpp"
#include "pweb/dht/label_cert.hpp"

namespace {

constexpr std::uint16_t kAgentType = 0x7077;  // the directory's value type

int usage() {
  std::cerr << "usage: pweb-dht-forger NETWORK_ID BOOTSTRAP_PORT CA_DIR|- LABEL:PORT:UPDATED...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage();
  const auto network = static_cast<std::uint32_t>(std::stoul(argv[1]));
  const std::string bootstrap = argv[2];
  const std::string ca = argv[3];
  auto id = ::dht::crypto::generateIdentity("forger", {}, 1024);
  ::dht::Blob spki;
  id.first->getPublicKey().pack(spki);
  if (ca != "-" && !std::filesystem::exists(std::filesystem::path(ca) / pweb::dht::kCaCertFile)) {
    pweb::dht::make_ca(ca, "pweb federation CA", 30);  // the real CA's name, another key
  }

  ::dht::DhtRunner runner;
  ::dht::DhtRunner::Config rc;
  rc.threaded = true;
  rc.dht_config.id = id;
  rc.dht_config.node_config.network = network;
  rc.dht_config.node_config.max_peer_req_per_sec = -1;
  rc.dht_config.node_config.max_req_per_sec = -1;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rc.bind4 = ::dht::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  runner.run(rc, ::dht::DhtRunner::Context{});
  runner.registerType(::dht::ValueType(kAgentType, "pweb-agent", std::chrono::minutes(2)));
  runner.bootstrap("127.0.0.1", bootstrap);
  std::cout << "key " << id.first->getPublicKey().getId().toString() << std::endl;

  int status = 0;
  for (int i = 4; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto a = spec.find(':'), b = spec.rfind(':');
    if (a == std::string::npos || a == b) return usage();
    pweb::dht::AgentRecord r;
    r.label = spec.substr(0, a);
    r.ipv4 = {"127.0.0.1"};
    r.gateway_port = static_cast<std::uint16_t>(std::stoul(spec.substr(a + 1, b - a - 1)));
    r.updated = std::stoll(spec.substr(b + 1));
    if (ca != "-") {
      const auto pem = pweb::dht::issue_label_cert(ca, r.label, spki, 30, std::time(nullptr));
      const auto f = std::filesystem::path(ca) / (r.label + ".crt");
      std::ofstream(f) << pem;
      r.cert = pweb::dht::read_certificate_der(f);
    }
    auto v = std::make_shared<::dht::Value>(pweb::dht::encode(r));
    v->type = kAgentType;
    auto stored = std::make_shared<std::promise<bool>>();
    auto done = stored->get_future();
    runner.putSigned(
        ::dht::InfoHash::get("pweb:agent:" + r.label), v,
        [stored](bool ok) { stored->set_value(ok); }, /*permanent=*/true);
    if (done.wait_for(std::chrono::seconds(20)) == std::future_status::ready && done.get()) {
      std::cout << "stored " << r.label << std::endl;
    } else {
      std::cout << "failed " << r.label << std::endl;
      status = 1;
    }
  }
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  runner.shutdown({}, true);
  runner.join();
  return status;
}
