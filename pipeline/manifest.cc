// read_manifest() (manifest.h): TSV, JSON lines, CSV (core/csv.h) and LibriSpeech trees read into
// rows; the Builder then names them (utt_id.h), rejects invalid and colliding ids, and every row
// ends as an entry or a reject naming its file and line.
#include "pipeline/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/csv.h"
#include "core/error.h"
#include "pipeline/utt_id.h"

namespace ds2::pipeline {
namespace fs = std::filesystem;

namespace {

std::string resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : base / q).lexically_normal().string();
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

// Collects rows, then names them: derived ids (utt_id.h), id checks and collisions need the
// whole manifest, so entries are made in finish().
class Builder {
 public:
  Builder(Manifest* m, fs::path base) : m_(m), base_(std::move(base)) {}
  // `what` names its own "file:line" for a tree (whose rows are numbered across files).
  void reject(int64_t line, const std::string& path, const std::string& what) {
    m_->rejects.push_back(
        {line, path,
         m_->format == "librispeech" ? what : fmt::format("{}:{}: {}", m_->path, line, what)});
  }
  // `utt_id` empty: derived from the path. `source` empty: "manifest:line".
  void add(int64_t line, const std::string& raw_path, double dur, const std::string& text,
           const std::string& utt_id = "", const std::string& source = "") {
    if (raw_path.empty()) return reject(line, raw_path, "field 'path': empty");
    if (raw_path.find('\0') != std::string::npos)
      return reject(line, printable(raw_path), "field 'path': holds a NUL byte");
    ManifestEntry e;
    e.line = line;
    e.path = resolve(base_, raw_path);
    e.duration = dur;
    e.transcript = text;
    e.utt_id = utt_id;
    e.source = source.empty() ? fmt::format("{}:{}", m_->path, line) : source;
    rows_.push_back(std::move(e));
  }
  void finish();

 private:
  void reject_entry(const ManifestEntry& e, const std::string& what) {
    m_->rejects.push_back({e.line, e.path, fmt::format("{}: {}", e.source, what)});
  }
  Manifest* m_;
  fs::path base_;
  std::vector<ManifestEntry> rows_;
};

void Builder::finish() {
  std::vector<std::string> paths;
  std::vector<size_t> derived;
  std::vector<bool> given(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) given[i] = !rows_[i].utt_id.empty();
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].utt_id.empty()) {
      derived.push_back(i);
      paths.push_back(rows_[i].path);
    }
  if (!derived.empty()) {
    DerivedIds d = derive_utt_ids(paths, base_.string());
    for (size_t k = 0; k < derived.size(); ++k) rows_[derived[k]].utt_id = std::move(d.ids[k]);
    m_->id_rule = d.rule;
  } else {
    m_->id_rule = "ids given by the manifest";
  }
  // Valid ids, grouped: id -> rows, in line order.
  // (Sorted row numbers, not a hash map of id -> rows: 8 bytes per row on a manifest of millions.)
  std::vector<bool> ok(rows_.size(), false);
  std::vector<size_t> valid;
  for (size_t i = 0; i < rows_.size(); ++i) {
    const ManifestEntry& e = rows_[i];
    const std::string why = utt_id_problem(e.utt_id);
    if (!why.empty()) {
      reject_entry(e, fmt::format("utterance id '{}' {}{}", printable(e.utt_id), why,
                                  given[i] ? "" : "; rename the file or give the row an id"));
      continue;
    }
    ok[i] = true;
    valid.push_back(i);
  }
  std::stable_sort(valid.begin(), valid.end(),
                   [&](size_t a, size_t b) { return rows_[a].utt_id < rows_[b].utt_id; });
  for (size_t g0 = 0, g1 = 0; g0 < valid.size(); g0 = g1) {
    g1 = g0 + 1;
    while (g1 < valid.size() && rows_[valid[g1]].utt_id == rows_[valid[g0]].utt_id) ++g1;
    if (g1 - g0 < 2) continue;
    const std::vector<size_t> group(valid.begin() + static_cast<std::ptrdiff_t>(g0),
                                    valid.begin() + static_cast<std::ptrdiff_t>(g1));
    const std::string id = rows_[group[0]].utt_id;
    const ManifestEntry& first = rows_[group[0]];
    const bool same_file = std::all_of(group.begin(), group.end(),
                                       [&](size_t i) { return rows_[i].path == first.path; });
    for (size_t k = 0; k < group.size(); ++k) {
      ManifestEntry& e = rows_[group[k]];
      if (same_file) {
        if (k == 0) continue;
        reject_entry(e, fmt::format("duplicate utterance id '{}': the same audio as line {}, "
                                    "which is kept",
                                    id, first.line));
      } else {
        std::string others;
        int named = 0;
        for (size_t j : group) {
          if (j == group[k]) continue;
          if (++named > 3) {
            others += fmt::format(", ... ({} rows in all)", group.size());
            break;
          }
          others += fmt::format("{}line {} ({})", named > 1 ? ", " : "", rows_[j].line,
                                printable(rows_[j].path));
        }
        reject_entry(e, fmt::format("utterance id '{}' collides with {}: different audio, same "
                                    "id; every such row is rejected (give the rows ids)",
                                    id, others));
      }
      ok[group[k]] = false;
    }
  }
  for (size_t i = 0; i < rows_.size(); ++i)
    if (ok[i]) m_->entries.push_back(std::move(rows_[i]));
  std::stable_sort(m_->rejects.begin(), m_->rejects.end(),
                   [](const Reject& a, const Reject& b) { return a.line < b.line; });
}

