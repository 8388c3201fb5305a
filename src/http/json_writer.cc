#include "http/json_writer.h"

#include "util/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace eddy {

void JsonWriter::Separator() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

JsonWriter& JsonWriter::BeginObject() {
  Separator();
  out_ += '{';
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Separator();
  out_ += '[';
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view k) {
  Separator();
  AppendEscaped(&out_, k);
  out_ += ':';
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view v) {
  Separator();
  AppendEscaped(&out_, v);
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t v) {
  Separator();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separator();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}
JsonWriter& JsonWriter::RawJson(std::string_view json) {
  Separator();
  out_.append(json);
  return *this;
}
JsonWriter& JsonWriter::Micros(int64_t v) {
  Separator();
  const bool negative = v < 0;
  // Magnitude as unsigned: INT64_MIN has no positive int64.
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (negative) out_ += '-';
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, m / 1'000'000).ptr);
  uint64_t frac = m % 1'000'000;
  if (frac != 0) {
    int digits = 6;
    while (frac % 10 == 0) {
      frac /= 10;
      --digits;
    }
    char f[8];
    const char* end = std::to_chars(f, f + sizeof f, frac).ptr;
    out_ += '.';
    out_.append(static_cast<size_t>(digits - (end - f)), '0');
    out_.append(f, static_cast<size_t>(end - f));
  }
  return *this;
}
JsonWriter& JsonWriter::Double(double v) {
  Separator();
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}
JsonWriter& JsonWriter::Bool(bool v) {
  Separator();
  out_ += v ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Separator();
  out_ += "null";
  return *this;
}

void JsonWriter::AppendEscaped(std::string* out, std::string_view s) { AppendJsonString(out, s); }

}  // namespace eddy
