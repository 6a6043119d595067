#pragma once
// Builds queries and decodes responses for unit tests, on top of the wire codec.
#include <cstdint>
#include <string>
#include <vector>

#include "pweb/dns/message.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns::testutil {

struct QuerySpec {
  std::string name = "laptop.alice.uw.dht.";
  std::uint16_t qtype = type::A;
  std::uint16_t qclass = cls::IN;
  std::uint16_t id = 0x1234;
  std::uint16_t flags = flag::RD;
  bool edns = false;
  std::uint16_t udp_size = 1232;
  std::uint8_t edns_version = 0;
  std::uint16_t edns_flags = 0;
  std::vector<std::uint8_t> edns_options;  // raw option bytes
};

inline std::vector<std::uint8_t> build_query(const QuerySpec& s) {
  std::vector<std::uint8_t> buf(4096);
  WireWriter w(buf);
  w.u16(s.id);
  w.u16(s.flags);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(s.edns ? 1 : 0);
  Name n;
  if (!name_from_text(s.name, n)) return {};
  w.bytes(n.bytes());
  w.u16(s.qtype);
  w.u16(s.qclass);
  if (s.edns) {
    w.u8(0);
    w.u16(type::OPT);
    w.u16(s.udp_size);
    w.u32((std::uint32_t{s.edns_version} << 16) | s.edns_flags);
    w.u16(static_cast<std::uint16_t>(s.edns_options.size()));
    w.bytes(s.edns_options);
  }
  buf.resize(w.pos());
  return buf;
}

struct Record {
  std::string name;
  std::uint16_t rtype = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> rdata;
  std::string target;  // NS target or SOA mname, decompressed
};

struct Decoded {
  bool ok = false;
  Header header;
  std::string qname;
  std::uint16_t qtype = 0;
  std::vector<Record> answer, authority, additional;
  [[nodiscard]] std::uint16_t rcode() const { return header.flags & 0xF; }
  [[nodiscard]] bool has(std::uint16_t f) const { return (header.flags & f) != 0; }
};

inline Decoded decode(std::span<const std::uint8_t> msg) {
  Decoded d;
  WireReader r(msg);
  d.header.id = r.u16();
  d.header.flags = r.u16();
  d.header.qdcount = r.u16();
  d.header.ancount = r.u16();
  d.header.nscount = r.u16();
  d.header.arcount = r.u16();
  for (int i = 0; i < d.header.qdcount; ++i) {
    Name n;
    if (!read_name(r, n)) return d;
    d.qname = name_to_text(n);
    d.qtype = r.u16();
    r.u16();
  }
  auto section = [&](int count, std::vector<Record>& out) {
    for (int i = 0; i < count; ++i) {
      Record rec;
      Name n;
      if (!read_name(r, n)) return false;
      rec.name = name_to_text(n);
      rec.rtype = r.u16();
      rec.rclass = r.u16();
      rec.ttl = r.u32();
      const auto len = r.u16();
      const auto start = r.pos();
      if (rec.rtype == type::NS || rec.rtype == type::SOA) {
        Name t;
        if (!read_name(r, t)) return false;
        rec.target = name_to_text(t);
        r.seek(start);
      }
      auto data = r.bytes(len);
      rec.rdata.assign(data.begin(), data.end());
      if (!r.ok()) return false;
      out.push_back(rec);
    }
    return true;
  };
  d.ok = section(d.header.ancount, d.answer) && section(d.header.nscount, d.authority) &&
         section(d.header.arcount, d.additional) && r.ok() && r.remaining() == 0;
  return d;
}

}  // namespace pweb::dns::testutil
