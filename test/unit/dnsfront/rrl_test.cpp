#include "pweb/dns/rrl.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace pweb::dns {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

constexpr std::array<std::uint8_t, 4> kClient{198, 51, 100, 7};
constexpr std::array<std::uint8_t, 4> kSamePrefix{198, 51, 100, 200};
constexpr std::array<std::uint8_t, 4> kOtherPrefix{198, 51, 101, 7};

RrlConfig config(std::uint32_t rate, std::uint32_t slip) {
  RrlConfig c;
  c.responses_per_second = rate;
  c.slip = slip;
  return c;
}

struct Tally {
  int send = 0, slip = 0, drop = 0;
};

Tally run(RateLimiter& rl, std::span<const std::uint8_t> addr, int n, Clock::time_point t,
          RrlKind kind = RrlKind::answer, std::uint64_t name = 42) {
  Tally out;
  for (int i = 0; i < n; ++i) {
    switch (rl.check(addr, kind, name, t)) {
      case RrlAction::send:
        ++out.send;
        break;
      case RrlAction::slip:
        ++out.slip;
        break;
      case RrlAction::drop:
        ++out.drop;
        break;
    }
  }
  return out;
}

TEST(RateLimiter, OffSendsEverything) {
  RateLimiter rl(config(0, 2));
  EXPECT_FALSE(rl.enabled());
  EXPECT_EQ(run(rl, kClient, 10000, Clock::now()).send, 10000);
}

TEST(RateLimiter, BurstOfRateThenSlipEverySecond) {
  RateLimiter rl(config(10, 2));
  const auto t = Clock::now();
  const auto r = run(rl, kClient, 110, t);
  EXPECT_EQ(r.send, 10);  // the limit exactly, then none
  EXPECT_EQ(r.slip, 50);
  EXPECT_EQ(r.drop, 50);
  EXPECT_EQ(rl.slipped(), 50u);
  EXPECT_EQ(rl.dropped(), 50u);
}

TEST(RateLimiter, SlipZeroDropsAllSlipOneTruncatesAll) {
  RateLimiter drop_all(config(5, 0));
  auto r = run(drop_all, kClient, 20, Clock::now());
  EXPECT_EQ(r.send, 5);
  EXPECT_EQ(r.drop, 15);
  RateLimiter slip_all(config(5, 1));
  r = run(slip_all, kClient, 20, Clock::now());
  EXPECT_EQ(r.slip, 15);
}

TEST(RateLimiter, RefillsAtTheRateUpToOneSecond) {
  RateLimiter rl(config(100, 0));
  const auto t = Clock::now();
  EXPECT_EQ(run(rl, kClient, 100, t).send, 100);
  EXPECT_EQ(run(rl, kClient, 1, t).send, 0);
  EXPECT_EQ(run(rl, kClient, 100, t + 100ms).send, 10);  // 100/s for 0.1 s
  EXPECT_EQ(run(rl, kClient, 500, t + 60s).send, 100);   // never more than one second's worth
}

TEST(RateLimiter, PrefixSharesTheBucketOthersDoNot) {
  RateLimiter rl(config(10, 0));
  const auto t = Clock::now();
  EXPECT_EQ(run(rl, kClient, 10, t).send, 10);
  EXPECT_EQ(run(rl, kSamePrefix, 10, t).send, 0) << "same /24: same bucket";
  EXPECT_EQ(run(rl, kOtherPrefix, 10, t).send, 10) << "next /24: its own bucket";
}

TEST(RateLimiter, Ipv6ByPrefix) {
  RateLimiter rl(config(3, 0));
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x10};
  auto same = a;
  same[7] = 0x1f;  // differs below /56 (bits 56-63)
  same[15] = 9;
  auto other = a;
  other[6] = 1;  // differs inside the /56
  const auto t = Clock::now();
  EXPECT_EQ(run(rl, a, 3, t).send, 3);
  EXPECT_EQ(run(rl, same, 3, t).send, 0);
  EXPECT_EQ(run(rl, other, 3, t).send, 3);
}