// DeepSpeech CSV (RFC 4180, core/csv.h): a quoted transcript may hold commas, quotes and line
// breaks; a record is numbered by the line it starts on.
void read_csv(std::istream& in, Manifest* m, Builder* b) {
  CsvReader reader(in);
  bool header_checked = false;
  for (CsvRecord r; reader.next(&r);) {
    if (r.blank) continue;
    const std::vector<std::string>& f = r.fields;
    if (!header_checked) {
      header_checked = true;
      if (!f.empty() && f[0].rfind("wav_filename", 0) == 0) continue;  // the DeepSpeech header
    }
    ++m->rows;
    if (!r.error.empty())
      b->reject(r.line, "", r.error);
    else if (f.size() != 3 && f.size() != 4)
      b->reject(r.line, f[0],
                fmt::format("expected 3 comma-separated fields (wav_filename, "
                            "wav_filesize, transcript) or 4 (..., utt_id), "
                            "found {}",
                            f.size()));
    else
      b->add(r.line, f[0], -1, f[2], f.size() == 4 ? f[3] : "");
  }
}

void read_lines(const std::string& path, Manifest* m, Builder* b) {
  std::ifstream in(path);
  DS2_REQUIRE(in, IoError, "{}: cannot open manifest", path);
  if (m->format == "csv") return read_csv(in, m, b);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++m->rows;
    if (m->format == "tsv") {
      auto f = split(line, '\t');
      double d;
      if (f.size() != 3 && f.size() != 4)
        b->reject(lineno, f[0],
                  fmt::format("expected 3 tab-separated fields (path, duration, "
                              "transcript) or 4 (..., utt_id), found {}",
                              f.size()));
      else if (!parse_duration(f[1], &d))
        b->reject(
            lineno, f[0],
            fmt::format("field 'duration': not a non-negative number: '{}'", printable(f[1])));
      else
        b->add(lineno, f[0], d, f[2], f.size() == 4 ? f[3] : "");
    } else {  // jsonl
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        b->reject(lineno, "", fmt::format("malformed JSON: {}", e.what()));
        continue;
      }
      auto absent = [&](const char* key) { return !j.contains(key) || j[key].is_null(); };
      if (!j.is_object() || !j.contains("audio_filepath") || !j["audio_filepath"].is_string()) {
        b->reject(lineno, "", "field 'audio_filepath': missing or not a string");
        continue;
      }
      const std::string audio = j["audio_filepath"].get<std::string>();
      if (!j.contains("text") || !j["text"].is_string()) {
        b->reject(lineno, audio, "field 'text': missing or not a string");
      } else if (!absent("duration") &&
                 (!j["duration"].is_number() || !(j["duration"].get<double>() >= 0))) {
        b->reject(lineno, audio, "field 'duration': not a non-negative number");
      } else if (!absent("utt_id") && !j["utt_id"].is_string()) {
        b->reject(lineno, audio, "field 'utt_id': not a string");
      } else {
        const double d = absent("duration") ? -1 : j["duration"].get<double>();
        b->add(lineno, audio, d, j["text"].get<std::string>(),
               absent("utt_id") ? "" : j["utt_id"].get<std::string>());
      }
    }
  }
}

