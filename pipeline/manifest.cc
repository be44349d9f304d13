#include "pipeline/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/error.h"

namespace ds2::pipeline {
namespace fs = std::filesystem;

namespace {

std::string resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : base / q).lexically_normal().string();
}

// utt id: path relative to the manifest folder without extension, '/' -> '-'.
std::string utt_id_for(const fs::path& base, const std::string& resolved) {
  fs::path rel = fs::path(resolved).lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") rel = fs::path(resolved).relative_path();
  std::string s = rel.replace_extension().string();
  std::replace(s.begin(), s.end(), '/', '-');
  return s;
}

bool parse_duration(const std::string& s, double* d) {
  if (s.empty()) {
    *d = -1;
    return true;
  }
  try {
    size_t pos = 0;
    *d = std::stod(s, &pos);
    return pos == s.size() && *d >= 0;
  } catch (...) {
    return false;
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// RFC 4180 fields; returns false on an unterminated quote.
bool split_csv(const std::string& s, std::vector<std::string>* out) {
  out->clear();
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out->push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out->push_back(cur);
  return !quoted;
}

class Builder {
 public:
  Builder(Manifest* m, fs::path base) : m_(m), base_(std::move(base)) {}
  void reject(int64_t line, const std::string& path, const std::string& what) {
    m_->rejects.push_back({line, path, fmt::format("{}:{}: {}", m_->path, line, what)});
  }
  void add(int64_t line, const std::string& raw_path, double dur, const std::string& text,
           std::string utt_id = "") {
    if (raw_path.empty()) return reject(line, raw_path, "field 'path': empty");
    ManifestEntry e;
    e.line = line;
    e.path = resolve(base_, raw_path);
    e.duration = dur;
    e.transcript = text;
    e.utt_id = utt_id.empty() ? utt_id_for(base_, e.path) : utt_id;
    e.source = fmt::format("{}:{}", m_->path, line);
    auto [it, fresh] = first_line_.emplace(e.utt_id, line);
    if (!fresh)
      return reject(line, e.path,
                    fmt::format("duplicate utterance id '{}' (first at line {})", e.utt_id, it->second));
    m_->entries.push_back(std::move(e));
  }

 private:
  Manifest* m_;
  fs::path base_;
  std::unordered_map<std::string, int64_t> first_line_;
};

void read_lines(const std::string& path, Manifest* m, Builder* b) {
  std::ifstream in(path);
  DS2_REQUIRE(in, IoError, "{}: cannot open manifest", path);
  std::string line;
  int64_t lineno = 0;
  bool header_checked = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (m->format == "csv" && !header_checked) {
      header_checked = true;
      if (line.rfind("wav_filename", 0) == 0) continue;  // the DeepSpeech header
    }
    ++m->rows;
    if (m->format == "tsv") {
      auto f = split(line, '\t');
      double d;
      if (f.size() != 3)
        b->reject(lineno, f[0], fmt::format("expected 3 tab-separated fields (path, duration, "
                                            "transcript), found {}", f.size()));
      else if (!parse_duration(f[1], &d))
        b->reject(lineno, f[0], fmt::format("field 'duration': not a non-negative number: '{}'", f[1]));
      else
        b->add(lineno, f[0], d, f[2]);
    } else if (m->format == "csv") {
      std::vector<std::string> f;
      if (!split_csv(line, &f))
        b->reject(lineno, "", "unterminated quote");
      else if (f.size() != 3)
        b->reject(lineno, f[0], fmt::format("expected 3 comma-separated fields (wav_filename, "
                                            "wav_filesize, transcript), found {}", f.size()));
      else
        b->add(lineno, f[0], -1, f[2]);
    } else {  // jsonl
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        b->reject(lineno, "", fmt::format("malformed JSON: {}", e.what()));
        continue;
      }
      if (!j.is_object() || !j.contains("audio_filepath") || !j["audio_filepath"].is_string()) {
        b->reject(lineno, "", "field 'audio_filepath': missing or not a string");
      } else if (!j.contains("text") || !j["text"].is_string()) {
        b->reject(lineno, j["audio_filepath"], "field 'text': missing or not a string");
      } else if (j.contains("duration") && !j["duration"].is_null() &&
                 (!j["duration"].is_number() || j["duration"].get<double>() < 0)) {
        b->reject(lineno, j["audio_filepath"], "field 'duration': not a non-negative number");
      } else {
        double d = j.contains("duration") && j["duration"].is_number() ? j["duration"].get<double>() : -1;
        b->add(lineno, j["audio_filepath"], d, j["text"]);
      }
    }
  }
}

// LibriSpeech: <root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt with lines
// "<utt_id> <TRANSCRIPT>" and audio <utt_id>.flac beside it. Audio files without a transcript
// line are rows too (rejected), so nothing on disk is silently ignored.
void read_librispeech(const std::string& root, Manifest* m, Builder* b) {
  DS2_REQUIRE(fs::is_directory(root), IoError, "{}: not a directory", root);
  std::vector<fs::path> trans;
  std::map<std::string, fs::path> audio;  // utt id -> file, sorted
  for (const auto& de : fs::recursive_directory_iterator(root)) {
    if (!de.is_regular_file()) continue;
    std::string name = de.path().filename().string();
    if (name.size() > 10 && name.substr(name.size() - 10) == ".trans.txt") trans.push_back(de.path());
    else if (de.path().extension() == ".flac" || de.path().extension() == ".wav")
      audio[de.path().stem().string()] = de.path();
  }
  std::sort(trans.begin(), trans.end());
  int64_t ordinal = 0;
  for (const auto& t : trans) {
    std::ifstream in(t);
    DS2_REQUIRE(in, IoError, "{}: cannot open", t.string());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      ++ordinal;
      ++m->rows;
      size_t sp = line.find(' ');
      std::string id = line.substr(0, sp);
      std::string text = sp == std::string::npos ? "" : line.substr(sp + 1);
      auto it = audio.find(id);
      if (it == audio.end()) {
        b->reject(ordinal, (t.parent_path() / (id + ".flac")).string(),
                  fmt::format("{}: no audio file for '{}'", t.string(), id));
        continue;
      }
      b->add(ordinal, fs::relative(it->second, root).string(), -1, text, id);
      audio.erase(it);
    }
  }
  for (const auto& [id, p] : audio) {
    ++m->rows;
    b->reject(++ordinal, p.string(), "audio file has no line in any *.trans.txt");
  }
}

}  // namespace

Manifest read_manifest(const std::string& path, const std::string& format) {
  Manifest m;
  m.path = path;
  m.format = format;
  if (m.format == "auto") {
    std::string ext = fs::path(path).extension().string();
    if (fs::is_directory(path)) m.format = "librispeech";
    else if (ext == ".json" || ext == ".jsonl") m.format = "jsonl";
    else if (ext == ".csv") m.format = "csv";
    else if (ext == ".tsv" || ext == ".txt") m.format = "tsv";
    else DS2_THROW(ConfigError, "{}: cannot tell the manifest format from '{}'; use --format", path, ext);
  }
  fs::path base = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  if (base.empty()) base = ".";
  Builder b(&m, base);
  if (m.format == "librispeech") read_librispeech(path, &m, &b);
  else if (m.format == "tsv" || m.format == "csv" || m.format == "jsonl") read_lines(path, &m, &b);
  else DS2_THROW(ConfigError, "--format: unknown manifest format '{}' (tsv|jsonl|csv|librispeech)", m.format);
  return m;
}

}  // namespace ds2::pipeline
