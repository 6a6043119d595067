#include "doh.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pweb::rest {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// RFC 8484 4.1.1's example: a query for www.example.com A, ID 0.
const char* kExampleGet = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";

TEST(Base64Url, DecodesWithoutPaddingAndRejectsOtherAlphabets) {
  EXPECT_EQ(base64url_decode("aGk"), bytes("hi"));
  EXPECT_EQ(base64url_decode(""), bytes(""));
  EXPECT_EQ(base64url_decode("-_8"), (std::vector<std::uint8_t>{0xfb, 0xff}));
  EXPECT_FALSE(base64url_decode("aGk="));  // padding
  EXPECT_FALSE(base64url_decode("+/8"));   // the standard alphabet
  EXPECT_FALSE(base64url_decode("aG k"));
  EXPECT_FALSE(base64url_decode("a"));  // no whole byte
}

TEST(QueryParameter, FindsTheNamedParameterAndPercentDecodes) {
  EXPECT_EQ(query_parameter("dns=AAAB", "dns"), "AAAB");
  EXPECT_EQ(query_parameter("ct=x&dns=AA%41B&z", "dns"), "AAAB");
  EXPECT_EQ(query_parameter("dns", "dns"), "");
  EXPECT_FALSE(query_parameter("dnsx=1&xdns=2", "dns"));
  EXPECT_FALSE(query_parameter("", "dns"));
  EXPECT_FALSE(query_parameter("dns=AA%4", "dns"));  // broken escape
  EXPECT_FALSE(query_parameter("dns=%zz", "dns"));
}

TEST(DohFromGet, TheRfcExampleDecodes) {
  const auto r = doh_from_get(std::string(kExampleGet));
  ASSERT_FALSE(r.refused()) << r.error;
  ASSERT_EQ(r.message.size(), 33u);
  EXPECT_EQ(r.message[0], 0);  // ID 0, as RFC 8484 asks
  EXPECT_EQ(r.message[13], 'w');
}

TEST(DohFromGet, RefusesWhatIsNoDnsQuery) {
  EXPECT_EQ(doh_from_get(std::nullopt).status, 400);
  EXPECT_EQ(doh_from_get(std::string("")).status, 400);
  EXPECT_EQ(doh_from_get(std::string("AAAB====")).status, 400);
  EXPECT_EQ(doh_from_get(std::string("AAABAAAB")).status, 400);  // 6 bytes: no header
  // Longer than a 65535-byte message's base64: refused before decoding.
  EXPECT_EQ(doh_from_get(std::string(87384, 'A')).status, 413);
}

TEST(DohFromPost, NeedsTheDnsMessageMediaType) {
  const std::string body(12, '\0');
  EXPECT_FALSE(doh_from_post("application/dns-message", body).refused());
  EXPECT_FALSE(doh_from_post("Application/DNS-Message ; x=y", body).refused());
  EXPECT_EQ(doh_from_post("", body).status, 415);
  EXPECT_EQ(doh_from_post("application/json", body).status, 415);
  EXPECT_EQ(doh_from_post("application/dns-messages", body).status, 415);
}

TEST(DohFromPost, BoundsTheMessageSize) {
  EXPECT_EQ(doh_from_post("application/dns-message", std::string(11, '\0')).status, 400);
  EXPECT_FALSE(doh_from_post("application/dns-message", std::string(65535, '\0')).refused());
  EXPECT_EQ(doh_from_post("application/dns-message", std::string(65536, '\0')).status, 413);
}

// Answers a query by echoing it back as a response with one A record of TTL
// 42; nothing for a message that is itself a response.
class EchoService final : public DnsQueryService {
 public:
  std::vector<std::uint8_t> answer(std::span<const std::uint8_t> q) override {
    if ((q[2] & 0x80) != 0) return {};
    std::vector<std::uint8_t> out(q.begin(), q.end());
    out[2] |= 0x80;  // QR
    out[7] = 1;      // ANCOUNT
    const std::uint8_t rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 192, 0, 2, 1};
    out.insert(out.end(), std::begin(rr), std::end(rr));
    return out;
  }
  void answer_later(std::span<const std::uint8_t> q,
                    std::function<void(DnsAnswerFinish)> done) override {
    done([answer = answer(q)] { return answer; });
  }
  std::chrono::milliseconds longest_wait() const override { return std::chrono::seconds(1); }
};

TEST(DohRespond, AnswersWithTheMessageAndItsFreshness) {
  EchoService service;
  const auto r = doh_respond(service, doh_from_get(std::string(kExampleGet)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/dns-message");
  EXPECT_EQ(r.cache_control, "max-age=42");
  EXPECT_EQ(r.body.size(), 33u + 16u);
}

TEST(DohRespond, RefusalsAndNonQueriesAreJsonErrors) {
  EchoService service;
  const auto refused = doh_respond(service, doh_from_get(std::nullopt));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.content_type, "application/json");
  EXPECT_TRUE(refused.cache_control.empty());
  std::string response(12, '\0');
  response[2] = '\x80';
  const auto not_query = doh_respond(service, doh_from_post("application/dns-message", response));
  EXPECT_EQ(not_query.status, 400);
}

}  // namespace
}  // namespace pweb::rest
