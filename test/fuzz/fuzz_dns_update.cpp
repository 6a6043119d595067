// Any bytes through the UPDATE path: parse, classify, TSIG-verify against a fixed key
// (the key of the seeds in corpus/dns_update, made by make_dns_update_seeds.py), and
// write the response. Invariants: no crash; a response is a response to the same ID.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pweb/dns/update.hpp"

namespace {

using namespace pweb;

constexpr std::string_view kSecretText = "0123456789abcdef0123456789abcdef";
const std::span<const std::uint8_t> kSecret(
    reinterpret_cast<const std::uint8_t*>(kSecretText.data()), kSecretText.size());

const dns::Name& key_name() {
  static const dns::Name n = [] {
    dns::Name k;
    dns::name_from_text("tok1.", k);
    return k;
  }();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  dns::TsigRecord any;
  (void)dns::find_tsig(in, any);

  dns::UpdateMessage msg;
  const auto st = dns::parse_update(in, msg);
  if (st == dns::UpdateParse::drop || st == dns::UpdateParse::notimp) return 0;
  dns::Rcode rcode = dns::Rcode::formerr;
  dns::TsigResult tsig = dns::TsigResult::ok;
  std::span<const std::uint8_t> secret;
  if (st == dns::UpdateParse::ok) {
    for (const auto& rr : msg.prerequisites) (void)dns::classify_prerequisite(msg, rr);
    for (const auto& rr : msg.updates) (void)dns::classify_update(msg, rr);
    rcode = dns::check_update_sections(msg);
    if (msg.has_tsig) {
      // The right key only under the right name, as the node will look it up.
      if (dns::wire_equal_nocase(msg.tsig.key_name.bytes(), key_name().bytes())) secret = kSecret;
      // Once at the signer's own time (reaches ok), once at a fixed time (BADTIME).
      tsig = dns::tsig_verify(in, msg.tsig, secret, msg.tsig.time_signed);
      (void)dns::tsig_verify(in, msg.tsig, secret, 1'796'597'228);
    }
  }
  static std::array<std::uint8_t, 65535> out;
  const std::size_t n =
      dns::write_update_response(in, msg, rcode, tsig, secret, 1'796'597'228, out);
  if (n == 0) return 0;
  if (n < dns::kHeaderSize || out[0] != data[0] || out[1] != data[1]) std::abort();
  if ((out[2] & 0x80) == 0) std::abort();  // QR
  // A signed response must verify against the request MAC.
  dns::TsigRecord rt;
  const auto resp = std::span<const std::uint8_t>(out.data(), n);
  const auto found = dns::find_tsig(resp, rt);
  if (msg.has_tsig && tsig != dns::TsigResult::formerr && found != dns::TsigFind::ok) std::abort();
  if (found == dns::TsigFind::ok && rt.mac_size != 0 &&
      dns::tsig_verify(resp, rt, secret, rt.time_signed, msg.tsig.mac(in)) != dns::TsigResult::ok) {
    std::abort();
  }
  return 0;
}