// LibriSpeech: <root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt with lines
// "<utt_id> <TRANSCRIPT>" and audio <utt_id>.flac (or .wav) anywhere under root. Rows are
// numbered across the sorted *.trans.txt files; messages name "FILE.trans.txt:LINE". Audio files
// without a transcript line are rows too (rejected), so nothing on disk is silently ignored.
void read_librispeech(const std::string& root, Manifest* m, Builder* b) {
  DS2_REQUIRE(fs::is_directory(root), IoError, "{}: not a directory", root);
  std::vector<fs::path> trans;
  std::map<std::string, std::vector<fs::path>> audio;  // utt id -> files, sorted
  for (const auto& de : fs::recursive_directory_iterator(root)) {
    if (!de.is_regular_file()) continue;
    std::string name = de.path().filename().string();
    if (name.size() > 10 && name.substr(name.size() - 10) == ".trans.txt")
      trans.push_back(de.path());
    else if (de.path().extension() == ".flac" || de.path().extension() == ".wav")
      audio[de.path().stem().string()].push_back(de.path());
  }
  std::sort(trans.begin(), trans.end());
  for (auto& [id, files] : audio) std::sort(files.begin(), files.end());
  std::unordered_map<std::string, std::string> used;  // utt id -> "file:line" that took it
  int64_t ordinal = 0;
  for (const auto& t : trans) {
    std::ifstream in(t);
    DS2_REQUIRE(in, IoError, "{}: cannot open", t.string());
    std::string line;
    int64_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      ++ordinal;
      ++m->rows;
      const std::string where = fmt::format("{}:{}", t.string(), lineno);
      size_t sp = line.find(' ');
      std::string id = line.substr(0, sp);
      std::string text = sp == std::string::npos ? "" : line.substr(sp + 1);
      auto it = audio.find(id);
      auto u = used.find(id);
      if (u != used.end()) {
        b->reject(ordinal, (t.parent_path() / id).string(),
                  fmt::format("{}: duplicate utterance id '{}' (first at {})", where, printable(id),
                              u->second));
      } else if (it == audio.end()) {
        b->reject(ordinal, (t.parent_path() / (id + ".flac")).string(),
                  fmt::format("{}: no audio file for '{}'", where, printable(id)));
      } else if (it->second.size() > 1) {
        std::string files;
        for (const auto& p : it->second) files += (files.empty() ? "" : ", ") + p.string();
        b->reject(ordinal, it->second[0].string(),
                  fmt::format("{}: utterance id '{}' names {} audio files ({}); every one is "
                              "rejected",
                              where, printable(id), it->second.size(), files));
        audio.erase(it);
      } else {
        b->add(ordinal, fs::relative(it->second[0], root).string(), -1, text, id, where);
        audio.erase(it);
      }
      used.emplace(id, where);
    }
  }
  for (const auto& [id, files] : audio)
    for (const auto& p : files) {
      ++m->rows;
      b->reject(++ordinal, p.string(),
                fmt::format("{}: audio file has no line in any *.trans.txt", p.string()));
    }
}

}  // namespace

Manifest read_manifest(const std::string& path, const std::string& format) {
  Manifest m;
  m.path = path;
  m.format = format;
  if (m.format == "auto") {
    std::string ext = fs::path(path).extension().string();
    if (fs::is_directory(path))
      m.format = "librispeech";
    else if (ext == ".json" || ext == ".jsonl")
      m.format = "jsonl";
    else if (ext == ".csv")
      m.format = "csv";
    else if (ext == ".tsv" || ext == ".txt")
      m.format = "tsv";
    else
      DS2_THROW(ConfigError, "{}: cannot tell the manifest format from '{}'; use --format", path,
                ext);
  }
  fs::path base = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  if (base.empty()) base = ".";
  Builder b(&m, base);
  if (m.format == "librispeech")
    read_librispeech(path, &m, &b);
  else if (m.format == "tsv" || m.format == "csv" || m.format == "jsonl")
    read_lines(path, &m, &b);
  else
    DS2_THROW(ConfigError, "--format: unknown manifest format '{}' (tsv|jsonl|csv|librispeech)",
              m.format);
  b.finish();
  return m;
}

}  // namespace ds2::pipeline
