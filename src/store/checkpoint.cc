#include "store/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/file.h"
#include "util/serial.h"

namespace eddy {
namespace {

constexpr char kMagic[8] = {'E', 'D', 'D', 'Y', 'C', 'K', 'P', 'T'};
constexpr size_t kHeader = 8 + 4 + 8 + 4;
constexpr char kPrefix[] = "checkpoint-";

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t Crc32cSoftware(uint32_t crc, const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = MakeTable();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  crc = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) crc = __builtin_ia32_crc32qi(crc, *p);
  return crc;
}
#endif

void PutLe(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

uint64_t SequenceOf(const std::string& name) {
  return std::strtoull(name.c_str() + sizeof(kPrefix) - 1, nullptr, 10);
}

}  // namespace

uint32_t Crc32c(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return ~Crc32cHardware(~0u, p, n);
#endif
  return ~Crc32cSoftware(~0u, p, n);
}

Status WriteCheckpoint(const std::string& dir, const Checkpoint& cp, uint64_t* bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("checkpoint dir " + dir + ": " + ec.message());
  std::string payload;
  SerialWriter w(&payload);
  w.U64(cp.sequence);
  w.I64(cp.created_ms);
  w.U64(cp.config_fingerprint);
  w.I64(cp.newest_event_ms);
  w.U64(cp.offsets.size());
  for (uint64_t o : cp.offsets) w.U64(o);
  w.Bytes(cp.interners);
  w.U64(cp.shards.size());
  for (const std::string& s : cp.shards) w.Bytes(s);
  w.Bytes(cp.ingest);
  std::string file(kMagic, sizeof(kMagic));
  PutLe(kCheckpointFormatVersion, 4, &file);
  PutLe(payload.size(), 8, &file);
  PutLe(Crc32c(payload.data(), payload.size()), 4, &file);
  char name[64];
  std::snprintf(name, sizeof(name), "%s%020llu", kPrefix,
                static_cast<unsigned long long>(cp.sequence));
  const std::string path = dir + "/" + name;
  if (Status st = WriteFileDurably(path, {file, payload}); !st.ok()) return st;
  *bytes = file.size() + payload.size();
  return Status::Ok();
}

Result<Checkpoint> ReadCheckpoint(const std::string& path) {
  std::string data;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IoError("open " + path + ": " + std::strerror(errno));
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return Status::IoError("read " + path + ": " + std::strerror(err));
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
  }
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption(path + ": not a checkpoint (bad magic or shorter than its header)");
  }
  const uint32_t version = static_cast<uint32_t>(GetLe(data.data() + 8, 4));
  if (version != kCheckpointFormatVersion && version != 4) {
    return Status::Corruption(path + ": checkpoint format version " + std::to_string(version) +
                              "; this eddy reads " + std::to_string(kCheckpointFormatVersion));
  }
  const uint64_t length = GetLe(data.data() + 12, 8);
  if (length != data.size() - kHeader) {
    return Status::Corruption(path + ": truncated or padded (header says " +
                              std::to_string(length) + " payload bytes, file has " +
                              std::to_string(data.size() - kHeader) + ")");
  }
  const uint32_t crc = static_cast<uint32_t>(GetLe(data.data() + 20, 4));
  if (Crc32c(data.data() + kHeader, length) != crc) {
    return Status::Corruption(path + ": checksum mismatch (the file is damaged)");
  }
  SerialReader r(std::string_view(data).substr(kHeader));
  Checkpoint cp;
  cp.sequence = r.U64();
  cp.created_ms = r.I64();
  cp.config_fingerprint = r.U64();
  cp.newest_event_ms = r.I64();
  cp.offsets.resize(r.Count(1));
  for (uint64_t& o : cp.offsets) o = r.U64();
  cp.interners = std::string(r.Bytes());
  cp.shards.resize(r.Count(1));
  for (std::string& s : cp.shards) s = std::string(r.Bytes());
  if (version >= 5) cp.ingest = std::string(r.Bytes());
  if (!r.done()) return Status::Corruption(path + ": malformed payload");
  return cp;
}

std::vector<std::string> ListCheckpoints(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() != sizeof(kPrefix) - 1 + 20) continue;
    found.emplace_back(SequenceOf(name), e.path().string());
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> out;
  for (auto& [seq, path] : found) out.push_back(std::move(path));
  return out;
}

uint64_t CheckpointSequenceOf(const std::string& path) {
  return SequenceOf(std::filesystem::path(path).filename().string());
}

void PruneCheckpoints(const std::string& dir, size_t keep) {
  const std::vector<std::string> all = ListCheckpoints(dir);
  std::error_code ec;
  for (size_t i = keep; i < all.size(); ++i) std::filesystem::remove(all[i], ec);
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".tmp") std::filesystem::remove(e.path(), ec);
  }
}

}  // namespace eddy
