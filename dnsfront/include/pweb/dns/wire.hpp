#pragma once
// Bounds-checked reader and writer over byte spans (after Knot's wire_ctx).
// A failed read or write sticks: later calls are no-ops returning zeros, and the
// caller checks ok() once at the end. No sockets, no logging, no allocation.
#include <cstddef>
#include <cstdint>
#include <span>

namespace pweb::dns {

class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> buf) noexcept : buf_(buf) {}

  std::uint8_t u8() noexcept;
  std::uint16_t u16() noexcept;
  std::uint32_t u32() noexcept;
  // A view of the next n bytes; empty (and failed) if fewer remain.
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept;
  void skip(std::size_t n) noexcept;
  // Moves to an absolute position within the buffer; past the end fails.
  void seek(std::size_t pos) noexcept;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  void fail() noexcept { ok_ = false; }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return ok_ ? buf_.size() - pos_ : 0; }
  [[nodiscard]] std::span<const std::uint8_t> buffer() const noexcept { return buf_; }

 private:
  [[nodiscard]] bool need(std::size_t n) noexcept;

  std::span<const std::uint8_t> buf_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class WireWriter {
 public:
  explicit WireWriter(std::span<std::uint8_t> buf) noexcept : buf_(buf), limit_(buf.size()) {}

  void u8(std::uint8_t v) noexcept;
  void u16(std::uint16_t v) noexcept;
  void u32(std::uint32_t v) noexcept;
  void bytes(std::span<const std::uint8_t> data) noexcept;
  // Overwrites two bytes already written (counts, RDLENGTH); outside the written part fails.
  void patch_u16(std::size_t at, std::uint16_t v) noexcept;

  // Writes may not go beyond `limit` (clamped to the buffer), e.g. a client's UDP size.
  void set_limit(std::size_t limit) noexcept;
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
  // Forgets everything after `pos` and clears a failure: used to drop records that
  // did not fit and mark the answer truncated.
  void rollback(std::size_t pos) noexcept;
  // Takes the first `pos` bytes of the buffer as written (by another writer,
  // e.g. a response that gets a TSIG RR appended); past the limit fails.
  void resume_at(std::size_t pos) noexcept;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::span<const std::uint8_t> written() const noexcept {
    return {buf_.data(), pos_};
  }

 private:
  [[nodiscard]] bool room(std::size_t n) noexcept;

  std::span<std::uint8_t> buf_;
  std::size_t limit_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace pweb::dns
