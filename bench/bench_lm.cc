// Word LMs at scale: ArpaLm (the reference, hash tables) vs the compiled, memory-mapped ds2-lm
// form (decode/compiled_lm.h) on the same synthetic ARPA, in the same run. Per size:
//   ArpaLm    load time, peak RSS and RSS after loading per n-gram, ns per score
//   compile   `ds2 lm compile` time (compile_arpa_lm) and its peak RSS per n-gram
//   compiled  bytes per n-gram on disk, open time, RSS after open, RSS per n-gram once every page
//             is touched, ns per score on the first pass (pages mapped on demand from the page
//             cache: the file was just written) and warm, x ArpaLm; the vocabulary trie's build
//             time (first vocabulary_trie(), for partial-word scoring); the proportional set
//             size (PSS) per n-gram while a second process maps and touches the same file (the
//             ranks of a node share the page cache: each is charged about half)
//   check     both forms' scores of every query hashed bit by bit: "same" or a failure (exit 1)
// Each measurement runs in a forked child (peak RSS reset through /proc/self/clear_refs), so one
// phase's memory does not hide another's.
//
//   bench_lm [--ngrams 1000000,10000000] [--order 5] [--queries 1000000] [--dir DIR] [--keep]
//            [--csv] [--no-check] [--kenlm-build-binary PATH]
// --kenlm-build-binary: also run KenLM's `build_binary trie` on the same ARPA and print its bytes
// per n-gram (KenLM is not part of ds2; build it outside the project).
//
// Synthetic model: V = clamp(N / 40, 2000, 400000) words "w<base36 id>" (+ <s> </s> <unk>);
// the other n-grams split 25/30/25/20% over orders 2..5 (rescaled for --order). An n-gram of
// order n prepends a Zipf-distributed word to a listed (n-1)-gram, so every suffix is listed
// as in a Kneser-Ney model; log10 probabilities in [-6, -0.1] and back-offs in [-1.5, 0] with 6
// decimals; then every context is made a listed n-gram too (prefix closure; a few % more
// n-grams than N at the middle orders). Queries: half a listed n-gram of a random order as
// (context, word) with random older words in front (deep hits, short back-off), half Zipf words at
// random (back-off chains), each with a 4-word context.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "core/rng.h"
#include "core/timer.h"
#include "decode/arpa_lm.h"
#include "decode/compiled_lm.h"
#include "tests/testutil.h"

namespace {

using namespace ds2;

// kB fields of /proc/self/status ("VmRSS", "VmHWM"), in bytes.
double status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return 1024.0 * std::atof(line.c_str() + key.size());
  return -1;
}

// Proportional set size of this process's mappings of `path` (/proc/self/smaps), in bytes.
double mapping_pss(const std::string& path) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool ours = false;
  double sum = 0;
  while (std::getline(in, line)) {
    const size_t dash = line.find('-');
    if (dash != std::string::npos && dash > 0 && line.find(' ') > dash &&
        std::isxdigit(static_cast<unsigned char>(line[0])))  // a mapping's header line
      ours = line.size() >= path.size() &&
             line.compare(line.size() - path.size(), path.size(), path) == 0;
    else if (ours && line.rfind("Pss:", 0) == 0)
      sum += 1024.0 * std::atof(line.c_str() + 4);
  }
  return sum;
}

void reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

struct Model {
  int order = 5;
  int32_t v = 0;
  std::vector<std::vector<int32_t>> grams;  // grams[n]: packed n ids per entry
  int64_t total = 0;
};

std::string word_name(int32_t id) {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s += digits[id % 36];
    id /= 36;
  } while (id > 0);
  return "w" + s;
}

// Zipf(1) over [0, n) by inverse transform of the continuous approximation.
struct Zipf {
  double log_n;
  explicit Zipf(int n) : log_n(std::log(static_cast<double>(n) + 1)) {}
  int32_t operator()(std::mt19937_64& rng, int n) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return std::min<int32_t>(n - 1, static_cast<int32_t>(std::exp(u * log_n) - 1));
  }
};

