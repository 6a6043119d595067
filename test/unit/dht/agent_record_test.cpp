#include "pweb/dht/agent_record.hpp"

#include <gtest/gtest.h>

#include <msgpack.hpp>

namespace pweb::dht {
namespace {

AgentRecord sample() {
  AgentRecord r;
  r.label = "uw";
  r.ipv4 = {"192.0.2.1"};
  r.ipv6 = {"2001:db8::1"};
  r.gateway_port = 4450;
  r.http_port = 8053;
  r.dns_port = 53;
  r.updated = 1795380000;
  return r;
}

template <typename... Kv>
std::vector<std::uint8_t> map_of(const Kv&... kv) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(sizeof...(kv) / 2);
  (pk.pack(kv), ...);
  return {buf.data(), buf.data() + buf.size()};
}

TEST(AgentRecord, RoundTrip) {
  const auto bytes = encode(sample());
  EXPECT_LT(bytes.size(), kMaxRecordBytes);
  const auto d = decode(bytes);
  ASSERT_TRUE(d.record) << d.error;
  EXPECT_EQ(*d.record, sample());
}

TEST(AgentRecord, UnknownKeysIgnoredLabelLowercased) {
  const auto d = decode(map_of(std::string("label"), std::string("UW"), std::string("gw"), 4450,
                               std::string("future"), std::string("x")));
  ASSERT_TRUE(d.record) << d.error;
  EXPECT_EQ(d.record->label, "uw");
}

TEST(AgentRecord, RefusesBadRecordsSayingWhy) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    const char* why;
  };
  const std::vector<Case> cases{
      {std::vector<std::uint8_t>(kMaxRecordBytes + 1, 0x90), "bytes"},
      {{0xc1}, "msgpack"},
      {map_of(std::string("gw"), 1), "no label"},
      {map_of(std::string("label"), std::string("bad_label"), std::string("gw"), 1), "bad_label"},
      {map_of(std::string("label"), 7, std::string("gw"), 1), "wrong type"},
      {map_of(std::string("label"), std::string("uw"), std::string("gw"), 70000), "wrong type"},
      {map_of(std::string("label"), std::string("uw"), std::string("gw"), 0), "gateway port"},
      {map_of(std::string("label"), std::string("uw"), std::string("gw"), 1, std::string("v4"),
              std::vector<std::string>{"300.1.1.1"}),
       "IPv4"},
      {map_of(std::string("label"), std::string("uw"), std::string("gw"), 1, std::string("v4"),
              std::vector<std::string>(9, "192.0.2.1")),
       "too many"},
  };
  for (const auto& c : cases) {
    const auto d = decode(c.bytes);
    EXPECT_FALSE(d.record) << c.why;
    EXPECT_NE(d.error.find(c.why), std::string::npos) << d.error << " / expected " << c.why;
  }
  EXPECT_FALSE(decode({}).record);
  std::vector<std::uint8_t> arr{0x92, 0x01, 0x02};  // an array, not a map
  EXPECT_NE(decode(arr).error.find("not a map"), std::string::npos);
}

// The label certificate: opaque bytes here (label_cert verifies them), bounded.
TEST(AgentRecord, CertificateRoundTripAndBounds) {
  // Without one, the encoding is the 7-key map older readers and writers use.
  EXPECT_EQ(encode(sample())[0], 0x87);
  auto r = sample();
  r.cert.assign(kMaxCertBytes, 0x30);
  const auto bytes = encode(r);
  EXPECT_EQ(bytes[0], 0x88);
  EXPECT_LE(bytes.size(), kMaxRecordBytes);  // the largest certificate still fits
  const auto d = decode(bytes);
  ASSERT_TRUE(d.record) << d.error;
  EXPECT_EQ(*d.record, r);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    ASSERT_FALSE(decode(std::span(bytes.data(), n)).record) << n;
  }

  r.cert.push_back(0x30);  // one byte over
  EXPECT_FALSE(decode(encode(r)).record);
  // The wrong type, or an empty one, is refused, not taken as "no certificate".
  EXPECT_NE(decode(map_of(std::string("label"), std::string("uw"), std::string("gw"), 1,
                          std::string("cert"), std::string("text")))
                .error.find("'cert'"),
            std::string::npos);
  r.cert.clear();
  auto empty = encode(r);
  empty[0] = 0x88;
  for (const int b : {0xa4, int{'c'}, int{'e'}, int{'r'}, int{'t'}, 0xc4, 0x00}) {
    empty.push_back(static_cast<std::uint8_t>(b));
  }
  EXPECT_NE(decode(empty).error.find("'cert'"), std::string::npos) << decode(empty).error;
}

TEST(AgentRecord, EveryTruncationRefused) {
  const auto bytes = encode(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode(std::span(bytes.data(), n)).record) << n;
  }
}

}  // namespace
}  // namespace pweb::dht
