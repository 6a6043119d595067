#include "pweb/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace pweb::metrics {
namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  out.append(buf, r.ptr);
}

// Label values escape backslash, double quote and newline; HELP text the same but quotes.
void append_escaped(std::string& out, std::string_view s, bool quotes) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void TextWriter::labels(std::initializer_list<Label> labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    append_escaped(out_, v, true);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void TextWriter::sample(std::string_view name, std::initializer_list<Label> l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  append_number(out_, value);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, std::initializer_list<Label> l,
                        std::uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void TextWriter::histogram(std::string_view name, std::initializer_list<Label> l,
                           const HistogramData& data) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    cumulative += data.buckets[i];
    std::string le;
    append_number(le, kLatencyBounds[i]);
    out_ += bucket;
    labels(l, le);
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  cumulative += data.buckets.back();
  // +Inf must equal _count; a race with a writer may leave them one apart, take the larger.
  const std::uint64_t total = std::max(cumulative, data.count);
  out_ += bucket;
  labels(l, "+Inf");
  out_ += ' ';
  out_ += std::to_string(total);
  out_ += '\n';
  sample(std::string(name) + "_sum", l, static_cast<double>(data.sum_ns) / 1e9);
  sample(std::string(name) + "_count", l, total);
}

}  // namespace pweb::metrics
