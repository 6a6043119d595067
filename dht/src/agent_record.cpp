#include "pweb/dht/agent_record.hpp"

#include <arpa/inet.h>

#include <msgpack.hpp>

#include "pweb/registrar/names.hpp"

namespace pweb::dht {
namespace {

bool valid_address(int family, const std::string& text) {
  std::array<std::uint8_t, 16> buf{};
  return inet_pton(family, text.c_str(), buf.data()) == 1;
}

// Reads one field; false if it has another type.
template <typename T>
bool read(const msgpack::object& o, T& out) {
  try {
    o.convert(out);
    return true;
  } catch (const msgpack::type_error&) {
    return false;
  }
}

}  // namespace

std::vector<std::uint8_t> encode(const AgentRecord& r) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  // Without a certificate the record is byte-identical to older versions'.
  pk.pack_map(r.cert.empty() ? 7 : 8);
  pk.pack(std::string("label"));
  pk.pack(r.label);
  pk.pack(std::string("v4"));
  pk.pack(r.ipv4);
  pk.pack(std::string("v6"));
  pk.pack(r.ipv6);
  pk.pack(std::string("gw"));
  pk.pack(r.gateway_port);
  pk.pack(std::string("http"));
  pk.pack(r.http_port);
  pk.pack(std::string("dns"));
  pk.pack(r.dns_port);
  pk.pack(std::string("updated"));
  pk.pack(r.updated);
  if (!r.cert.empty()) {
    pk.pack(std::string("cert"));
    pk.pack_bin(static_cast<std::uint32_t>(r.cert.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(r.cert.data()),
                     static_cast<std::uint32_t>(r.cert.size()));
  }
  return {reinterpret_cast<const std::uint8_t*>(buf.data()),
          reinterpret_cast<const std::uint8_t*>(buf.data()) + buf.size()};
}

DecodedRecord decode(std::span<const std::uint8_t> bytes) {
  DecodedRecord out;
  if (bytes.size() > kMaxRecordBytes) {
    out.error = "record of " + std::to_string(bytes.size()) + " bytes (at most " +
                std::to_string(kMaxRecordBytes) + ")";
    return out;
  }
  msgpack::object_handle oh;
  try {
    // Limits bound what a hostile record can make the unpacker allocate.
    const msgpack::unpack_limit limits(16, 16, 255, kMaxCertBytes, 0, 4);
    oh = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size(), nullptr,
                         nullptr, limits);
  } catch (const std::exception& e) {
    out.error = std::string("not msgpack: ") + e.what();
    return out;
  }
  const msgpack::object& root = oh.get();
  if (root.type != msgpack::type::MAP) {
    out.error = "record is not a map";
    return out;
  }
  AgentRecord r;
  bool has_label = false;
  for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
    const auto& kv = root.via.map.ptr[i];
    std::string key;
    if (!read(kv.key, key)) {
      out.error = "a key is not a string";
      return out;
    }
    bool ok = true;
    if (key == "label") {
      ok = read(kv.val, r.label);
      has_label = ok;
    } else if (key == "v4") {
      ok = read(kv.val, r.ipv4);
    } else if (key == "v6") {
      ok = read(kv.val, r.ipv6);
    } else if (key == "gw") {
      ok = read(kv.val, r.gateway_port);
    } else if (key == "http") {
      ok = read(kv.val, r.http_port);
    } else if (key == "dns") {
      ok = read(kv.val, r.dns_port);
    } else if (key == "updated") {
      ok = read(kv.val, r.updated);
    } else if (key == "cert") {
      ok = kv.val.type == msgpack::type::BIN && kv.val.via.bin.size > 0;
      if (ok) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(kv.val.via.bin.ptr);
        r.cert.assign(p, p + kv.val.via.bin.size);
      }
    }
    if (!ok) {
      out.error = "field '" + key + "' has the wrong type";
      return out;
    }
  }
  if (!has_label) {
    out.error = "no label";
    return out;
  }
  if (auto err = registrar::label_error(r.label)) {
    out.error = "agent " + *err;
    return out;
  }
  if (r.ipv4.size() > kMaxAddresses || r.ipv6.size() > kMaxAddresses) {
    out.error = "too many addresses";
    return out;
  }
  for (const auto& a : r.ipv4) {
    if (!valid_address(AF_INET, a)) {
      out.error = "'" + a + "' is not an IPv4 address";
      return out;
    }
  }
  for (const auto& a : r.ipv6) {
    if (!valid_address(AF_INET6, a)) {
      out.error = "'" + a + "' is not an IPv6 address";
      return out;
    }
  }
  if (r.gateway_port == 0) {
    out.error = "no gateway port";
    return out;
  }
  r.label = registrar::to_lower(r.label);
  out.record = std::move(r);
  return out;
}

}  // namespace pweb::dht