// The rows of `flat` (n ids each), sorted and without duplicates.
std::vector<int32_t> sorted_rows(const std::vector<int32_t>& flat, int n) {
  const int64_t rows = static_cast<int64_t>(flat.size()) / n;
  std::vector<int64_t> idx(static_cast<size_t>(rows));
  for (int64_t c = 0; c < rows; ++c) idx[c] = c;
  auto row = [&](int64_t c) { return &flat[static_cast<size_t>(c) * n]; };
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(row(a), row(a) + n, row(b), row(b) + n);
  });
  std::vector<int32_t> out;
  out.reserve(flat.size());
  for (size_t i = 0; i < idx.size(); ++i)
    if (i == 0 || !std::equal(row(idx[i]), row(idx[i]) + n, row(idx[i - 1])))
      out.insert(out.end(), row(idx[i]), row(idx[i]) + n);
  return out;
}

Model make_model(int64_t n_total, int order, uint64_t seed) {
  Model m;
  m.order = order;
  m.v = static_cast<int32_t>(std::clamp<int64_t>(n_total / 40, 2000, 400000));
  m.grams.resize(order + 1);
  const int32_t v = m.v + 3;  // + <s> </s> <unk> as ids v-3, v-2, v-1
  for (int32_t i = 0; i < v; ++i) m.grams[1].push_back(i);
  const double share[] = {0, 0, 0.25, 0.30, 0.25, 0.20};
  double share_sum = 0;
  for (int n = 2; n <= order; ++n) share_sum += n <= 5 ? share[n] : 0.2;
  std::mt19937_64 rng(seed);
  Zipf zipf(m.v);
  for (int n = 2; n <= order; ++n) {
    // A third of the share: the prefix closure below about triples the orders 2..N-1.
    const double closure = n < order ? 0.35 : 1.0;
    const int64_t want = static_cast<int64_t>(closure * static_cast<double>(n_total - v) *
                                              (n <= 5 ? share[n] : 0.2) / share_sum);
    const std::vector<int32_t>& lower = m.grams[n - 1];
    const int64_t lower_n = static_cast<int64_t>(lower.size()) / (n - 1);
    // Candidates with duplicates, then sort + unique (as rows), shuffle, keep `want`.
    std::vector<int32_t> flat;
    const int64_t cand = want + want / 8 + 16;
    flat.reserve(static_cast<size_t>(cand) * n);
    for (int64_t c = 0; c < cand; ++c) {
      const int64_t s = static_cast<int64_t>(rng() % static_cast<uint64_t>(lower_n));
      int32_t w = zipf(rng, m.v);
      if (n == 2 && rng() % 8 == 0) w = m.v;  // some <s> contexts
      flat.push_back(w);
      for (int i = 0; i < n - 1; ++i) flat.push_back(lower[s * (n - 1) + i]);
    }
    std::vector<int64_t> idx(static_cast<size_t>(cand));
    for (int64_t c = 0; c < cand; ++c) idx[c] = c;
    auto row = [&](int64_t c) { return &flat[static_cast<size_t>(c) * n]; };
    std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
      return std::lexicographical_compare(row(a), row(a) + n, row(b), row(b) + n);
    });
    idx.erase(
        std::unique(idx.begin(), idx.end(),
                    [&](int64_t a, int64_t b) { return std::equal(row(a), row(a) + n, row(b)); }),
        idx.end());
    std::shuffle(idx.begin(), idx.end(), rng);
    if (static_cast<int64_t>(idx.size()) > want) idx.resize(static_cast<size_t>(want));
    std::vector<int32_t>& out = m.grams[n];
    out.reserve(idx.size() * n);
    for (int64_t c : idx) out.insert(out.end(), row(c), row(c) + n);
  }
  // Prefix closure, from the top: every context (w_1..w_{n-1}) listed as an (n-1)-gram, as in a
  // Kneser-Ney model (KenLM's trie requires it). An added context's own suffix is the context of
  // a listed (n-1)-gram, so it is added at the next step down: both closures hold at the end.
  for (int n = order; n >= 3; --n) {
    std::vector<int32_t> pre;
    const std::vector<int32_t>& g = m.grams[n];
    pre.reserve(g.size() / n * (n - 1));
    for (size_t e = 0; e < g.size(); e += n) pre.insert(pre.end(), &g[e], &g[e] + n - 1);
    pre = sorted_rows(pre, n - 1);
    std::vector<int32_t> lower = sorted_rows(m.grams[n - 1], n - 1);
    std::vector<int32_t> merged;
    size_t i = 0, j = 0;
    const int k = n - 1;
    while (i < pre.size()) {
      const int32_t* a = &pre[i];
      while (j < lower.size() && std::lexicographical_compare(&lower[j], &lower[j] + k, a, a + k))
        j += k;
      if (j >= lower.size() || !std::equal(a, a + k, &lower[j]))
        merged.insert(merged.end(), a, a + k);
      i += k;
    }
    lower.insert(lower.end(), merged.begin(), merged.end());
    m.grams[n - 1] = std::move(lower);
  }
  for (int n = 1; n <= order; ++n) m.total += static_cast<int64_t>(m.grams[n].size()) / n;
  return m;
}

