#pragma once
// SerialWriter / SerialReader: the binary encoding of checkpoints (aggregate state) and of
// stored events. Integers are varints (signed ones zigzag), or a single byte (U8), or 8
// bytes little-endian (Fixed64); doubles their 8 IEEE bytes little-endian (so a restored
// sum is bit-identical); strings a varint length and the bytes.
//
// The reader never reads past its input and never allocates from an untrusted count
// without checking it against the bytes left (Count()); any malformed input makes ok()
// false from then on and every later read returns zeros, so a loader checks ok() once at
// the end. (Checkpoints carry a checksum too; this is the second line of defence.)
//
// Thread-safety: value types, one thread each.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace eddy {

class SerialWriter {
 public:
  explicit SerialWriter(std::string* out) : out_(out) {}
  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Fixed64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_->append(b, 8);
  }
  void F64(double v) { Fixed64(std::bit_cast<uint64_t>(v)); }
  void Bytes(std::string_view s) {
    U64(s.size());
    out_->append(s);
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

// The ids of a checkpoint written with other interners (another node's, cluster mode):
// per kind of id (Interners::Kind), the id written -> this engine's id for the same string.
struct IdRemap {
  std::vector<std::unordered_map<uint32_t, uint32_t>> kinds;
};

class SerialReader {
 public:
  explicit SerialReader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
  // `in` read with `like`'s id translation (a section of a checkpoint).
  SerialReader(std::string_view in, const SerialReader& like) : SerialReader(in) { remap_ = like.remap_; }

  // Ids read with Id() are translated through `remap` (null: read as written); it must
  // outlive the reader.
  void set_remap(const IdRemap* remap) { remap_ = remap; }
  bool translating() const { return remap_ != nullptr; }
  // An interned id of `kind` (Interners::Kind), translated when a remap is set; an id the
  // remap does not know fails the reader (its state forgot to mark it: State::VisitIds).
  // 0 is no id in every kind, and stays 0.
  uint32_t Id(size_t kind) { return Translate(kind, U32()); }
  // The same for an id read otherwise (packed into a wider key).
  uint32_t Translate(size_t kind, uint32_t v) {
    if (remap_ == nullptr || v == 0 || !ok_) return v;
    if (kind >= remap_->kinds.size()) return static_cast<uint32_t>(Fail());
    const auto it = remap_->kinds[kind].find(v);
    return it == remap_->kinds[kind].end() ? static_cast<uint32_t>(Fail()) : it->second;
  }
  uint64_t U64() {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      const uint8_t b = static_cast<uint8_t>(*p_++);
      r |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return r;
    }
    return Fail();
  }
  uint32_t U32() {
    const uint64_t v = U64();
    return v > UINT32_MAX ? static_cast<uint32_t>(Fail()) : static_cast<uint32_t>(v);
  }
  int64_t I64() {
    const uint64_t v = U64();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  uint8_t U8() {
    if (p_ == end_) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(*p_++);
  }
  uint64_t Fixed64() {
    if (end_ - p_ < 8) return Fail();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p_[i])} << (8 * i);
    p_ += 8;
    return v;
  }
  double F64() { return std::bit_cast<double>(Fixed64()); }
  std::string_view Bytes() {
    const uint64_t n = U64();
    if (n > static_cast<uint64_t>(end_ - p_)) {
      Fail();
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  // A count of elements that take at least `min_bytes` each: 0 (and failure) when the
  // input cannot hold that many.
  uint64_t Count(uint64_t min_bytes = 1) {
    const uint64_t n = U64();
    if (n > static_cast<uint64_t>(end_ - p_) / std::max<uint64_t>(min_bytes, 1)) return Fail();
    return n;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && p_ == end_; }
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
  const IdRemap* remap_ = nullptr;
};

}  // namespace eddy