TEST(RateLimiter, AnswersCountPerNameNegativesPerPrefix) {
  RateLimiter rl(config(5, 0));
  const auto t = Clock::now();
  EXPECT_EQ(run(rl, kClient, 5, t, RrlKind::answer, 1).send, 5);
  EXPECT_EQ(run(rl, kClient, 5, t, RrlKind::answer, 2).send, 5) << "another name";
  // Random names that do not exist all share one bucket: a random-subdomain flood is limited.
  int sent = 0;
  for (std::uint64_t name = 0; name < 50; ++name) {
    sent += run(rl, kClient, 1, t, RrlKind::negative, name).send;
  }
  EXPECT_EQ(sent, 5);
  EXPECT_EQ(run(rl, kClient, 5, t, RrlKind::error).send, 5) << "errors: their own bucket";
}

// A response: header, question "a.dht. A IN", one answer.
std::vector<std::uint8_t> response_with_answer(std::uint8_t first_letter = 'a') {
  return {0x12, 0x34,
          0x84, 0x00,
          0,    1,
          0,    1,
          0,    0,
          0,    1,  // QR AA, 1 question, 1 answer, 1 add
          1,    first_letter,
          3,    'd',
          'h',  't',
          0,    0,
          1,    0,
          1,  // question
          0xc0, 12,
          0,    1,
          0,    1,
          0,    0,
          0,    60,
          0,    4,
          192,  0,
          2,    1,  // answer
          0,    0,
          41,   4,
          0xd0, 0,
          0,    0,
          0,    0,
          0};  // OPT
}

TEST(Slip, TruncatesToHeaderAndQuestion) {
  auto r = response_with_answer();
  const auto size = truncate_to_question(r);
  ASSERT_EQ(size, 12u + 7u + 4u);
  EXPECT_EQ(r[2] & 0x02, 0x02) << "TC set";
  EXPECT_EQ(r[2] & 0x84, 0x84) << "other flags kept";
  for (int i = 6; i < 12; ++i) EXPECT_EQ(r[static_cast<std::size_t>(i)], 0) << i;
  EXPECT_EQ(r[4], 0);
  EXPECT_EQ(r[5], 1) << "question kept";
}

TEST(Slip, RefusesWhatIsNotAResponseWithOneQuestion) {
  auto r = response_with_answer();
  r[2] &= 0x7f;  // a query
  EXPECT_EQ(truncate_to_question(r), 0u);
  r = response_with_answer();
  r[5] = 2;
  EXPECT_EQ(truncate_to_question(r), 0u);
  r = response_with_answer();
  // The question ends at byte 23: the last byte present is enough, one short is not.
  EXPECT_EQ(truncate_to_question(std::span(r).first(23)), 23u);
  r = response_with_answer();
  EXPECT_EQ(truncate_to_question(std::span(r).first(22)), 0u);
  r = response_with_answer();
  EXPECT_EQ(truncate_to_question(std::span(r).first(11)), 0u);
  r = response_with_answer();
  r[12] = 0xc0;  // a pointer where the question name starts
  EXPECT_EQ(truncate_to_question(r), 0u);
}

TEST(RrlKindOf, FromRcodeAndAnswerCount) {
  auto r = response_with_answer();
  EXPECT_EQ(rrl_kind(r), RrlKind::answer);
  r[7] = 0;  // NODATA
  EXPECT_EQ(rrl_kind(r), RrlKind::negative);
  r[3] = 3;  // NXDOMAIN
  EXPECT_EQ(rrl_kind(r), RrlKind::negative);
  r[3] = 5;  // REFUSED
  EXPECT_EQ(rrl_kind(r), RrlKind::error);
  EXPECT_EQ(rrl_kind(std::span(r).first(11)), RrlKind::error);
}

TEST(QuestionHash, LetterCaseDoesNotMakeANewKey) {
  EXPECT_EQ(question_hash(response_with_answer('a')), question_hash(response_with_answer('A')));
  EXPECT_NE(question_hash(response_with_answer('a')), question_hash(response_with_answer('b')));
}

}  // namespace
}  // namespace pweb::dns