std::string name_of(const Model& m, int32_t id) {
  return id == m.v ? "<s>" : id == m.v + 1 ? "</s>" : id == m.v + 2 ? "<unk>" : word_name(id);
}

void write_arpa(const Model& m, const std::string& path, uint64_t seed) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 22);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> p(-6.0, -0.1), b(-1.5, 0.0);
  std::fprintf(f, "\\data\\\n");
  for (int n = 1; n <= m.order; ++n) std::fprintf(f, "ngram %d=%zu\n", n, m.grams[n].size() / n);
  for (int n = 1; n <= m.order; ++n) {
    std::fprintf(f, "\n\\%d-grams:\n", n);
    const std::vector<int32_t>& g = m.grams[n];
    for (size_t e = 0; e < g.size(); e += n) {
      std::fprintf(f, "%.6f", n == 1 && g[e] == m.v ? -99.0 : p(rng));
      for (int i = 0; i < n; ++i) std::fprintf(f, "\t%s", name_of(m, g[e + i]).c_str());
      if (n < m.order) std::fprintf(f, "\t%.6f", b(rng));
      std::fputc('\n', f);
    }
  }
  std::fprintf(f, "\n\\end\\\n");
  if (std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

// Queries, 5 ids each: context (4, oldest first) then the word.
std::vector<int32_t> make_queries(const Model& m, int64_t q, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Zipf zipf(m.v);
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(q) * 5);
  for (int64_t i = 0; i < q; ++i) {
    int32_t k[5];
    for (int32_t& x : k) x = zipf(rng, m.v);
    if (i % 2 == 0) {
      const int n = 2 + static_cast<int>(rng() % (m.order - 1));
      const std::vector<int32_t>& g = m.grams[n];
      const size_t e = (rng() % (g.size() / n)) * n;
      for (int j = 0; j < n; ++j) k[5 - n + j] = g[e + j];
    }
    out.insert(out.end(), k, k + 5);
  }
  return out;
}

struct Result {  // one phase, sent from the child through a pipe
  double load_s = 0, peak = 0, rss_after = 0, rss_touched = 0, first_ns = 0, ns = 0, trie_s = 0;
  double pss2 = 0;  // proportional set size per n-gram while a second process maps the file
  uint64_t hash = 0;
  int ok = 0;
};

template <typename F>
Result in_child(F f) {
  int fd[2];
  if (pipe(fd) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Result r = f();
    r.ok = 1;
    if (write(fd[1], &r, sizeof(r)) != static_cast<ssize_t>(sizeof(r))) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Result r;
  const ssize_t n = read(fd[0], &r, sizeof(r));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != static_cast<ssize_t>(sizeof(r)) || !r.ok) {
    std::fprintf(stderr, "bench_lm: a measurement child failed (status %d)\n", status);
    std::exit(1);
  }
  return r;
}

