// The module graph is checked (STYLE §3.3): every #include in src/, include/ and tools/load
// must follow an arrow of the table in docs/architecture.md ("## Module graph"). Changing
// the graph is a reviewed edit of that table, never an accident.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;

struct Graph {
  std::map<std::string, std::string> folder;             // module -> folder (repo-relative)
  std::map<std::string, std::set<std::string>> allowed;  // module -> what it may include
};

std::string Trim(std::string s) {
  const auto strip = [](char c) { return c == ' ' || c == '`' || c == '\t'; };
  while (!s.empty() && strip(s.front())) s.erase(s.begin());
  while (!s.empty() && strip(s.back())) s.pop_back();
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(Trim(part));
  return out;
}

// The rows "| module | folder | a, b, c |" of the table under "## Module graph".
Graph ParseGraph(const std::string& markdown) {
  Graph g;
  std::stringstream in(markdown);
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Module graph";
    if (!in_section || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells = Split(line, '|');
    // Split keeps the empty cell before the first '|'.
    if (cells.size() < 4 || cells[1] == "module" || cells[1].rfind("---", 0) == 0) continue;
    g.folder[cells[1]] = cells[2];
    std::set<std::string>& allowed = g.allowed[cells[1]];
    for (const std::string& m : Split(cells[3], ',')) {
      if (!m.empty() && m != "—") allowed.insert(m);
    }
  }
  return g;
}

// The module an include names: the first path component of a quoted include; for an
// angle include, the library of the few whose use the graph restricts ("" otherwise:
// the standard library and the system's headers are free to all).
std::string TargetOf(const std::string& path, bool angle) {
  const size_t slash = path.find('/');
  const std::string first = slash == std::string::npos ? path : path.substr(0, slash);
  if (!angle) return slash == std::string::npos ? "" : first;
  static const std::set<std::string> kLibraries = {"absl",  "boost",     "rocksdb",
                                                   "spdlog", "toml++",   "CLI",
                                                   "benchmark", "gtest", "prometheus",
                                                   "openssl", "nats"};
  if (kLibraries.contains(first) && slash != std::string::npos) return first;
  if (path == "simdjson.h") return "simdjson";
  if (path == "xxhash.h") return "xxhash";
  if (path == "jwt.h") return "jwt";
  return "";
}

struct SourceFile {
  std::string path;  // repo-relative
  std::string text;
};

// "file:line includes X: module A may not include module B" for each arrow the graph
// lacks, and for each file in no module's folder.
std::vector<std::string> Violations(const Graph& g, const std::vector<SourceFile>& files) {
  std::vector<std::string> out;
  for (const SourceFile& f : files) {
    std::string module;
    for (const auto& [m, folder] : g.folder) {
      if (f.path.rfind(folder + "/", 0) == 0) module = m;
    }
    if (module.empty()) {
      out.push_back(f.path + ": in no module of the graph");
      continue;
    }
    std::stringstream in(f.text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const std::string t = Trim(line);
      if (t.rfind("#include", 0) != 0) continue;
      const size_t open = t.find_first_of("\"<");
      if (open == std::string::npos) continue;
      const bool angle = t[open] == '<';
      const size_t close = t.find(angle ? '>' : '"', open + 1);
      if (close == std::string::npos) continue;
      const std::string path = t.substr(open + 1, close - open - 1);
      const std::string target = TargetOf(path, angle);
      if (target.empty() || target == module) continue;
      const auto it = g.allowed.find(module);
      if (it == g.allowed.end() || !it->second.contains(target)) {
        out.push_back(f.path + ":" + std::to_string(n) + " includes " + path + ": module " +
                      module + " may not include " + target);
      }
    }
  }
  return out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path kRoot = EDDY_SOURCE_DIR;

Graph TheGraph() { return ParseGraph(ReadFile(kRoot / "docs/architecture.md")); }

TEST(IncludeGraphTest, EveryIncludeFollowsAnArrowOfTheGraph) {
  const Graph g = TheGraph();
  ASSERT_GE(g.folder.size(), 10u) << "no module table under '## Module graph' in docs/architecture.md";
  std::vector<SourceFile> files;
  for (const char* dir : {"src", "include", "tools/load"}) {
    for (const auto& e : fs::recursive_directory_iterator(kRoot / dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      files.push_back({fs::relative(e.path(), kRoot).string(), ReadFile(e.path())});
    }
  }
  ASSERT_GT(files.size(), 50u);
  for (const std::string& v : Violations(g, files)) ADD_FAILURE() << v;
}

TEST(IncludeGraphTest, EverySourceFolderIsAModuleOfTheGraph) {
  const Graph g = TheGraph();
  std::set<std::string> folders;
  for (const auto& [m, folder] : g.folder) folders.insert(folder);
  for (const auto& e : fs::directory_iterator(kRoot / "src")) {
    if (!e.is_directory()) continue;
    const std::string folder = "src/" + e.path().filename().string();
    EXPECT_TRUE(folders.contains(folder)) << folder << " has no row in the module graph";
  }
}

// The check itself: an arrow the graph lacks is reported, with the file, line and modules.
TEST(IncludeGraphTest, AnArrowTheGraphLacksIsReported) {
  const Graph g = ParseGraph(
      "## Module graph\n\n| module | folder | may include |\n|---|---|---|\n"
      "| `util` | `src/util` | — |\n| `agg` | `src/agg` | util, absl |\n"
      "| `store` | `src/store` | util, rocksdb |\n\n## Next\n| `x` | `src/x` | agg |\n");
  EXPECT_EQ(g.folder.size(), 3u);  // the table ends with its section
  const std::vector<SourceFile> files = {
      {"src/agg/a.h",
       "#pragma once\n#include <vector>\n#include \"util/serial.h\"\n#include \"agg/b.h\"\n"
       "#include \"absl/container/flat_hash_map.h\"\n#include \"store/log_store.h\"\n"
       "#include <rocksdb/db.h>\n"},
      {"src/store/s.cc", "#include \"store/s.h\"\n#include <rocksdb/db.h>\n#include \"util/hash.h\"\n"},
      {"src/new/n.cc", "#include \"util/hash.h\"\n"},
  };
  EXPECT_EQ(Violations(g, files),
            (std::vector<std::string>{
                "src/agg/a.h:6 includes store/log_store.h: module agg may not include store",
                "src/agg/a.h:7 includes rocksdb/db.h: module agg may not include rocksdb",
                "src/new/n.cc: in no module of the graph"}));
}

}  // namespace