// ns per score over all queries; the hash of every score's bits.
template <typename Lm>
double run_queries(const Lm& lm, const std::vector<int32_t>& q, uint64_t* hash) {
  Timer t;
  uint64_t h = 0xcbf29ce484222325ULL;
  const size_t n = q.size() / 5;
  for (size_t i = 0; i < n; ++i) {
    const double s = lm.log10_prob(&q[i * 5], 4, q[i * 5 + 4]);
    uint64_t bits;
    std::memcpy(&bits, &s, 8);
    h = (h ^ bits) * 0x100000001b3ULL;
  }
  *hash = h;
  return 1e9 * t.seconds() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  std::string size_list = "1000000,10000000";
  int order = 5;
  int64_t queries = 1000000;
  std::string dir_arg, kenlm;
  bool keep = false, csv = false, no_check = false;
  ds2::po::options_description desc("bench_lm");
  // clang-format off
  desc.add_options()("help,h", "usage")
      ("ngrams", ds2::po::value(&size_list)->default_value(size_list),
       "model sizes in n-grams, comma-separated")
      ("order", ds2::po::value(&order)->default_value(order), "n-gram order (2..8)")
      ("queries", ds2::po::value(&queries)->default_value(queries), "scores timed per model")
      ("dir", ds2::po::value(&dir_arg), "where the models are written (default: a temp dir)")
      ("keep", ds2::po::bool_switch(&keep), "keep the models")
      ("csv", ds2::po::bool_switch(&csv), "print the table as CSV")
      ("no-check", ds2::po::bool_switch(&no_check), "skip the ARPA vs compiled comparison")
      ("kenlm-build-binary", ds2::po::value(&kenlm),
       "KenLM's build_binary, to compare its trie size");
  // clang-format on
  if (!ds2::bench::parse_options(argc, argv, desc)) return 0;
  const bool check = !no_check;
  std::vector<int64_t> sizes;
  for (int x : ds2::test::parse_int_list(size_list)) sizes.push_back(x);
  for (int64_t n : sizes)
    if (n < 10000) {  // make_model's vocabulary alone is 2,003 unigrams
      std::fprintf(stderr, "bench_lm: --ngrams %lld: each size must be at least 10000\n",
                   static_cast<long long>(n));
      return 2;
    }
  if (order < 2 || order > 8) {
    std::fprintf(stderr, "bench_lm: --order 2..8\n");
    return 2;
  }
  ds2::test::TempDir tmp("ds2-bench-lm");
  const std::string dir = dir_arg.empty() ? tmp.path() : dir_arg;
  std::printf("# bench_lm: order %d, %lld queries (4-word contexts), load average ", order,
              static_cast<long long>(queries));
  {
    std::ifstream la("/proc/loadavg");
    std::string l1;
    la >> l1;
    std::printf("%s\n", l1.c_str());
  }
  if (csv)
    std::printf(
        "ngrams,vocab,arpa_mb,arpa_load_s,arpa_peak_b,arpa_rss_b,arpa_ns,compile_s,"
        "compile_peak_b,bin_b,open_ms,open_rss_kb,touched_rss_b,first_ns,bin_ns,"
        "x_arpa,trie_ms,check,kenlm_trie_b,pss2_b\n");
  int failed = 0;
  for (int64_t n_total : sizes) {
    Timer gen;
    const Model m = make_model(n_total, order, 42 + static_cast<uint64_t>(n_total));
    const std::string arpa = dir + "/lm" + std::to_string(n_total) + ".arpa";
    const std::string bin = dir + "/lm" + std::to_string(n_total) + ".bin";
    write_arpa(m, arpa, 7);
    const std::vector<int32_t> q = make_queries(m, queries, 9);
    const double arpa_mb = static_cast<double>(std::filesystem::file_size(arpa)) / 1e6;
    const double nn = static_cast<double>(m.total);
    const double gen_s = gen.seconds();

    const Result ra = in_child([&] {
      Result r;
      reset_peak();
      const double rss0 = status_bytes("VmRSS");
      Timer t;
      const auto lm = decode::ArpaLm::load(arpa);
      r.load_s = t.seconds();
      r.peak = (status_bytes("VmHWM") - rss0) / nn;
      r.rss_after = (status_bytes("VmRSS") - rss0) / nn;
      r.ns = run_queries(lm, q, &r.hash);
      return r;
    });
    const Result rc = in_child([&] {
      Result r;
      reset_peak();
      const double rss0 = status_bytes("VmRSS");
      Timer t;
      decode::compile_arpa_lm(arpa, bin);
      r.load_s = t.seconds();
      r.peak = (status_bytes("VmHWM") - rss0) / nn;
      return r;
    });
    const double bin_b = static_cast<double>(std::filesystem::file_size(bin)) / nn;
    const Result rb = in_child([&] {
      Result r;
      // The second "rank": forked before the file is mapped, it maps and touches the same file
      // when told to, so the two processes share its page cache pages.
      int go[2], done[2];
      if (pipe(go) != 0 || pipe(done) != 0) std::exit(1);
      const pid_t other = fork();
      char c = 0;
      if (other == 0) {
        if (read(go[0], &c, 1) != 1) _exit(1);
        const decode::CompiledLm lm2(bin);
        lm2.verify();
        if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
        _exit(0);
      }
      const double rss0 = status_bytes("VmRSS");
      Timer t;
      const decode::CompiledLm lm(bin);
      r.load_s = t.seconds();
      const double rss1 = status_bytes("VmRSS");
      r.rss_after = rss1 - rss0;  // bytes, not per n-gram
      uint64_t h1 = 0;
      r.first_ns = run_queries(lm, q, &h1);
      r.ns = run_queries(lm, q, &r.hash);
      // Per n-gram above the RSS right after opening.
      r.rss_touched = (status_bytes("VmRSS") - rss1) / nn;  // the pages the queries touched
      lm.verify();                                          // reads every byte of the mapping
      r.peak = (status_bytes("VmRSS") - rss1) / nn;         // every page resident
      if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) std::exit(1);
      r.pss2 = mapping_pss(bin) / nn;
      if (write(go[1], &c, 1) != 1) std::exit(1);
      waitpid(other, nullptr, 0);
      for (int f : {go[0], go[1], done[0], done[1]}) close(f);
      t.reset();
      (void)lm.vocabulary_trie();
      r.trie_s = t.seconds();
      return r;
    });
    double kenlm_b = -1;
    if (!kenlm.empty()) {
      const std::string kb = dir + "/lm" + std::to_string(n_total) + ".kenlm";
      const std::string cmd = kenlm + " trie " + arpa + " " + kb + " > " + kb + ".log 2>&1";
      if (std::system(cmd.c_str()) == 0)
        kenlm_b = static_cast<double>(std::filesystem::file_size(kb)) / nn;
      else
        std::fprintf(stderr, "bench_lm: %s failed (see %s.log)\n", cmd.c_str(), kb.c_str());
      if (!keep) std::filesystem::remove(kb);
    }
    const bool same = ra.hash == rb.hash;
    if (check && !same) ++failed;
    if (csv) {
      std::printf(
          "%lld,%d,%.1f,%.3f,%.1f,%.1f,%.1f,%.3f,%.1f,%.2f,%.3f,%.0f,%.2f,%.1f,%.1f,%.3f,"
          "%.1f,%s,%.2f,%.2f\n",
          static_cast<long long>(m.total), m.v + 3, arpa_mb, ra.load_s, ra.peak, ra.rss_after,
          ra.ns, rc.load_s, rc.peak, bin_b, 1e3 * rb.load_s, rb.rss_after / 1024, rb.peak,
          rb.first_ns, rb.ns, rb.ns / ra.ns, 1e3 * rb.trie_s, same ? "same" : "DIFFERENT", kenlm_b,
          rb.pss2);
    } else {
      std::printf("\n%lld n-grams (orders:", static_cast<long long>(m.total));
      for (int n = 1; n <= order; ++n) std::printf(" %zu", m.grams[n].size() / n);
      std::printf("), V %d, ARPA %.0f MB (generated in %.1f s)\n", m.v + 3, arpa_mb, gen_s);
      std::printf(
          "  ArpaLm    load %.2f s, peak RSS %.1f B/n-gram, RSS after load %.1f B/n-gram, "
          "%.0f ns/score\n",
          ra.load_s, ra.peak, ra.rss_after, ra.ns);
      std::printf("  compile   %.2f s (%.2fx ArpaLm load), peak RSS %.1f B/n-gram\n", rc.load_s,
                  rc.load_s / ra.load_s, rc.peak);
      std::printf(
          "  compiled  %.2f B/n-gram on disk, open %.3f ms (RSS +%.0f KiB), "
          "%.0f ns/score first pass, %.0f ns/score warm (%.2fx ArpaLm), "
          "RSS after queries %.2f B/n-gram, after every page %.2f B/n-gram (PSS %.2f while "
          "a second process maps it too), "
          "vocabulary trie %.0f ms\n",
          bin_b, 1e3 * rb.load_s, rb.rss_after / 1024, rb.first_ns, rb.ns, rb.ns / ra.ns,
          rb.rss_touched, rb.peak, rb.pss2, 1e3 * rb.trie_s);
      if (kenlm_b > 0)
        std::printf("  KenLM     build_binary trie: %.2f B/n-gram on disk\n", kenlm_b);
      std::printf("  check     %s\n", same ? "scores bit-identical" : "SCORES DIFFER");
    }
    std::fflush(stdout);
    if (!keep) {
      std::filesystem::remove(arpa);
      std::filesystem::remove(bin);
    }
  }
  return failed ? 1 : 0;
}
